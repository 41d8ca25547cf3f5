package server_test

import (
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

var mailedToken = regexp.MustCompile(`pmu_[A-Za-z0-9_-]{43}`)

// TestChecklistUsers is §7 items 52-74.
func TestChecklistUsers(t *testing.T) {
	var logs syncBuffer
	ts := peopleServer(t, func(c *server.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	admin := ts.adminToken()
	carlID := ts.register("carl")
	carl := ts.loginOK("carl")
	ts.createUser("ada", "admin")
	ada := ts.loginOK("ada")

	t.Run("52_register_and_duplicates_409", func(t *testing.T) {
		r := ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "dave", "email": "dave@example.com", "password": goodPassword})
		status(t, r, 201)
		if r.str("username") != "dave" || r.str("email") != "dave@example.com" || r.JSON["is_verified"] != false {
			t.Fatalf("body: %s", r.Body)
		}
		if roles := r.JSON["roles"].([]any); len(roles) != 1 || roles[0].(map[string]any)["name"] != "user" {
			t.Fatalf("default role: %v", roles)
		}
		status(t, ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "dave", "email": "other@example.com", "password": goodPassword}), 409)
		status(t, ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "dave2", "email": "DAVE@example.com", "password": goodPassword}), 409)
	})
	t.Run("53_invalid_input_422", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"username": "ab", "email": "ab@example.com", "password": goodPassword},
			{"username": "bad name", "email": "bn@example.com", "password": goodPassword},
			{"username": "okname", "email": "not-an-email", "password": goodPassword},
			{"username": "okname", "email": "ok@example.com", "password": "weak"},
		} {
			r := ts.jsonReq("POST", "/api/v1/users/register", "", body)
			status(t, r, 422)
			noInternals(t, r)
		}
	})
	t.Run("54_registration_rate_limited", func(t *testing.T) {
		small := newTestServer(t, func(c *server.Config) { c.AuthFailuresPerMin = 3 })
		for i := range 3 {
			small.register("limited" + string(rune('a'+i)))
		}
		r := small.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "limitedd", "email": "ld@example.com", "password": goodPassword})
		status(t, r, 429)
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	})
	t.Run("55_injection_payloads_refused", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"username": "x'; DROP TABLE users;--", "email": "i1@example.com", "password": goodPassword},
			{"username": "injector", "email": "a@b.com'; DROP TABLE users;--", "password": goodPassword},
			{"username": "<script>", "email": "<script>@example.com", "password": goodPassword},
		} {
			r := ts.jsonReq("POST", "/api/v1/users/register", "", body)
			if r.Status != 400 && r.Status != 422 {
				t.Fatalf("%v: %d %s", body, r.Status, r.Body)
			}
			noInternals(t, r)
		}
	})
	t.Run("56_username_lowercased", func(t *testing.T) {
		r := ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "MixedCase", "email": "mc@example.com", "password": goodPassword})
		status(t, r, 201)
		if r.str("username") != "mixedcase" {
			t.Fatalf("username %q", r.str("username"))
		}
		status(t, ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "MIXEDCASE", "email": "mc2@example.com", "password": goodPassword}), 409)
	})
	t.Run("57_me_and_profile", func(t *testing.T) {
		for _, p := range []string{"/api/v1/users/me", "/api/v1/users/profile"} {
			r := ts.jsonReq("GET", p, carl.Access, nil)
			status(t, r, 200)
			if r.str("id") != carlID {
				t.Fatalf("%s: %s", p, r.Body)
			}
			status(t, ts.jsonReq("GET", p, "", nil), 401)
		}
	})
	t.Run("58_update_me", func(t *testing.T) {
		id := ts.createUser("erin")
		erin := ts.loginOK("erin")
		r := ts.jsonReq("PUT", "/api/v1/users/me", erin.Access, map[string]any{"first_name": "Erin", "last_name": "Smith", "bio": "Trader\nand writer"})
		status(t, r, 200)
		if r.str("full_name") != "Erin Smith" || r.JSON["is_verified"] != true {
			t.Fatalf("body: %s", r.Body)
		}
		r = ts.jsonReq("PUT", "/api/v1/users/me", erin.Access, map[string]any{"email": "erin.new@example.com"})
		if r.Status != 200 || r.JSON["is_verified"] != false || r.str("email") != "erin.new@example.com" {
			t.Fatalf("email change: %s", r.Body)
		}
		status(t, ts.jsonReq("PUT", "/api/v1/users/me", erin.Access, map[string]any{"email": "carl@example.com"}), 409)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+id, erin.Access, map[string]any{"email": "CARL@example.com"}), 409)
	})
	t.Run("59_admin_lists_users", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/users?page=1&per_page=2", admin, nil)
		status(t, r, 200)
		if len(r.JSON["users"].([]any)) != 2 || asFloat(r.JSON["per_page"]) != 2 || asFloat(r.JSON["total"]) < 4 || asFloat(r.JSON["pages"]) < 2 {
			t.Fatalf("page: %s", r.Body)
		}
		r = ts.jsonReq("GET", "/api/v1/users/?search=carl&is_active=true", ada.Access, nil)
		status(t, r, 200)
		if asFloat(r.JSON["total"]) != 1 {
			t.Fatalf("search: %s", r.Body)
		}
		r = ts.jsonReq("GET", "/api/v1/users?role_id=admin", admin, nil)
		if r.Status != 200 || asFloat(r.JSON["total"]) != 1 {
			t.Fatalf("role filter by name: %s", r.Body)
		}
	})
	t.Run("60_non_admin_list_403", func(t *testing.T) {
		status(t, ts.jsonReq("GET", "/api/v1/users", carl.Access, nil), 403)
		status(t, ts.jsonReq("GET", "/api/v1/users", "", nil), 401)
	})
	var franID string
	t.Run("61_admin_creates_user_with_roles", func(t *testing.T) {
		// ada holds the admin role, not the trader's scopes: she may not
		// hand them out (the delegation rule), but may give the user role.
		trader := ts.jsonReq("GET", "/api/v1/roles/trader", admin, nil)
		r := ts.jsonReq("POST", "/api/v1/users", ada.Access, map[string]any{"username": "fran", "email": "fran@example.com",
			"password": goodPassword, "role_ids": []string{trader.str("id")}})
		status(t, r, 403)
		if !strings.Contains(r.str("error_description"), `"trade:open"`) {
			t.Fatalf("refusal does not name the missing scopes: %s", r.Body)
		}
		roles := ts.jsonReq("GET", "/api/v1/roles/user", admin, nil)
		r = ts.jsonReq("POST", "/api/v1/users", ada.Access, map[string]any{"username": "fran", "email": "fran@example.com",
			"password": goodPassword, "role_ids": []string{roles.str("id")}})
		status(t, r, 201)
		franID = r.str("id")
		if got := r.JSON["roles"].([]any)[0].(map[string]any)["id"]; got != roles.str("id") {
			t.Fatalf("roles[0].id %v", got)
		}
	})
	t.Run("62_admin_create_duplicates_409", func(t *testing.T) {
		r := ts.jsonReq("POST", "/api/v1/users", admin, map[string]any{"username": "fran", "email": "x@example.com", "password": goodPassword})
		if r.Status != 409 || !strings.Contains(r.str("detail"), "Username") {
			t.Fatalf("dup username: %d %s", r.Status, r.Body)
		}
		r = ts.jsonReq("POST", "/api/v1/users", admin, map[string]any{"username": "fran2", "email": "fran@example.com", "password": goodPassword})
		if r.Status != 409 || !strings.Contains(r.str("detail"), "Email") {
			t.Fatalf("dup email: %d %s", r.Status, r.Body)
		}
	})
	t.Run("63_admin_create_invalid_or_unauthorised", func(t *testing.T) {
		status(t, ts.jsonReq("POST", "/api/v1/users", admin, map[string]any{"username": "g", "email": "g", "password": "x"}), 422)
		status(t, ts.jsonReq("POST", "/api/v1/users", admin, map[string]any{"username": "gina", "email": "gina@example.com", "password": goodPassword, "role_ids": []string{"no-such-role"}}), 422)
		status(t, ts.jsonReq("POST", "/api/v1/users", "", map[string]any{}), 401)
		status(t, ts.jsonReq("POST", "/api/v1/users", carl.Access, map[string]any{"username": "gina", "email": "gina@example.com", "password": goodPassword}), 403)
	})
	t.Run("64_get_user_by_id", func(t *testing.T) {
		status(t, ts.jsonReq("GET", "/api/v1/users/"+carlID, admin, nil), 200)
		status(t, ts.jsonReq("GET", "/api/v1/users/"+carlID, carl.Access, nil), 200)
		status(t, ts.jsonReq("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000", admin, nil), 404)
		status(t, ts.jsonReq("GET", "/api/v1/users/not-a-uuid", admin, nil), 404)
		status(t, ts.jsonReq("GET", "/api/v1/users/"+franID, carl.Access, nil), 403)
		status(t, ts.jsonReq("GET", "/api/v1/users/"+carlID, "", nil), 401)
	})
	t.Run("65_put_user", func(t *testing.T) {
		r := ts.jsonReq("PUT", "/api/v1/users/"+franID, admin, map[string]any{"email": "fran.b@example.com", "is_active": false})
		if r.Status != 200 || r.str("username") != "fran" || r.JSON["is_active"] != false || r.str("email") != "fran.b@example.com" {
			t.Fatalf("admin update: %s", r.Body)
		}
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID, carl.Access, map[string]any{"display_name": "Carl C."}), 200)
	})
	t.Run("66_put_user_forbidden_fields", func(t *testing.T) {
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID, carl.Access, map[string]any{"username": "root"}), 422)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID, admin, map[string]any{"password": "x"}), 422)
		status(t, ts.jsonReq("PUT", "/api/v1/users/00000000-0000-4000-8000-000000000000", admin, map[string]any{"bio": "x"}), 404)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+franID, carl.Access, map[string]any{"bio": "x"}), 403)
	})
	t.Run("67_no_self_escalation", func(t *testing.T) {
		for _, body := range []map[string]any{{"role_ids": []string{"admin"}}, {"is_verified": true}, {"is_active": true}} {
			status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID, carl.Access, body), 403)
			status(t, ts.jsonReq("PUT", "/api/v1/users/me", carl.Access, body), 403)
		}
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID+"/roles", carl.Access, map[string]any{"role_ids": []string{"admin"}}), 403)
		me := ts.jsonReq("GET", "/api/v1/users/me", carl.Access, nil)
		if me.JSON["is_verified"] != false || len(me.JSON["roles"].([]any)) != 1 {
			t.Fatalf("carl changed himself: %s", me.Body)
		}
		// Not even an administrator changes their own roles.
		adaID := ts.jsonReq("GET", "/api/v1/users/me", ada.Access, nil).str("id")
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+adaID+"/roles", ada.Access, map[string]any{"role_ids": []string{}}), 403)
	})
	t.Run("68_change_password", func(t *testing.T) {
		ts.createUser("hank")
		hank := ts.loginOK("hank")
		hankID := ts.jsonReq("GET", "/api/v1/users/me", hank.Access, nil).str("id")
		r := ts.jsonReq("PUT", "/api/v1/users/"+hankID+"/password", hank.Access, map[string]any{"current_password": "Wrong!Pass-1", "new_password": "Brand!New-Pass9"})
		if r.Status != 400 || !strings.Contains(strings.ToLower(string(r.Body)), "current password") {
			t.Fatalf("wrong current: %d %s", r.Status, r.Body)
		}
		other := ts.loginOK("hank")
		r = ts.jsonReq("PUT", "/api/v1/users/"+hankID+"/password", hank.Access, map[string]any{"current_password": goodPassword, "new_password": "Brand!New-Pass9"})
		if r.Status != 200 || r.str("message") != "Password updated successfully" {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		status(t, ts.jsonReq("GET", "/api/v1/users/me", hank.Access, nil), 200)  // this session stays
		status(t, ts.jsonReq("GET", "/api/v1/users/me", other.Access, nil), 401) // the others end
		status(t, ts.refreshOriginal(other.Refresh), 401)
		status(t, ts.login("hank", "Brand!New-Pass9", nil), 200)
	})
	t.Run("69_put_roles_replaces", func(t *testing.T) {
		r := ts.jsonReq("PUT", "/api/v1/users/"+carlID+"/roles", admin, map[string]any{"role_ids": []string{"trader", "user"}})
		status(t, r, 200)
		if len(r.JSON["roles"].([]any)) != 2 {
			t.Fatalf("roles: %s", r.Body)
		}
		status(t, ts.jsonReq("DELETE", "/api/v1/users/"+carlID+"/roles/trader", admin, nil), 200)
		r = ts.jsonReq("POST", "/api/v1/users/"+carlID+"/roles", admin, map[string]any{"role_name": "trader"})
		if r.Status != 200 || len(r.JSON["roles"].([]any)) != 2 {
			t.Fatalf("add: %s", r.Body)
		}
		status(t, ts.jsonReq("DELETE", "/api/v1/users/"+carlID+"/roles/admin", admin, nil), 404)
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+carlID+"/roles", admin, map[string]any{"role_ids": []string{"not-a-role"}}), 422)
	})
	t.Run("70_delete_user", func(t *testing.T) {
		id := ts.createUser("ivan")
		status(t, ts.jsonReq("DELETE", "/api/v1/users/"+id, carl.Access, nil), 403)
		status(t, ts.jsonReq("DELETE", "/api/v1/users/"+id, ada.Access, nil), 204)
		status(t, ts.jsonReq("DELETE", "/api/v1/users/"+id, admin, nil), 404)
		adaID := ts.jsonReq("GET", "/api/v1/users/me", ada.Access, nil).str("id")
		r := ts.jsonReq("DELETE", "/api/v1/users/"+adaID, ada.Access, nil)
		if r.Status != 403 || !strings.Contains(strings.ToLower(r.str("error_description")), "cannot delete") {
			t.Fatalf("self delete: %d %s", r.Status, r.Body)
		}
	})
	t.Run("71_no_secrets_in_responses", func(t *testing.T) {
		for _, r := range []*response{ts.jsonReq("GET", "/api/v1/users/me", carl.Access, nil), ts.jsonReq("GET", "/api/v1/users", admin, nil)} {
			for _, bad := range []string{"password_hash", "argon2", "reset_token", "verification_token", "pmu_", "pmr_"} {
				if strings.Contains(string(r.Body), bad) {
					t.Fatalf("%q exposed: %s", bad, r.Body)
				}
			}
		}
	})
	t.Run("72_neutral_request_answers", func(t *testing.T) {
		for _, path := range []string{"/api/v1/users/password-reset/request", "/api/v1/users/email-verification/request"} {
			known := ts.jsonReq("POST", path, "", map[string]any{"email": "carl@example.com"})
			unknown := ts.jsonReq("POST", path, "", map[string]any{"email": "nobody@example.com"})
			status(t, known, 200)
			if string(known.Body) != string(unknown.Body) {
				t.Fatalf("%s tells: %s vs %s", path, known.Body, unknown.Body)
			}
		}
	})
	t.Run("73_bad_tokens_400_and_real_ones_work_once", func(t *testing.T) {
		for _, tok := range []string{"garbage", "pmu_" + strings.Repeat("A", 43)} {
			r := ts.jsonReq("POST", "/api/v1/users/password-reset/confirm", "", map[string]any{"token": tok, "new_password": "Another!Pass-77"})
			if r.Status != 400 || r.str("error") != "invalid_token" {
				t.Fatalf("reset %q: %d %s", tok, r.Status, r.Body)
			}
			status(t, ts.jsonReq("POST", "/api/v1/users/email-verification/confirm", "", map[string]any{"token": tok}), 400)
		}
		var verify, reset string
		waitUntil(t, 15*time.Second, "mails in the log", func() bool {
			verify, reset = "", ""
			for _, l := range logs.lines() {
				if m := mailedToken.FindString(l); m != "" && strings.Contains(l, "Verify your email") {
					verify = m
				} else if m != "" && strings.Contains(l, "Reset your") {
					reset = m
				}
			}
			return verify != "" && reset != ""
		})
		status(t, ts.jsonReq("POST", "/api/v1/users/email-verification/confirm", "", map[string]any{"token": verify}), 200)
		if r := ts.jsonReq("GET", "/api/v1/users/me", carl.Access, nil); r.JSON["is_verified"] != true {
			t.Fatalf("not verified: %s", r.Body)
		}
		status(t, ts.jsonReq("POST", "/api/v1/users/email-verification/confirm", "", map[string]any{"token": verify}), 400)
		status(t, ts.jsonReq("POST", "/api/v1/users/password-reset/confirm", "", map[string]any{"token": reset, "new_password": "weak"}), 422)
		status(t, ts.jsonReq("POST", "/api/v1/users/password-reset/confirm", "", map[string]any{"token": reset, "new_password": "Another!Pass-77"}), 200)
		status(t, ts.jsonReq("POST", "/api/v1/users/password-reset/confirm", "", map[string]any{"token": reset, "new_password": "Another!Pass-78"}), 400)
		status(t, ts.jsonReq("GET", "/api/v1/users/me", carl.Access, nil), 401) // a reset ends every session
		status(t, ts.login("carl", "Another!Pass-77", nil), 200)
	})
	t.Run("74_stats_overview", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/users/stats/overview", admin, nil)
		status(t, r, 200)
		list := ts.jsonReq("GET", "/api/v1/users?per_page=100", admin, nil)
		if r.JSON["total_users"] != list.JSON["total"] || asFloat(r.JSON["recent_registrations"]) != asFloat(r.JSON["total_users"]) ||
			asFloat(r.JSON["active_users"]) != asFloat(r.JSON["total_users"])-1 {
			t.Fatalf("stats %s vs list total %v", r.Body, list.JSON["total"])
		}
		carl := ts.login("carl", "Another!Pass-77", nil).str("access_token")
		status(t, ts.jsonReq("GET", "/api/v1/users/stats/overview", carl, nil), 403)
	})
}
