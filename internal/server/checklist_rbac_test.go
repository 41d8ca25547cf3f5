package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestChecklistRBAC is §7 items 75-83: roles, scopes and permission checks.
func TestChecklistRBAC(t *testing.T) {
	ts := peopleServer(t, nil)
	admin := ts.adminToken()
	traderID := ts.createUser("tom", "trader")
	ts.createUser("root", "admin")
	root := ts.loginOK("root")
	ts.register("plain")
	plain := ts.loginOK("plain")

	t.Run("75_unique_names_409", func(t *testing.T) {
		status(t, ts.jsonReq("POST", "/api/v1/roles", admin, map[string]any{"name": "auditor", "description": "x"}), 201)
		status(t, ts.jsonReq("POST", "/api/v1/roles", admin, map[string]any{"name": "auditor"}), 409)
		status(t, ts.jsonReq("POST", "/api/v1/roles/scopes", admin, map[string]any{"name": "read:reports", "resource": "reports", "action": "read"}), 201)
		status(t, ts.jsonReq("POST", "/api/v1/roles/scopes", admin, map[string]any{"name": "read:reports", "resource": "reports", "action": "read"}), 409)
	})
	t.Run("76_delete_in_use_409", func(t *testing.T) {
		status(t, ts.jsonReq("DELETE", "/api/v1/roles/trader", admin, nil), 409)
		status(t, ts.jsonReq("DELETE", "/api/v1/roles/scopes/read:trades", admin, nil), 409)
	})
	t.Run("77_role_scopes_replaced_user_scopes_union", func(t *testing.T) {
		status(t, ts.jsonReq("PUT", "/api/v1/roles/auditor/scopes", admin, map[string]any{"scope_ids": []string{"read:reports"}}), 200)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+traderID+"/roles", admin, map[string]any{"role_ids": []string{"trader", "auditor"}}), 200)
		r := ts.login("tom", goodPassword, nil)
		if !strings.Contains(r.str("scope"), "read:reports") || !strings.Contains(r.str("scope"), "write:trades") {
			t.Fatalf("union: %q", r.str("scope"))
		}
	})
	t.Run("78_scope_name_parsing", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/roles/scopes/read:profile", admin, nil)
		if r.str("action") != "read" || r.str("resource") != "profile" {
			t.Fatalf("body: %s", r.Body)
		}
		status(t, ts.jsonReq("POST", "/api/v1/roles/scopes", admin, map[string]any{"name": "bad scope!", "resource": "x", "action": "y"}), 422)
	})
	check := func(bearer, userID, resource, action string, ctx map[string]any) *response {
		body := map[string]any{"user_id": userID, "resource": resource, "action": action}
		if ctx != nil {
			body["context"] = ctx
		}
		return ts.jsonReq("POST", "/api/v1/roles/permissions/check", bearer, body)
	}
	t.Run("79_implied_scopes", func(t *testing.T) {
		// admin:users (the admin role) implies read:users and write:users;
		// admin:system implies the listed set. Through the API: a client
		// with only admin:system reads users (admin:users implied).
		id, secret := ts.createClient(map[string]any{"name": "sys", "scope_ids": []string{"admin:system"}})
		status(t, ts.jsonReq("GET", "/api/v1/users", ts.token(id, secret, nil), nil), 200)
		wild, wsecret := ts.createClient(map[string]any{"name": "trades-only", "scope_ids": []string{"write:trades"}})
		status(t, ts.jsonReq("GET", "/api/v1/users", ts.token(wild, wsecret, nil), nil), 403)
	})
	t.Run("80_malicious_scopes_never_match", func(t *testing.T) {
		for _, s := range []string{"admin:users;", "admin:users'", "<script>admin:users", "admin:users\n", "admin:users\x00", "admin:*"} {
			r := ts.login("root", goodPassword, map[string][]string{"scope": {s}})
			if r.Status == http.StatusOK && strings.Contains(r.str("scope"), "admin:users") && r.str("scope") != "admin:users" {
				t.Fatalf("%q granted %q", s, r.str("scope"))
			}
			noInternals(t, r)
		}
	})
	t.Run("81_role_and_any_scope_requirements", func(t *testing.T) {
		status(t, ts.jsonReq("GET", "/api/v1/admin/dashboard/stats", plain.Access, nil), 403)
		status(t, ts.jsonReq("GET", "/api/v1/admin/dashboard/stats", root.Access, nil), 200)
	})
	t.Run("82_permission_check_with_reasons", func(t *testing.T) {
		r := check(root.Access, traderID, "trades", "write", nil)
		status(t, r, 200)
		if r.JSON["allowed"] != true || !strings.HasPrefix(r.str("reason"), "Granted by scopes: write:trades") {
			t.Fatalf("allowed: %s", r.Body)
		}
		r = check(admin, traderID, "users", "admin", nil)
		if r.JSON["allowed"] != false || r.str("reason") != "No matching permissions found" {
			t.Fatalf("denied: %s", r.Body)
		}
		status(t, check(plain.Access, traderID, "trades", "write", nil), 403)
		status(t, check(admin, "not-a-uuid", "trades", "write", nil), 404)
		bulk := ts.jsonReq("POST", "/api/v1/roles/permissions/check-bulk", admin, map[string]any{"user_id": traderID,
			"permissions": []map[string]any{{"resource": "trades", "action": "read"}, {"resource": "users", "action": "admin"}, {"resource": ""}}})
		status(t, bulk, 200)
		if res := bulk.JSON["results"].([]any); len(res) != 2 || res[0].(map[string]any)["allowed"] != true || res[1].(map[string]any)["allowed"] != false {
			t.Fatalf("bulk: %s", bulk.Body)
		}
		perms := ts.jsonReq("GET", "/api/v1/roles/permissions/user/"+traderID, admin, nil)
		if perms.Status != 200 || perms.str("username") != "tom" || !strings.Contains(string(perms.Body), `"resource":"trades"`) {
			t.Fatalf("user permissions: %s", perms.Body)
		}
	})
	t.Run("83_can_access_resource", func(t *testing.T) {
		if r := check(admin, traderID, "profile", "write", map[string]any{"user_id": traderID}); r.JSON["allowed"] != true {
			t.Fatalf("own resource: %s", r.Body)
		}
		other := ts.jsonReq("GET", "/api/v1/users/me", plain.Access, nil).str("id")
		if r := check(admin, traderID, "profile", "read", map[string]any{"user_id": other}); r.JSON["allowed"] != false {
			t.Fatalf("another's resource: %s", r.Body)
		}
		rootID := ts.jsonReq("GET", "/api/v1/users/me", root.Access, nil).str("id")
		if r := check(admin, rootID, "profile", "read", map[string]any{"user_id": other}); r.JSON["allowed"] != true {
			t.Fatalf("admin:users on another's resource: %s", r.Body)
		}
		if r := check(admin, traderID, "roles", "write", nil); r.JSON["allowed"] != false {
			t.Fatalf("role writes need admin scopes: %s", r.Body)
		}
	})
	t.Run("permission_routes_beat_role_routes", func(t *testing.T) {
		// /roles/permissions/check is more specific than /roles/{role}/{sub}.
		r := ts.jsonReq("PUT", "/api/v1/roles/permissions/check", admin, map[string]any{"scope_ids": []string{}})
		if r.Status == 200 {
			t.Fatalf("PUT reached a role: %s", r.Body)
		}
		status(t, check(admin, traderID, "trades", "read", nil), 200)
	})
}

