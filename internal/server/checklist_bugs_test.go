package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestOriginalBugs shows each bug of permiso-original.md §8 that an HTTP
// client can observe is absent. Subtests are named after the bug number.
func TestOriginalBugs(t *testing.T) {
	ts := peopleServer(t, nil)
	admin := ts.adminToken()
	aID := ts.register("amy")
	ts.register("ben")
	amy, ben := ts.loginOK("amy"), ts.loginOK("ben")
	ts.createUser("boss", "admin")
	boss := ts.loginOK("boss")

	t.Run("bug01_refresh_token_is_not_a_bearer", func(t *testing.T) {
		for _, p := range []string{"/api/v1/users/me", "/api/v1/sessions", "/api/v1/users"} {
			status(t, ts.jsonReq("GET", p, amy.Refresh, nil), 401)
		}
	})
	t.Run("bug02_no_self_escalation", func(t *testing.T) {
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+aID, amy.Access, map[string]any{"role_ids": []string{"admin"}}), 403)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+aID, amy.Access, map[string]any{"is_verified": true}), 403)
		ts.waitEvent("user.self_escalation_denied", aID)
	})
	t.Run("bug03_revoke_only_own_tokens", func(t *testing.T) {
		// Between users of the same first-party client: the token's
		// subject decides, not only its client.
		amyToo := ts.loginOK("amy")
		for _, tok := range []string{amyToo.Refresh, amyToo.Access} {
			r := ts.jsonReq("POST", "/api/v1/auth/revoke", ben.Access, map[string]any{"token": tok})
			status(t, r, 403)
			if r.str("error") != "forbidden" {
				t.Fatalf("body: %s", r.Body)
			}
		}
		status(t, ts.jsonReq("GET", "/api/v1/users/me", amyToo.Access, nil), 200)
		rotated := ts.refreshOriginal(amyToo.Refresh)
		status(t, rotated, 200)
		ts.waitEvent("token.revoke_denied", "")
		// Amy revokes her own; an administrator with admin:tokens any.
		status(t, ts.jsonReq("POST", "/api/v1/auth/revoke", amy.Access, map[string]any{"token": rotated.str("refresh_token")}), 200)
		status(t, ts.refreshOriginal(rotated.str("refresh_token")), 401)
		benToo := ts.loginOK("ben")
		status(t, ts.jsonReq("POST", "/api/v1/auth/revoke", admin, map[string]any{"token": benToo.Refresh}), 200)
		status(t, ts.refreshOriginal(benToo.Refresh), 401)
		// Between clients.
		x, xs := ts.createClient(map[string]any{"name": "client-x", "scope_ids": []string{"trade:read"}})
		y, ys := ts.createClient(map[string]any{"name": "client-y", "scope_ids": []string{"trade:read"}})
		xt, yt := ts.token(x, xs, nil), ts.token(y, ys, nil)
		status(t, ts.jsonReq("POST", "/api/v1/auth/revoke", yt, map[string]any{"token": xt}), 403)
		r := ts.form("/oauth2/introspect", url.Values{"token": {xt}}, ts.AdminID, ts.Secret)
		if r.JSON["active"] != true {
			t.Fatalf("another client revoked x's token: %s", r.Body)
		}
		// A user's refresh token cannot be revoked by another client.
		status(t, ts.form("/oauth2/revoke", url.Values{"token": {ben.Refresh}}, x, xs), 400)
		status(t, ts.refreshOriginal(ben.Refresh), 200)
	})
	t.Run("bug04_revocation_honoured_everywhere", func(t *testing.T) {
		tok := ts.loginOK("amy")
		status(t, ts.jsonReq("POST", "/api/v1/auth/revoke", tok.Access, map[string]any{"token": tok.Refresh}), 200)
		status(t, ts.refreshOriginal(tok.Refresh), 401)
		// Revoking the refresh token ends its grant, the session, and so
		// the access tokens issued with it (RFC 7009 §2.1).
		r := ts.form("/oauth2/introspect", url.Values{"token": {tok.Access}}, ts.AdminID, ts.Secret)
		if r.JSON["active"] != false {
			t.Fatalf("the access token of a revoked refresh token introspects active: %s", r.Body)
		}
		tok = ts.loginOK("amy")
		status(t, ts.jsonReq("POST", "/api/v1/auth/revoke", tok.Access, map[string]any{"token": tok.Access}), 200)
		r = ts.form("/oauth2/introspect", url.Values{"token": {tok.Access}}, ts.AdminID, ts.Secret)
		if r.JSON["active"] != false {
			t.Fatalf("revoked token introspects active: %s", r.Body)
		}
	})
	t.Run("bug05_ending_a_session_ends_its_tokens", func(t *testing.T) {
		tok := ts.loginOK("amy")
		status(t, ts.jsonReq("DELETE", "/api/v1/sessions/"+tok.Session, tok.Access, nil), 200)
		status(t, ts.jsonReq("GET", "/api/v1/users/me", tok.Access, nil), 401)
	})
	t.Run("bug06_cors_does_not_reflect_any_origin", func(t *testing.T) {
		r := ts.do("GET", "/health", http.Header{"Origin": {"https://evil.com"}}, nil)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("origin reflected: %v", r.Header)
		}
	})
	t.Run("bug07_errors_leak_nothing", func(t *testing.T) {
		for _, r := range []*response{
			ts.do("POST", "/api/v1/users/register", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{"username":`)),
			ts.do("POST", "/api/v1/auth/refresh", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`[1,2]`)),
			ts.jsonReq("PUT", "/api/v1/users/"+aID+"/roles", admin, map[string]any{"role_ids": []string{"'; DROP TABLE roles;--"}}),
			ts.jsonReq("GET", "/api/v1/roles/permissions/user/%00", admin, nil),
		} {
			noInternals(t, r)
		}
	})
	t.Run("bug08_unknown_client_not_named", func(t *testing.T) {
		r := ts.form("/api/v1/auth/service-token", url.Values{"client_id": {"ghost-client"}, "client_secret": {"x"}}, "", "")
		if r.Status != 401 || strings.Contains(string(r.Body), "ghost-client") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("bug09_password_change_ends_other_sessions", func(t *testing.T) {
		ts.register("cole")
		a, b := ts.loginOK("cole"), ts.loginOK("cole")
		id := ts.jsonReq("GET", "/api/v1/users/me", a.Access, nil).str("id")
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+id+"/password", admin, map[string]any{"new_password": "Other!Pass-321"}), 200)
		status(t, ts.jsonReq("GET", "/api/v1/users/me", a.Access, nil), 401) // an admin's change ends them all
		status(t, ts.refreshOriginal(b.Refresh), 401)
	})
	t.Run("bug13_no_openapi_in_production", func(t *testing.T) {
		status(t, ts.do("GET", "/openapi.json", nil, nil), 404)
	})
	t.Run("bug14_login_rate_limited", func(t *testing.T) {
		small := newTestServer(t, func(c *server.Config) { c.AuthFailuresPerMin = 3 })
		var last *response
		for range 6 {
			last = small.login("nobody", "Wrong!Password-1", nil)
		}
		if last.Status != 429 || last.Header.Get("Retry-After") == "" {
			t.Fatalf("no 429 after repeated failures: %d %v", last.Status, last.Header)
		}
	})
	t.Run("bug15_audience_in_user_tokens", func(t *testing.T) {
		if aud := jwtClaims(t, amy.Access)["aud"]; aud != ts.URL {
			t.Fatalf("aud %v", aud)
		}
	})
	t.Run("bug16_17_18_uuid_ids_and_reachable_routes", func(t *testing.T) {
		for _, p := range []string{"/api/v1/roles", "/api/v1/roles/stats", "/api/v1/roles/defaults", "/api/v1/roles/scopes",
			"/api/v1/roles/permissions/user/" + aID, "/api/v1/admin/audit/activity?user_id=" + aID, "/api/v1/users?role_id=user"} {
			status(t, ts.jsonReq("GET", p, admin, nil), 200)
		}
	})
	t.Run("bug20_missing_scope_is_403", func(t *testing.T) {
		amy := ts.loginOK("amy")
		for _, p := range []string{"/api/v1/sessions/stats", "/api/v1/admin/security/events", "/api/v1/admin/audit/activity"} {
			r := ts.jsonReq("GET", p, amy.Access, nil)
			status(t, r, 403)
			if r.str("error") != "insufficient_scope" {
				t.Fatalf("%s: %s", p, r.Body)
			}
		}
	})
	t.Run("bug21_intended_4xx_stay_4xx", func(t *testing.T) {
		status(t, ts.jsonReq("POST", "/api/v1/users/password-reset/confirm", "", map[string]any{"token": "x", "new_password": "Fine!Pass-123"}), 400)
		status(t, ts.jsonReq("POST", "/api/v1/users/email-verification/confirm", "", map[string]any{"token": "x"}), 400)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+aID+"/roles", admin, map[string]any{"role_ids": []string{"not-a-uuid"}}), 422)
	})
	t.Run("bug22_headers_kept", func(t *testing.T) {
		if r := ts.jsonReq("GET", "/api/v1/users/me", "", nil); r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
	})
	t.Run("bug23_locks_expire", func(t *testing.T) {
		// An hour-long lock ended by moving the clock: a short real one could
		// end before a loaded machine gets to check it.
		quick := peopleServer(t, func(c *server.Config) { c.LockoutDuration = time.Hour })
		quick.register("lou")
		for range 5 {
			quick.login("lou", "Wrong!Password-1", nil)
		}
		status(t, quick.login("lou", goodPassword, nil), 423)
		quick.Clock.Advance(time.Hour + time.Minute)
		status(t, quick.login("lou", goodPassword, nil), 200)
	})
	t.Run("bug24_refresh_keeps_login_scopes", func(t *testing.T) {
		r := ts.login("boss", goodPassword, url.Values{"scope": {"read:profile"}})
		rr := ts.refreshOriginal(r.str("refresh_token"))
		if rr.Status != 200 || rr.str("scope") != "read:profile" {
			t.Fatalf("refresh widened scopes: %s", rr.Body)
		}
	})
	t.Run("bug25_default_role_on_register", func(t *testing.T) {
		if s := jwtClaims(t, amy.Access)["scope"]; s != "read:profile write:profile" {
			t.Fatalf("scope %v", s)
		}
	})
	t.Run("bug26_27_admin_role_holds_admin_scopes", func(t *testing.T) {
		for _, p := range []string{"/api/v1/sessions/stats", "/api/v1/admin/security/events", "/api/v1/admin/audit/activity", "/api/v1/users"} {
			status(t, ts.jsonReq("GET", p, boss.Access, nil), 200)
		}
		status(t, ts.jsonReq("POST", "/api/v1/roles/permissions/check", boss.Access, map[string]any{"user_id": aID, "resource": "profile", "action": "read"}), 200)
		// The same scopes on an automation client work the same way.
		status(t, ts.jsonReq("GET", "/api/v1/users", admin, nil), 200)
	})
	t.Run("bug28_health_is_real", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/admin/system/health", admin, nil)
		if !strings.Contains(string(r.Body), `"signing_keys":{"status":"healthy"`) || strings.Contains(string(r.Body), "redis") {
			t.Fatalf("health: %s", r.Body)
		}
	})
	t.Run("bug29_sessions_shape_and_activity", func(t *testing.T) {
		tok := ts.loginOK("ben")
		ts.Clock.Advance(time.Second)
		status(t, ts.refreshOriginal(tok.Refresh), 200)
		r := ts.jsonReq("GET", "/api/v1/sessions", tok.Access, nil) // no trailing slash
		status(t, r, 200)
		for _, s := range r.JSON["sessions"].([]any) {
			m := s.(map[string]any)
			if m["session_id"] == tok.Session && (m["last_activity"] == m["created_at"] || len(m["user_id"].(string)) != 36) {
				t.Fatalf("session: %v", m)
			}
		}
	})
	t.Run("bug32_case_insensitive_login", func(t *testing.T) {
		status(t, ts.login("AMY", goodPassword, nil), 200)
		status(t, ts.login("Amy@Example.com", goodPassword, nil), 200)
	})
}
