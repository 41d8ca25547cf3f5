package server_test

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// testRedis returns the shared Redis URL, skipping the test when Redis is
// not running (a failure under CI=true).
func testRedis(t *testing.T) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("Redis at 127.0.0.1:6379 is unavailable: %v", err)
	}
	c.Close()
	return "redis://127.0.0.1:6379/0"
}

// tokenFrom asks for a client_credentials token, as if through a proxy
// that set X-Forwarded-For when xff is not empty.
func (ts *testServer) tokenFrom(id, secret, xff string) *response {
	ts.t.Helper()
	req, _ := http.NewRequest("POST", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {req.Header.Get("Authorization")}}
	if xff != "" {
		h.Set("X-Forwarded-For", xff)
	}
	return ts.do("POST", "/oauth2/token", h, strings.NewReader("grant_type=client_credentials"))
}

// expect429 checks the OAuth error shape and a Retry-After in [1, max] seconds.
func expect429(t *testing.T, r *response, max int) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	if r.str("error") != wire.ErrRateLimitExceeded || r.str("error_description") == "" {
		t.Fatalf("body %s, want the OAuth error shape with %s", r.Body, wire.ErrRateLimitExceeded)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > max {
		t.Fatalf("Retry-After %q, want 1..%d seconds", r.Header.Get("Retry-After"), max)
	}
}

// TestTokenRateLimit: a client limited to 3 tokens a minute gets 429 on
// the 4th, in memory, through Redis (shared by two servers), and with
// Redis unreachable (the per-replica memory fallback).
func TestTokenRateLimit(t *testing.T) {
	tests := []struct {
		name     string
		redis    func(t *testing.T) string
		shared   bool // a second server sharing the Redis sees the same budget
		fallback float64
	}{
		{"memory", func(*testing.T) string { return "" }, false, 0},
		{"redis", testRedis, true, 0},
		{"redis unreachable", func(t *testing.T) string { return "redis://" + freeAddr(t) }, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redisURL, prefix := tt.redis(t), uniquePrefix()
			withRedis := func(c serverConfig) { c.RedisURL, c.RedisPrefix = redisURL, prefix }
			ts := newTestServer(t, withRedis)
			body := map[string]any{"name": "Limited", "client_id": "limited", "scope_ids": []string{"trade:read"}, "rate_limit_per_minute": 3}
			id, secret := ts.createClient(body)
			for i := range 3 {
				if r := ts.tokenFrom(id, secret, ""); r.Status != 200 {
					t.Fatalf("token %d: %d %s", i+1, r.Status, r.Body)
				}
			}
			expect429(t, ts.tokenFrom(id, secret, ""), 20)
			m := scrape(t, ts.URL+"/metrics")
			if got := m[`permiso_rate_limited_requests_total{kind="client"}`]; got != 1 {
				t.Errorf("rate-limited requests metric = %v, want 1", got)
			}
			if got := m[`auth_requests_total{client_id="limited",grant_type="client_credentials",status="success"}`]; got != 3 {
				t.Errorf("tokens issued = %v, want 3", got)
			}
			if got := m["permiso_ratelimit_fallback"]; got != tt.fallback {
				t.Errorf("fallback gauge = %v, want %v", got, tt.fallback)
			}
			if tt.fallback == 1 && m["permiso_ratelimit_redis_errors_total"] < 1 {
				t.Error("Redis errors were not counted")
			}
			if !tt.shared {
				return
			}
			// Another replica (its own store, the same client_id) shares the budget.
			other := newTestServer(t, withRedis)
			id2, secret2 := other.createClient(body)
			expect429(t, other.tokenFrom(id2, secret2, ""), 20)
		})
	}
}

// TestAuthFailureLimit: after N failed authentications per IP or per
// client id within a minute, the next attempt is refused before its
// secret is checked (a correct secret gets 429 too).
func TestAuthFailureLimit(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		fail    [3][2]string // {client_id, X-Forwarded-For} of the failures
		tryXFF  string       // X-Forwarded-For of the correct attempt by the admin client
		kind    string       // the limit that refuses it
		freeXFF string       // an attempt from here by another client passes ("" to skip)
	}{
		{name: "per IP across client ids", fail: [3][2]string{{"u1", ""}, {"u2", ""}, {"u3", ""}}, kind: "auth_ip"},
		{name: "per client id across IPs", proxies: loopback,
			fail:   [3][2]string{{"permiso-admin", "198.51.100.1"}, {"permiso-admin", "198.51.100.2"}, {"permiso-admin", "2001:db8::1"}},
			tryXFF: "198.51.100.4", kind: "auth_client", freeXFF: "198.51.100.4"},
		{name: "X-Forwarded-For of an untrusted peer is ignored",
			fail:   [3][2]string{{"x1", "198.51.100.1"}, {"x2", "198.51.100.2"}, {"x3", "198.51.100.3"}},
			tryXFF: "198.51.100.9", kind: "auth_ip"},
		{name: "IPv6 /64 through a trusted proxy", proxies: loopback,
			fail:   [3][2]string{{"y1", "2001:db8:0:1::1"}, {"y2", "2001:db8:0:1::2"}, {"y3", "2001:db8:0:1::3"}},
			tryXFF: "2001:db8:0:1::99", kind: "auth_ip", freeXFF: "2001:db8:0:2::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, func(c serverConfig) { c.AuthFailuresPerMin = 3; c.TrustedProxies = tt.proxies })
			freeID, freeSecret := ts.createClient(map[string]any{"name": "Bystander", "scope_ids": []string{"trade:read"}})
			for _, f := range tt.fail {
				if r := ts.tokenFrom(f[0], "pms_wrong", f[1]); r.Status != 401 {
					t.Fatalf("failure for %s from %q: %d %s", f[0], f[1], r.Status, r.Body)
				}
			}
			expect429(t, ts.tokenFrom(ts.AdminID, ts.Secret, tt.tryXFF), 20)
			if tt.freeXFF != "" {
				if r := ts.tokenFrom(freeID, freeSecret, tt.freeXFF); r.Status != 200 {
					t.Fatalf("another client from %s: %d %s", tt.freeXFF, r.Status, r.Body)
				}
			}
			m := scrape(t, ts.URL+"/metrics")
			if got := m[`permiso_rate_limited_requests_total{kind="`+tt.kind+`"}`]; got != 1 {
				t.Errorf("%s refusals = %v, want 1", tt.kind, got)
			}
		})
	}
}
