package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// goodPassword satisfies the original's policy for every test username.
const goodPassword = "Sunny!Meadow-42"

// register creates a user through the public endpoint and returns its id.
func (ts *testServer) register(username string) string {
	ts.t.Helper()
	r := ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{
		"username": username, "email": username + "@example.com", "password": goodPassword})
	if r.Status != http.StatusCreated {
		ts.t.Fatalf("register %s: %d %s", username, r.Status, r.Body)
	}
	return r.str("id")
}

// login posts the original's login form.
func (ts *testServer) login(login, password string, extra url.Values) *response {
	v := url.Values{"username": {login}, "password": {password}}
	for k, vv := range extra {
		v[k] = vv
	}
	return ts.form("/api/v1/auth/token", v, "", "")
}

// userTokens is a successful login.
type userTokens struct{ Access, Refresh, Session string }

// loginOK logs in or fails the test.
func (ts *testServer) loginOK(login string) userTokens {
	ts.t.Helper()
	r := ts.login(login, goodPassword, nil)
	if r.Status != http.StatusOK {
		ts.t.Fatalf("login %s: %d %s", login, r.Status, r.Body)
	}
	return userTokens{r.str("access_token"), r.str("refresh_token"), r.str("session_id")}
}

// createUser creates a user as the bootstrap admin client, with roles by
// name, and returns its id.
func (ts *testServer) createUser(username string, roles ...string) string {
	ts.t.Helper()
	if roles == nil {
		roles = []string{}
	}
	r := ts.jsonReq("POST", "/api/v1/users", ts.adminToken(), map[string]any{
		"username": username, "email": username + "@example.com", "password": goodPassword,
		"is_verified": true, "role_ids": roles})
	if r.Status != http.StatusCreated {
		ts.t.Fatalf("create user %s: %d %s", username, r.Status, r.Body)
	}
	return r.str("id")
}

// refreshOriginal calls the original's refresh endpoint.
func (ts *testServer) refreshOriginal(token string) *response {
	return ts.jsonReq("POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": token})
}

// waitEvent waits for an audit event of typ (and target, if given) and
// returns it as JSON.
func (ts *testServer) waitEvent(typ, target string) map[string]any {
	ts.t.Helper()
	return ts.waitEventWhere(typ, target, func(map[string]any) bool { return true })
}

// waitEventWhere is waitEvent for the newest event that also satisfies
// match: a subject with several events of one type picks the one meant.
func (ts *testServer) waitEventWhere(typ, target string, match func(ev map[string]any) bool) map[string]any {
	ts.t.Helper()
	q := url.Values{"type": {typ}, "per_page": {"100"}}
	if target != "" {
		q.Set("target", target)
	}
	admin := ts.adminToken()
	var found map[string]any
	// Audit events are written behind; a loaded machine may take a while.
	waitUntil(ts.t, 30*time.Second, "audit event "+typ, func() bool {
		r := ts.jsonReq("GET", "/api/v1/admin/audit/events?"+q.Encode(), admin, nil)
		var page struct {
			Events []map[string]any `json:"events"`
		}
		json.Unmarshal(r.Body, &page)
		for _, ev := range page.Events {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// status fails the test unless r has the wanted status.
func status(t *testing.T, r *response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
}

// noInternals fails when a body leaks implementation details.
func noInternals(t *testing.T, r *response) {
	t.Helper()
	body := string(r.Body)
	// Tokens are random base64: "sql" or "panic" turn up in them by chance.
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if v := r.str(k); v != "" {
			body = strings.ReplaceAll(body, v, "<"+k+">")
		}
	}
	low := strings.ToLower(body)
	for _, w := range []string{"database", "sql", "exception", "traceback", "stack trace", "secret", "panic", "goroutine", ".go:"} {
		if strings.Contains(low, w) {
			t.Fatalf("body leaks %q: %s", w, r.Body)
		}
	}
	if r.Status >= 500 && r.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}
