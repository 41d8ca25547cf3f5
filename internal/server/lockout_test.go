package server_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestLockoutPerAddressOverHTTP: through the original's login behind a
// trusted proxy, wrong passwords from one address lock that address only;
// the user signs in from another, keeps their tokens during a lock, and a
// spray from many addresses locks every address until the lock ends.
func TestLockoutPerAddressOverHTTP(t *testing.T) {
	ts := peopleServer(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	id := ts.register("petra")
	from := func(ip, password string) *response {
		body := url.Values{"username": {"petra"}, "password": {password}}.Encode()
		return ts.do("POST", "/api/v1/auth/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"X-Forwarded-For": {ip}}, strings.NewReader(body))
	}
	home := from("198.51.100.7", goodPassword)
	status(t, home, 200)
	access, refresh := home.str("access_token"), home.str("refresh_token")

	for range 5 {
		status(t, from("203.0.113.9", "Wrong!Password-1"), 401)
	}
	locked := from("203.0.113.9", goodPassword)
	status(t, locked, 423)
	if locked.str("error") != "account_locked" || locked.str("locked_until") == "" {
		t.Fatalf("body: %s", locked.Body)
	}
	status(t, from("198.51.100.7", goodPassword), 200)
	status(t, from("203.0.113.9", goodPassword), 423)
	u := ts.jsonReq("GET", "/api/v1/users/"+id, ts.adminToken(), nil)
	if l, _ := u.JSON["lockouts"].([]any); u.JSON["is_locked"] != true || len(l) != 1 || l[0].(map[string]any)["source"] != "203.0.113.9" {
		t.Fatalf("the user's lockouts: %s", u.Body)
	}
	ev := ts.waitEvent("account.locked", "")
	if d, _ := ev["details"].(map[string]any); d["source"] != "203.0.113.9" || d["scope"] != "source" {
		t.Fatalf("account.locked event: %v", ev)
	}

	// Many addresses: with the five failures above, fifteen more within
	// the lockout duration lock the account from every address, home
	// included; from then on no password is checked.
	for i := range 20 {
		want := 401
		if i >= 15 {
			want = 423
		}
		status(t, from(fmt.Sprintf("2001:db8:%x::1", i+1), "Wrong!Password-1"), want)
	}
	status(t, from("198.51.100.7", goodPassword), 423)
	// The earlier login's tokens still work: a lock refuses new logins only.
	status(t, ts.jsonReq("GET", "/api/v1/users/me", access, nil), 200)
	status(t, ts.refreshOriginal(refresh), 200)

	ts.Clock.Advance(15*time.Minute + time.Second)
	status(t, from("198.51.100.7", goodPassword), 200)
	status(t, from("203.0.113.9", goodPassword), 200)
}

// TestMaxUserLoginAttemptsOption: the limit across addresses is the
// server's to set.
func TestMaxUserLoginAttemptsOption(t *testing.T) {
	ts := peopleServer(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.MaxUserLoginAttempts = 6
	})
	ts.register("quentin")
	from := func(ip, password string) *response {
		body := url.Values{"username": {"quentin"}, "password": {password}}.Encode()
		return ts.do("POST", "/api/v1/auth/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"X-Forwarded-For": {ip}}, strings.NewReader(body))
	}
	for i := range 6 {
		status(t, from(fmt.Sprintf("192.0.2.%d", i+1), "Wrong!Password-1"), 401)
	}
	status(t, from("198.51.100.7", goodPassword), 423)
}
