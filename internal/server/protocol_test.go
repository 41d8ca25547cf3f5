package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMetadata(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, path := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		r := ts.do("GET", path, nil, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d", path, r.Status)
		}
		want := map[string]string{
			"issuer": ts.URL, "token_endpoint": ts.URL + "/oauth2/token", "jwks_uri": ts.URL + "/.well-known/jwks.json",
			"introspection_endpoint": ts.URL + "/oauth2/introspect", "revocation_endpoint": ts.URL + "/oauth2/revoke",
		}
		for k, v := range want {
			if r.str(k) != v {
				t.Errorf("%s %s = %q, want %q", path, k, r.str(k), v)
			}
		}
		grants, _ := r.JSON["grant_types_supported"].([]any)
		if len(grants) == 0 || !strings.Contains(string(r.Body), `"client_credentials"`) {
			t.Errorf("grant_types_supported %v", grants)
		}
		if strings.Contains(string(r.Body), `"implicit"`) || strings.Contains(string(r.Body), `"none"`) && !strings.Contains(string(r.Body), "authorization_code") {
			t.Errorf("metadata advertises unsupported features: %s", r.Body)
		}
		if !strings.Contains(string(r.Body), `"ES256"`) {
			t.Errorf("signing algorithms missing: %s", r.Body)
		}
	}
}

