package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestChecklistRevocation is §7 items 39-51: introspection, revocation,
// logout and token integrity.
func TestChecklistRevocation(t *testing.T) {
	ts := peopleServer(t, nil)
	admin := ts.adminToken()
	ts.register("wendy")
	introspect := func(bearer, token string) *response {
		return ts.jsonReq("POST", "/api/v1/auth/introspect", bearer, map[string]any{"token": token})
	}
	revoke := func(bearer, token string) *response {
		return ts.jsonReq("POST", "/api/v1/auth/revoke", bearer, map[string]any{"token": token})
	}

	t.Run("39_introspect_active", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		r := introspect(admin, tok.Access)
		status(t, r, 200)
		if r.JSON["active"] != true || r.str("sub") == "" || r.JSON["exp"] == nil || r.str("scope") == "" {
			t.Fatalf("body: %s", r.Body)
		}
		rr := introspect(admin, tok.Refresh)
		if rr.JSON["active"] != true || rr.str("token_type") != "refresh_token" {
			t.Fatalf("refresh token: %s", rr.Body)
		}
	})
	t.Run("40_introspect_garbage_inactive", func(t *testing.T) {
		r := introspect(admin, "garbage")
		status(t, r, 200)
		if r.JSON["active"] != false {
			t.Fatalf("body: %s", r.Body)
		}
	})
	t.Run("41_introspect_without_bearer_401", func(t *testing.T) {
		status(t, introspect("", "garbage"), 401)
	})
	t.Run("42_revoke_own_access_token", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		r := revoke(tok.Access, tok.Access)
		status(t, r, 200)
		if r.str("message") != "Token revoked successfully" {
			t.Fatalf("body: %s", r.Body)
		}
		status(t, ts.jsonReq("GET", "/api/v1/users/me", tok.Access, nil), 401)
		if r := introspect(admin, tok.Access); r.JSON["active"] != false {
			t.Fatalf("revoked token introspects active: %s", r.Body)
		}
	})
	t.Run("43_revoke_refresh_token", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		status(t, revoke(tok.Access, tok.Refresh), 200)
		status(t, ts.refreshOriginal(tok.Refresh), 401)
	})
	t.Run("44_revoke_without_bearer_401", func(t *testing.T) {
		status(t, revoke("", "garbage"), 401)
	})
	t.Run("45_logout", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		other := ts.loginOK("wendy")
		r := ts.jsonReq("POST", "/api/v1/auth/logout", tok.Access, nil)
		status(t, r, 200)
		if r.str("message") != "Logged out successfully" || asFloat(r.JSON["sessions_terminated"]) != 1 {
			t.Fatalf("body: %s", r.Body)
		}
		status(t, ts.jsonReq("GET", "/api/v1/users/me", tok.Access, nil), 401)
		status(t, ts.refreshOriginal(tok.Refresh), 401)
		// Another device's session is not this logout's business.
		status(t, ts.jsonReq("GET", "/api/v1/users/me", other.Access, nil), 200)
		ts.waitEvent("auth.logout", "")
	})
	t.Run("46_logout_without_bearer_401", func(t *testing.T) {
		status(t, ts.jsonReq("POST", "/api/v1/auth/logout", "", nil), 401)
	})
	t.Run("47_refresh_after_logout_fails", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		rotated := ts.refreshOriginal(tok.Refresh)
		status(t, rotated, 200)
		status(t, ts.jsonReq("POST", "/api/v1/auth/logout", rotated.str("access_token"), nil), 200)
		status(t, ts.refreshOriginal(rotated.str("refresh_token")), 401)
	})
	t.Run("48_jtis_unique", func(t *testing.T) {
		seen := map[string]bool{}
		for range 100 {
			tok := ts.token(ts.AdminID, ts.Secret, nil)
			jti, _ := jwtClaims(t, tok)["jti"].(string)
			distinct := map[rune]bool{}
			for _, c := range jti {
				distinct[c] = true
			}
			if len(jti) < 16 || len(distinct) < 8 || seen[jti] {
				t.Fatalf("jti %q (seen %v)", jti, seen[jti])
			}
			seen[jti] = true
		}
	})
	t.Run("49_tampered_token_rejected", func(t *testing.T) {
		tok := ts.loginOK("wendy").Access
		parts := strings.Split(tok, ".")
		var claims map[string]any
		b, _ := base64.RawURLEncoding.DecodeString(parts[1])
		json.Unmarshal(b, &claims)
		claims["scopes"] = []string{"admin:users", "admin:system"}
		claims["scope"] = "admin:users admin:system"
		nb, _ := json.Marshal(claims)
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(nb) + "." + parts[2]
		status(t, ts.jsonReq("GET", "/api/v1/users", forged, nil), 401)
		resigned := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
		status(t, ts.jsonReq("GET", "/api/v1/users/me", resigned, nil), 401)
	})
	t.Run("50_audience_and_type", func(t *testing.T) {
		// Adapted: audiences are decided at issue time (RFC 8707): a
		// resource the client may not address is refused.
		id, secret := ts.createClient(map[string]any{"name": "aud", "scope_ids": []string{"trade:read"},
			"audiences": []string{"https://mt5.example.com"}})
		r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://other.example.com"}}, id, secret)
		status(t, r, 400)
		tok := ts.token(id, secret, nil)
		if aud := jwtClaims(t, tok)["aud"]; aud != "https://mt5.example.com" {
			t.Fatalf("aud %v", aud)
		}
		// Type: a service token is not a user token.
		status(t, ts.jsonReq("GET", "/api/v1/users/me", tok, nil), 401)
	})
	t.Run("51_revocation_list", func(t *testing.T) {
		tok := ts.loginOK("wendy")
		status(t, revoke(tok.Access, tok.Access), 200)
		jti := jwtClaims(t, tok.Access)["jti"].(string)
		r := ts.do("GET", "/oauth2/revocations", nil, nil)
		status(t, r, 200)
		if !strings.Contains(string(r.Body), jti) {
			t.Fatalf("jti %s not in revocation list", jti)
		}
	})
}
