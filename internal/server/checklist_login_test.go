package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// peopleServer is a test server whose per-IP failure budget does not get
// in the way of lockout tests (the limiter has its own tests), and whose
// write timeout outlasts Argon2id on a machine busy with other tests (a
// login past the timeout would read as a closed connection).
func peopleServer(t *testing.T, mutate func(*server.Config)) *testServer {
	return newTestServer(t, func(c *server.Config) {
		c.AuthFailuresPerMin = 10000
		c.WriteTimeout = time.Minute
		if mutate != nil {
			mutate(c)
		}
	})
}

// TestChecklistLogin is §7 items 1-19 of permiso-original.md.
func TestChecklistLogin(t *testing.T) {
	ts := peopleServer(t, nil)
	admin := ts.adminToken()
	aliceID := ts.register("alice")

	t.Run("01_valid_login", func(t *testing.T) {
		r := ts.login("alice", goodPassword, nil)
		status(t, r, 200)
		if r.str("access_token") == "" || !strings.HasPrefix(r.str("refresh_token"), "pmr_") || r.str("token_type") != "Bearer" || asFloat(r.JSON["expires_in"]) <= 0 {
			t.Fatalf("response: %s", r.Body)
		}
		if c := jwtClaims(t, r.str("access_token")); c["sub"] != aliceID || c["type"] != "access" || c["username"] != "alice" || c["sid"] != r.str("session_id") {
			t.Fatalf("claims: %v", c)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("token response must not be cached")
		}
	})
	t.Run("02_login_by_email", func(t *testing.T) {
		status(t, ts.login("alice@example.com", goodPassword, nil), 200)
		status(t, ts.login("ALICE@Example.COM", goodPassword, nil), 200)
		status(t, ts.login("Alice", goodPassword, nil), 200)
	})
	var wrong *response
	t.Run("03_wrong_password_401", func(t *testing.T) {
		wrong = ts.login("alice", "Wrong!Password-1", nil)
		status(t, wrong, 401)
		if wrong.str("error") != "invalid_grant" || !strings.Contains(strings.ToLower(wrong.str("error_description")), "invalid") {
			t.Fatalf("body: %s", wrong.Body)
		}
		if wrong.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
	})
	t.Run("04_unknown_user_indistinguishable", func(t *testing.T) {
		r := ts.login("nobody", "Wrong!Password-1", nil)
		status(t, r, 401)
		if string(r.Body) != string(wrong.Body) {
			t.Fatalf("unknown user %s != wrong password %s", r.Body, wrong.Body)
		}
	})
	t.Run("05_timing_unknown_vs_wrong", func(t *testing.T) {
		avg := func(login string) time.Duration {
			start := time.Now()
			for range 3 {
				ts.login(login, "Wrong!Password-1", nil)
			}
			return time.Since(start) / 3
		}
		ts.login("bob-timing", "x", nil) // warm up
		unknown, known := avg("nobody-at-all"), avg("alice")
		t.Logf("unknown user %v, wrong password %v", unknown, known)
		if d := unknown - known; d > 500*time.Millisecond || d < -500*time.Millisecond {
			t.Fatalf("timing differs by %v", d)
		}
		// A success resets alice's counter for the next subtests.
		status(t, ts.login("alice", goodPassword, nil), 200)
	})
	t.Run("06_disabled_correct_password_403", func(t *testing.T) {
		id := ts.register("dora")
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+id, admin, map[string]any{"is_active": false}), 200)
		r := ts.login("dora", goodPassword, nil)
		status(t, r, 403)
		if r.str("error") != "account_disabled" {
			t.Fatalf("body: %s", r.Body)
		}
		status(t, ts.login("dora", "Wrong!Password-1", nil), 401) // no oracle without the password
	})
	t.Run("07_locked_account_423", func(t *testing.T) {
		ts.register("lena")
		for range 5 {
			status(t, ts.login("lena", "Wrong!Password-1", nil), 401)
		}
		r := ts.login("lena", goodPassword, nil)
		status(t, r, 423)
		if r.str("error") != "account_locked" || r.str("locked_until") == "" {
			t.Fatalf("body: %s", r.Body)
		}
	})
	t.Run("08_missing_fields_422", func(t *testing.T) {
		status(t, ts.form("/api/v1/auth/token", url.Values{"username": {"alice"}}, "", ""), 422)
		status(t, ts.form("/api/v1/auth/token", url.Values{"password": {"x"}}, "", ""), 422)
	})
	t.Run("09_five_failures_lock", func(t *testing.T) {
		id := ts.register("mike")
		for range 5 {
			ts.login("mike", "Wrong!Password-1", nil)
		}
		r := ts.jsonReq("GET", "/api/v1/users/"+id, admin, nil)
		until, err := time.Parse(time.RFC3339Nano, r.str("locked_until"))
		if r.JSON["is_locked"] != true || err != nil {
			t.Fatalf("not locked: %s", r.Body)
		}
		if d := time.Until(until) - 15*time.Minute; d > time.Minute || d < -time.Minute {
			t.Fatalf("locked_until %v is not now + 15m", until)
		}
	})
	t.Run("10_fourth_failure_does_not_lock", func(t *testing.T) {
		id := ts.register("nina")
		for range 4 {
			ts.login("nina", "Wrong!Password-1", nil)
		}
		r := ts.jsonReq("GET", "/api/v1/users/"+id, admin, nil)
		if r.JSON["is_locked"] != false || asFloat(r.JSON["failed_login_attempts"]) != 4 {
			t.Fatalf("after 4: %s", r.Body)
		}
		ts.login("nina", "Wrong!Password-1", nil)
		if r := ts.jsonReq("GET", "/api/v1/users/"+id, admin, nil); r.JSON["is_locked"] != true {
			t.Fatalf("after 5: %s", r.Body)
		}
	})
	t.Run("11_success_resets_counter", func(t *testing.T) {
		id := ts.register("oscar")
		for range 3 {
			ts.login("oscar", "Wrong!Password-1", nil)
		}
		status(t, ts.login("oscar", goodPassword, nil), 200)
		r := ts.jsonReq("GET", "/api/v1/users/"+id, admin, nil)
		if asFloat(r.JSON["failed_login_attempts"]) != 0 || r.JSON["is_locked"] != false || r.str("last_login") == "" {
			t.Fatalf("after success: %s", r.Body)
		}
	})
	t.Run("12_disabled_user_cannot_login_even_unlocked", func(t *testing.T) {
		id := ts.register("paul")
		status(t, ts.jsonReq("PUT", "/api/v1/users/"+id, admin, map[string]any{"is_active": false}), 200)
		r := ts.jsonReq("GET", "/api/v1/users/"+id, admin, nil)
		if r.JSON["is_locked"] != false || r.JSON["is_active"] != false {
			t.Fatalf("state: %s", r.Body)
		}
		status(t, ts.login("paul", goodPassword, nil), 403)
	})
	t.Run("13_scope_subset", func(t *testing.T) {
		ts.createUser("tina", "trader")
		r := ts.login("tina", goodPassword, url.Values{"scope": {"read:trades admin:users"}})
		status(t, r, 200)
		if r.str("scope") != "read:trades" {
			t.Fatalf("scope %q", r.str("scope"))
		}
		if s := jwtClaims(t, r.str("access_token"))["scopes"].([]any); len(s) != 1 || s[0] != "read:trades" {
			t.Fatalf("scopes claim %v", s)
		}
		if r := ts.login("tina", goodPassword, nil); !strings.Contains(r.str("scope"), "write:trades") {
			t.Fatalf("no scope means all the user's: %q", r.str("scope"))
		}
	})
	t.Run("14_session_id_and_row", func(t *testing.T) {
		tok := ts.loginOK("alice")
		r := ts.jsonReq("GET", "/api/v1/sessions", tok.Access, nil)
		status(t, r, 200)
		if !strings.Contains(string(r.Body), tok.Session) {
			t.Fatalf("session %s not listed: %s", tok.Session, r.Body)
		}
	})
	t.Run("15_injection_usernames", func(t *testing.T) {
		for _, p := range []string{"admin' OR '1'='1", "admin'--", "*)(uid=*))(|(uid=*", "; rm -rf /", "$(whoami)",
			"<script>alert(1)</script>", "admin\x00", strings.Repeat("A", 5000), "' UNION SELECT password_hash FROM users--"} {
			r := ts.login(p, "Anything!1a", nil)
			if r.Status != 400 && r.Status != 401 && r.Status != 422 {
				t.Fatalf("%q: %d %s", p, r.Status, r.Body)
			}
			noInternals(t, r)
			if len(p) > 3 && strings.Contains(string(r.Body), p) || strings.Contains(strings.ToUpper(string(r.Body)), "SELECT") {
				t.Fatalf("%q echoed: %s", p, r.Body)
			}
		}
	})
	t.Run("16_error_bodies_clean", func(t *testing.T) {
		for _, r := range []*response{
			ts.login("alice", "nope", nil),
			ts.form("/api/v1/auth/token", url.Values{"grant_type": {"client_credentials"}}, "", ""),
			ts.do("POST", "/api/v1/auth/token", http.Header{"Content-Type": {"application/json"}}, strings.NewReader(`{}`)),
			ts.refreshOriginal("garbage"),
			ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{"username": "x"}),
			ts.jsonReq("GET", "/api/v1/users/not-a-uuid", admin, nil),
		} {
			noInternals(t, r)
		}
	})
	t.Run("17_repeated_bad_logins_401_or_429", func(t *testing.T) {
		ts.register("quinn")
		for i := range 10 {
			// Adapted: from the 6th attempt the address is locked, and a
			// locked address gets 423 whatever the password (the original
			// answered a wrong one 401 and the right one 423, which let
			// guessing go on through the lock).
			want := 401
			if i >= 5 {
				want = 423
			}
			if r := ts.login("quinn", "Wrong!Password-1", nil); r.Status != want && r.Status != 429 {
				t.Fatalf("attempt %d: %d, want %d", i, r.Status, want)
			}
		}
		if r := ts.login("quinn", goodPassword, nil); r.Status != 423 {
			t.Fatalf("locked after repeated failures: %d", r.Status)
		}
	})
	t.Run("18_sequential_logins", func(t *testing.T) {
		// Adapted: latency is measured by BenchmarkHashPassword and the
		// load benchmark, not asserted here; this checks 20 logins in a
		// row all succeed and logs their average.
		start := time.Now()
		for range 20 {
			ts.loginOK("alice")
		}
		t.Logf("average login %v", time.Since(start)/20)
	})
	t.Run("19_token_validation", func(t *testing.T) {
		tok := ts.loginOK("alice")
		start := time.Now()
		for range 50 {
			status(t, ts.jsonReq("GET", "/api/v1/users/me", tok.Access, nil), 200)
		}
		t.Logf("average authenticated request %v", time.Since(start)/50)
	})
}