func TestIntrospection(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "svc", "scope_ids": []string{"trade:read"}})
	rs, rsSecret := ts.createClient(map[string]any{"name": "resource-server", "scope_ids": []string{"market:data"}})
	live := ts.token(id, secret, nil)
	revoked := ts.token(id, secret, nil)
	if r := ts.form("/oauth2/revoke", url.Values{"token": {revoked}}, id, secret); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	introspect := func(tok string) *response {
		return ts.form("/oauth2/introspect", url.Values{"token": {tok}}, rs, rsSecret)
	}
	r := introspect(live)
	if r.Status != 200 || r.JSON["active"] != true || r.str("client_id") != id || r.str("scope") != "trade:read" || r.str("sub") != id || r.JSON["exp"] == nil {
		t.Fatalf("live token: %d %s", r.Status, r.Body)
	}
	for name, tok := range map[string]string{
		"garbage": "not-a-token", "revoked": revoked,
		"tampered": live[:len(live)-4] + "AAAA", "foreign": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
	} {
		r := introspect(tok)
		if r.Status != 200 || string(r.Body) != "{\"active\":false}\n" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := ts.form("/oauth2/introspect", url.Values{"token": {live}}, "", ""); r.Status != 401 {
		t.Errorf("unauthenticated introspection: %d", r.Status)
	}
	if r := ts.form("/oauth2/introspect", url.Values{"token": {live}}, rs, "pms_wrong"); r.Status != 401 || r.str("error") != "invalid_client" {
		t.Errorf("wrong secret: %d %s", r.Status, r.Body)
	}
	// Disabling the client makes its tokens inactive at once.
	admin := ts.adminToken()
	if r := ts.jsonReq("PUT", "/api/v1/service-clients/"+id, admin, map[string]any{"is_active": false}); r.Status != 200 {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if r := introspect(live); r.JSON["active"] != false {
		t.Errorf("token of a disabled client is still active: %s", r.Body)
	}
	// The original's bearer endpoint requires admin:tokens.
	if r := ts.jsonReq("POST", "/api/v1/auth/introspect", ts.token(rs, rsSecret, nil), map[string]string{"token": live}); r.Status != 403 || r.str("error") != "insufficient_scope" {
		t.Errorf("introspect without admin:tokens: %d %s", r.Status, r.Body)
	}
	r = ts.jsonReq("POST", "/api/v1/auth/introspect", admin, map[string]string{"token": ts.token(rs, rsSecret, nil)})
	if r.Status != 200 || r.JSON["active"] != true || r.str("token_type") != "service_token" {
		t.Errorf("original introspect: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("POST", "/api/v1/auth/introspect", "", map[string]string{"token": live}); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("original introspect without bearer: %d %v", r.Status, r.Header)
	}
}

func TestRevocation(t *testing.T) {
	ts := newTestServer(t, nil)
	a, aSecret := ts.createClient(map[string]any{"name": "svc-a", "scope_ids": []string{"trade:read"}})
	b, bSecret := ts.createClient(map[string]any{"name": "svc-b", "scope_ids": []string{"trade:read"}})
	tokA := ts.token(a, aSecret, nil)
	if r := ts.form("/oauth2/revoke", url.Values{"token": {tokA}}, b, bSecret); r.Status != 400 || r.str("error") != "unauthorized_client" {
		t.Fatalf("revoke another client's token: %d %s", r.Status, r.Body)
	}
	if r := ts.form("/oauth2/introspect", url.Values{"token": {tokA}}, b, bSecret); r.JSON["active"] != true {
		t.Fatal("a refused revocation still revoked the token")
	}
	if r := ts.form("/oauth2/revoke", url.Values{"token": {"garbage"}}, a, aSecret); r.Status != 200 {
		t.Errorf("unknown token: %d", r.Status)
	}
	if r := ts.form("/oauth2/revoke", url.Values{"token": {tokA}}, a, aSecret); r.Status != 200 {
		t.Fatalf("owner revoke: %d %s", r.Status, r.Body)
	}
	if r := ts.form("/oauth2/introspect", url.Values{"token": {tokA}}, b, bSecret); r.JSON["active"] != false {
		t.Error("revoked token still active")
	}
	// A revoked token is no longer a bearer credential anywhere.
	if r := ts.jsonReq("GET", "/api/v1/service-clients", tokA, nil); r.Status != 401 {
		t.Errorf("revoked bearer accepted: %d", r.Status)
	}
	// The revocation list endpoint serves the jti until it expires.
	r := ts.do("GET", "/oauth2/revocations?since=0", nil, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), decodeClaims(t, tokA)["jti"].(string)) {
		t.Errorf("revocation list: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", "/oauth2/revocations?since=-4", nil, nil); r.Status != 400 {
		t.Errorf("bad cursor: %d", r.Status)
	}
	// The original endpoint: own token OK, another's 403, admin:tokens any.
	tokB := ts.token(b, bSecret, nil)
	if r := ts.jsonReq("POST", "/api/v1/auth/revoke", ts.token(a, aSecret, nil), map[string]string{"token": tokB}); r.Status != 403 {
		t.Errorf("original revoke of another's token: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("POST", "/api/v1/auth/revoke", ts.adminToken(), map[string]string{"token": tokB}); r.Status != 200 || r.str("message") != "Token revoked successfully" {
		t.Errorf("admin revoke: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("POST", "/api/v1/auth/revoke", "", map[string]string{"token": tokB}); r.Status != 401 {
		t.Errorf("revoke without bearer: %d", r.Status)
	}
}

func TestKeyRotation(t *testing.T) {
	ts := newTestServer(t, nil)
	admin := ts.adminToken()
	oldKid := decodeHeaderKid(t, admin)
	r := ts.jsonReq("POST", "/api/v1/admin/keys/rotate", admin, map[string]any{"delay_seconds": 3600})
	if r.Status != 201 || r.str("state") != "next" {
		t.Fatalf("rotate with delay: %d %s", r.Status, r.Body)
	}
	newKid := r.str("kid")
	jwks := string(ts.do("GET", "/.well-known/jwks.json", nil, nil).Body)
	if !strings.Contains(jwks, oldKid) || !strings.Contains(jwks, newKid) {
		t.Fatalf("JWKS must publish both keys: %s", jwks)
	}
	if kid := decodeHeaderKid(t, ts.adminToken()); kid != oldKid {
		t.Fatalf("the new key signs before its delay: %s", kid)
	}
	r = ts.jsonReq("POST", "/api/v1/admin/keys/rotate", admin, map[string]any{"delay_seconds": 0})
	if r.Status != 201 || r.str("state") != "active" {
		t.Fatalf("rotate now: %d %s", r.Status, r.Body)
	}
	nowKid := r.str("kid")
	fresh := ts.adminToken()
	if kid := decodeHeaderKid(t, fresh); kid != nowKid {
		t.Fatalf("signing kid %s, want %s", kid, nowKid)
	}
	jwks = string(ts.do("GET", "/.well-known/jwks.json", nil, nil).Body)
	if !strings.Contains(jwks, oldKid) {
		t.Error("retired key left the JWKS while its tokens live")
	}
	if strings.Contains(jwks, newKid) {
		t.Error("a replaced pending key is still published")
	}
	// Tokens signed by the retired key still verify.
	if r := ts.jsonReq("GET", "/api/v1/admin/keys", admin, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"retired"`) {
		t.Errorf("list keys with the old token: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", "/api/v1/admin/keys", ts.token(ts.AdminID, ts.Secret, url.Values{"scope": {"admin:clients"}}), nil); r.Status != 403 {
		t.Errorf("keys without admin:system: %d", r.Status)
	}
}

func decodeHeaderKid(t *testing.T, tok string) string {
	t.Helper()
	p, err := parseHeader(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOperations(t *testing.T) {
	ts := newTestServer(t, func(c serverConfig) { c.CORSOrigins = []string{"https://app.example"} })
	r := ts.do("GET", "/health", nil, nil)
	if r.Status != 200 || r.str("status") != "healthy" || r.str("service") != "permiso-auth" {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "X-XSS-Protection": "1; mode=block"} {
		if r.Header.Get(k) != v {
			t.Errorf("%s = %q", k, r.Header.Get(k))
		}
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("no request id")
	}
	if r := ts.do("GET", "/health", http.Header{"X-Request-ID": {"abc-123"}}, nil); r.Header.Get("X-Request-ID") != "abc-123" {
		t.Error("request id not echoed")
	}
	big := strings.Repeat("a", 2<<20)
	if r := ts.do("POST", "/oauth2/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(big)); r.Status != 413 && r.Status != 400 {
		t.Errorf("oversized body: %d", r.Status)
	}
	if r := ts.do("GET", "/health", http.Header{"X-Big": {strings.Repeat("b", 64<<10)}}, nil); r.Status != 431 {
		t.Errorf("oversized header: %d", r.Status)
	}
	if r := ts.do("GET", "/nope", nil, nil); r.Status != 404 || r.str("error") != "not_found" {
		t.Errorf("unknown route: %d %s", r.Status, r.Body)
	}
	pre := http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"}}
	if r := ts.do("OPTIONS", "/oauth2/token", pre, nil); r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("allowed preflight: %d %v", r.Status, r.Header)
	}
	pre.Set("Origin", "https://evil.com")
	if r := ts.do("OPTIONS", "/oauth2/token", pre, nil); r.Header.Get("Access-Control-Allow-Origin") != "" || r.Status == 204 {
		t.Errorf("evil preflight allowed: %d %v", r.Status, r.Header)
	}
	_ = time.Second
}

func TestOriginalServiceToken(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "svc", "scope_ids": []string{"trade:read", "market:data"}, "access_token_lifetime": 900})
	r := ts.form("/api/v1/auth/service-token", url.Values{"client_id": {id}, "client_secret": {secret}, "scope": {"trade:read"}}, "", "")
	if r.Status != 200 || r.str("scope") != "trade:read" || r.JSON["expires_in"] != float64(900) {
		t.Fatalf("service-token: %d %s", r.Status, r.Body)
	}
	for _, k := range []string{"refresh_token", "session_id"} {
		if v, ok := r.JSON[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	r = ts.form("/api/v1/auth/service-token", url.Values{"client_id": {id}, "client_secret": {"pms_wrong"}}, "", "")
	if r.Status != 401 || r.str("error") != "invalid_client" || r.JSON["status_code"] != float64(401) || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("wrong secret: %d %s %v", r.Status, r.Body, r.Header)
	}
	r = ts.form("/api/v1/auth/service-token", url.Values{"client_id": {"ghost"}, "client_secret": {"x"}}, "", "")
	if r.Status != 401 || strings.Contains(string(r.Body), "ghost") {
		t.Errorf("unknown client reveals itself: %d %s", r.Status, r.Body)
	}
}

// Users of the same first-party client share its client_id; a user may
// still revoke only their own tokens.
func TestUserRevokesOnlyOwnTokens(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.register("alice")
	ts.register("bobby")
	alice, bob := ts.loginOK("alice"), ts.loginOK("bobby")
	if r := ts.jsonReq("POST", "/api/v1/auth/revoke", bob.Access, map[string]string{"token": alice.Access}); r.Status != 403 {
		t.Fatalf("bob revoked alice's token: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", "/api/v1/users/me", alice.Access, nil); r.Status != 200 {
		t.Fatalf("alice's token stopped working: %d", r.Status)
	}
	other := ts.loginOK("alice")
	if r := ts.jsonReq("POST", "/api/v1/auth/revoke", alice.Access, map[string]string{"token": other.Access}); r.Status != 200 {
		t.Fatalf("alice could not revoke her own token: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", "/api/v1/users/me", other.Access, nil); r.Status != 401 {
		t.Fatalf("revoked token still works: %d", r.Status)
	}
}
