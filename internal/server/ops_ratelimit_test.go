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
// client id within a minute, the next attempt is refused before anything
// guessable is checked (429, even with the right imported secret), while a
// client presenting its correct server-generated secret still gets its
// token: one noisy neighbour behind a proxy, or someone guessing at a
// client id, does not lock services out. In memory and through Redis.
func TestAuthFailureLimit(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	const imported = "an-imported-secret-of-enough-length"
	tests := []struct {
		name    string
		proxies []netip.Prefix
		fail    [3][2]string // {client_id, X-Forwarded-For} of the failures; "target" is the client tried next
		tryXFF  string       // X-Forwarded-For of the attempts with the right secret
		kind    string       // the limit that refuses the imported secret
		freeXFF string       // an attempt from here by another client passes ("" to skip)
		redis   bool
	}{
		{name: "per IP across client ids", fail: [3][2]string{{"u1", ""}, {"u2", ""}, {"u3", ""}}, kind: "auth_ip"},
		{name: "per IP across client ids, through Redis", fail: [3][2]string{{"u1", ""}, {"u2", ""}, {"u3", ""}}, kind: "auth_ip", redis: true},
		{name: "per client id across IPs", proxies: loopback,
			fail:   [3][2]string{{"target", "198.51.100.1"}, {"target", "198.51.100.2"}, {"target", "2001:db8::1"}},
			tryXFF: "198.51.100.4", kind: "auth_client", freeXFF: "198.51.100.4"},
		{name: "per client id across IPs, through Redis", proxies: loopback,
			fail:   [3][2]string{{"target", "198.51.100.1"}, {"target", "198.51.100.2"}, {"target", "2001:db8::1"}},
			tryXFF: "198.51.100.4", kind: "auth_client", freeXFF: "198.51.100.4", redis: true},
		{name: "X-Forwarded-For of an untrusted peer is ignored",
			fail:   [3][2]string{{"x1", "198.51.100.1"}, {"x2", "198.51.100.2"}, {"x3", "198.51.100.3"}},
			tryXFF: "198.51.100.9", kind: "auth_ip"},
		{name: "IPv6 /64 through a trusted proxy", proxies: loopback,
			fail:   [3][2]string{{"y1", "2001:db8:0:1::1"}, {"y2", "2001:db8:0:1::2"}, {"y3", "2001:db8:0:1::3"}},
			tryXFF: "2001:db8:0:1::99", kind: "auth_ip", freeXFF: "2001:db8:0:2::1"},
	}
	for _, tt := range tests {
		for _, secretKind := range []string{"generated", "imported"} {
			t.Run(tt.name+"/"+secretKind, func(t *testing.T) {
				redisURL, prefix := "", uniquePrefix()
				if tt.redis {
					redisURL = testRedis(t)
				}
				ts := newTestServer(t, func(c serverConfig) {
					c.AuthFailuresPerMin = 3
					c.TrustedProxies = tt.proxies
					c.RedisURL, c.RedisPrefix = redisURL, prefix
				})
				body := map[string]any{"name": "Target", "client_id": "target", "scope_ids": []string{"trade:read"}}
				if secretKind == "imported" {
					body["client_secret"] = imported
				}
				id, secret := ts.createClient(body)
				freeID, freeSecret := ts.createClient(map[string]any{"name": "Bystander", "scope_ids": []string{"trade:read"}})
				for _, f := range tt.fail {
					if r := ts.tokenFrom(f[0], "pms_wrong", f[1]); r.Status != 401 {
						t.Fatalf("failure for %s from %q: %d %s", f[0], f[1], r.Status, r.Body)
					}
				}
				// A wrong secret is refused unchecked, whatever it is.
				expect429(t, ts.tokenFrom(id, "pms_still_wrong", tt.tryXFF), 70)
				r := ts.tokenFrom(id, secret, tt.tryXFF)
				if secretKind == "generated" {
					if r.Status != 200 {
						t.Fatalf("the right generated secret past the budget: %d %s", r.Status, r.Body)
					}
				} else {
					expect429(t, r, 70)
				}
				if tt.freeXFF != "" {
					if r := ts.tokenFrom(freeID, freeSecret, tt.freeXFF); r.Status != 200 {
						t.Fatalf("another client from %s: %d %s", tt.freeXFF, r.Status, r.Body)
					}
				}
				want := 1.0
				if secretKind == "imported" {
					want = 2
				}
				m := scrape(t, ts.URL+"/metrics")
				if got := m[`permiso_rate_limited_requests_total{kind="`+tt.kind+`"}`]; got != want {
					t.Errorf("%s refusals = %v, want %v", tt.kind, got, want)
				}
			})
		}
	}
}

// TestUnknownClientIDAnsweredAsWrongSecret: client ids are not secrets
// (RFC 6749 §2.2), so an unknown one gets exactly the answer of a wrong
// secret for a known one, and spends the same failure budget: neither
// tells the caller whether the client exists.
func TestUnknownClientIDAnsweredAsWrongSecret(t *testing.T) {
	ts := newTestServer(t, func(c serverConfig) { c.AuthFailuresPerMin = 3 })
	id, _ := ts.createClient(map[string]any{"name": "Known", "scope_ids": []string{"trade:read"}})
	wrong := ts.tokenFrom(id, "pms_wrong", "")
	unknown := ts.tokenFrom("no-such-client", "pms_wrong", "")
	if wrong.Status != http.StatusUnauthorized || unknown.Status != wrong.Status || string(unknown.Body) != string(wrong.Body) ||
		unknown.Header.Get("WWW-Authenticate") != wrong.Header.Get("WWW-Authenticate") {
		t.Fatalf("wrong secret: %d %s %q; unknown client: %d %s %q", wrong.Status, wrong.Body, wrong.Header.Get("WWW-Authenticate"),
			unknown.Status, unknown.Body, unknown.Header.Get("WWW-Authenticate"))
	}
	// Two failures spent from this address's budget of three: one more of
	// either kind spends the rest, and then both are refused alike.
	if r := ts.tokenFrom("another-unknown", "pms_wrong", ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("third failure: %d %s", r.Status, r.Body)
	}
	a, b := ts.tokenFrom(id, "pms_wrong", ""), ts.tokenFrom("no-such-client", "pms_wrong", "")
	expect429(t, a, 70)
	expect429(t, b, 70)
	if string(a.Body) != string(b.Body) {
		t.Fatalf("refusals differ: %s / %s", a.Body, b.Body)
	}
}
