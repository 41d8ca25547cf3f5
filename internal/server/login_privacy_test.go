package server_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestFailedLoginKeepsNoTypedSecret: a password typed into the username
// field of a failed login reaches neither the log nor the audit trail;
// a failure for an existing user names that user. Every login (the
// original's, the password grant, the login page) goes through the
// account service's Authenticate, which decides what is recorded.
func TestFailedLoginKeepsNoTypedSecret(t *testing.T) {
	logs := &syncBuffer{}
	ts := peopleServer(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	id := ts.register("olga")
	const typed = "Olga-Secret!Password-77"
	status(t, ts.login(typed, "whatever", nil), 401)
	status(t, ts.login("olga", "Wrong!Password-1", nil), 401)

	known := ts.waitEvent("login.failure", id)
	if d, _ := known["details"].(map[string]any); d["reason"] != "invalid_password" {
		t.Fatalf("failure of an existing user: %v", known)
	}
	_, page, body := ts.audit(ts.adminToken(), "type=login.failure&per_page=100")
	unknown := 0
	for _, e := range page.Events {
		if e.Details["reason"] == "user_not_found" {
			unknown++
		}
	}
	if unknown == 0 {
		t.Fatalf("no user_not_found event: %s", body)
	}
	if strings.Contains(body, typed) {
		t.Fatalf("the typed username is in the audit trail: %s", body)
	}
	waitUntil(t, 5*time.Second, "audit lines in the log", func() bool {
		return strings.Contains(strings.Join(logs.lines(), "\n"), "user_not_found")
	})
	for _, l := range logs.lines() {
		if strings.Contains(l, typed) {
			t.Fatalf("the typed username is in the log: %s", l)
		}
	}
}