// TestChecklistSessions is §7 items 84-87.
func TestChecklistSessions(t *testing.T) {
	ts := peopleServer(t, nil)
	ts.register("sara")
	ts.register("otto")
	otto := ts.loginOK("otto")

	var logins []userTokens
	t.Run("84_three_concurrent_sessions", func(t *testing.T) {
		for range 3 {
			logins = append(logins, ts.loginOK("sara"))
		}
		for _, l := range logins {
			status(t, ts.jsonReq("GET", "/api/v1/users/me", l.Access, nil), 200)
		}
	})
	t.Run("85_list_renew_delete", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/sessions", logins[0].Access, nil)
		if asFloat(r.JSON["total"]) != 3 {
			t.Fatalf("list: %s", r.Body)
		}
		first := r.JSON["sessions"].([]any)[0].(map[string]any)
		ts.Clock.Advance(time.Second)
		rr := ts.jsonReq("POST", "/api/v1/sessions/"+logins[0].Session+"/renew", logins[0].Access, nil)
		status(t, rr, 200)
		if rr.str("expires_at") == first["expires_at"] || rr.str("message") != "Session renewed successfully" {
			t.Fatalf("renew: %s (was %v)", rr.Body, first["expires_at"])
		}
		status(t, ts.jsonReq("DELETE", "/api/v1/sessions/"+logins[0].Session, otto.Access, nil), 403)
		status(t, ts.jsonReq("DELETE", "/api/v1/sessions/00000000-0000-4000-8000-000000000000", otto.Access, nil), 404)
		status(t, ts.jsonReq("DELETE", "/api/v1/sessions/fake-id", otto.Access, nil), 404)
		status(t, ts.jsonReq("DELETE", "/api/v1/sessions/"+logins[1].Session, logins[0].Access, nil), 200)
		status(t, ts.jsonReq("GET", "/api/v1/users/me", logins[1].Access, nil), 401) // its tokens stop
		status(t, ts.refreshOriginal(logins[1].Refresh), 401)
		status(t, ts.jsonReq("POST", "/api/v1/sessions/"+logins[1].Session+"/renew", logins[0].Access, nil), 400)
	})
	t.Run("86_delete_all", func(t *testing.T) {
		r := ts.jsonReq("DELETE", "/api/v1/sessions", logins[0].Access, nil)
		status(t, r, 200)
		if asFloat(r.JSON["sessions_terminated"]) != 2 {
			t.Fatalf("body: %s", r.Body)
		}
		status(t, ts.jsonReq("GET", "/api/v1/users/me", logins[2].Access, nil), 401)
		status(t, ts.jsonReq("GET", "/api/v1/users/me", otto.Access, nil), 200)
	})
	t.Run("87_stats_and_cleanup_need_admin_sessions", func(t *testing.T) {
		status(t, ts.jsonReq("GET", "/api/v1/sessions/stats", otto.Access, nil), 403)
		status(t, ts.jsonReq("POST", "/api/v1/sessions/cleanup", otto.Access, nil), 403)
		admin := ts.adminToken()
		r := ts.jsonReq("GET", "/api/v1/sessions/stats/", admin, nil)
		if r.Status != 200 || asFloat(r.JSON["total_sessions"]) != 4 || asFloat(r.JSON["active_sessions"]) != 1 {
			t.Fatalf("stats: %s", r.Body)
		}
		status(t, ts.jsonReq("POST", "/api/v1/sessions/cleanup", admin, nil), 200)
	})
}
