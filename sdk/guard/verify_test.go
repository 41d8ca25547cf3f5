package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/internal/leakcheck"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const testAudience = "https://mt5.example.com"

// newTestGuard starts an issuer and a guard for it.
func newTestGuard(t testing.TB, edit func(*Config)) (*testissuer.Issuer, *Guard) {
	t.Helper()
	iss := testissuer.New()
	t.Cleanup(iss.Close)
	cfg := Config{Issuer: iss.URL, Audience: testAudience}
	if edit != nil {
		edit(&cfg)
	}
	g, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(g.Close)
	return iss, g
}

// sign builds a compact JWS from raw header and claims, signed by sig.
func sign(t testing.TB, hdr, claims any, sig func(signingInput string) []byte) string {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig(in))
}

func TestVerifyRejects(t *testing.T) {
	iss, g := newTestGuard(t, nil)
	now := time.Now()
	valid := func() wire.Claims { return iss.Claims("svc", testAudience, "trade:read") }
	with := func(f func(*wire.Claims)) wire.Claims { c := valid(); f(&c); return c }
	key := iss.SigningKey()

	pubDER, err := x509.MarshalPKIXPublicKey(key.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	hmacWithPublicKey := sign(t, map[string]string{"alg": "HS256", "typ": "at+jwt", "kid": key.ID}, valid(),
		func(in string) []byte { m := hmac.New(sha256.New, pubDER); m.Write([]byte(in)); return m.Sum(nil) })
	algNone := sign(t, map[string]string{"alg": "none", "typ": "at+jwt", "kid": key.ID}, valid(),
		func(string) []byte { return nil })
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unknownKid := iss.MintWith(&testissuer.Key{ID: "unknown", Alg: "ES256", Key: foreign}, "at+jwt", valid())
	wrongKeySameKid := iss.MintWith(&testissuer.Key{ID: key.ID, Alg: "ES256", Key: foreign}, "at+jwt", valid())

	good := iss.Mint(valid())
	parts := strings.Split(good, ".")
	tamperedClaims := with(func(c *wire.Claims) { c.Scopes = append(c.Scopes, "admin:system") })
	tc, _ := json.Marshal(tamperedClaims)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tc) + "." + parts[2]

	big := with(func(c *wire.Claims) { c.Username = strings.Repeat("x", 9000) })

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not-a-jwt"},
		{"four segments", good + ".x"},
		{"expired", iss.Mint(with(func(c *wire.Claims) {
			c.IssuedAt, c.Expiry = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))},
		{"expired beyond leeway", iss.Mint(with(func(c *wire.Claims) { c.Expiry = now.Add(-31 * time.Second).Unix() }))},
		{"not yet valid", iss.Mint(with(func(c *wire.Claims) { c.NotBefore = now.Add(time.Hour).Unix() }))},
		{"issued in the future", iss.Mint(with(func(c *wire.Claims) { c.IssuedAt = now.Add(time.Hour).Unix() }))},
		{"wrong issuer", iss.Mint(with(func(c *wire.Claims) { c.Issuer = "https://evil.example.com" }))},
		{"wrong audience", iss.Mint(with(func(c *wire.Claims) { c.Audience = wire.Audience{"https://other.example.com"} }))},
		{"no exp", iss.Mint(with(func(c *wire.Claims) { c.Expiry = 0 }))},
		{"no jti", iss.Mint(with(func(c *wire.Claims) { c.ID = "" }))},
		{"no sub", iss.Mint(with(func(c *wire.Claims) { c.Subject = "" }))},
		{"wrong typ", iss.MintWith(key, "JWT", valid())},
		{"id token typ", iss.MintWith(key, "id_token+jwt", valid())},
		{"alg none", algNone},
		{"HMAC with the public key", hmacWithPublicKey},
		{"unknown kid", unknownKid},
		{"signed by another key under a known kid", wrongKeySameKid},
		{"tampered payload", tampered},
		{"oversized", iss.Mint(big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := g.Verify(context.Background(), tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, %v; want ErrInvalidToken", c, err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.JWKSMinRefresh = time.Nanosecond })
	ed := iss.Rotate("EdDSA")
	es := iss.KeyByID("k1")
	tests := []struct {
		name  string
		token string
	}{
		{"ES256 at+jwt", iss.MintWith(es, "at+jwt", iss.Claims("svc", testAudience, "a"))},
		{"EdDSA", iss.MintWith(ed, "at+jwt", iss.Claims("svc", testAudience, "a"))},
		{"application/at+jwt", iss.MintWith(es, "application/at+jwt", iss.Claims("svc", testAudience, "a"))},
		{"upper-case typ", iss.MintWith(es, "AT+JWT", iss.Claims("svc", testAudience, "a"))},
		{"audience among several", iss.Mint(func() wire.Claims {
			c := iss.Claims("svc", "https://other", "a")
			c.Audience = append(c.Audience, testAudience)
			return c
		}())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := g.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "svc" || len(c.Scopes) != 1 || c.Scope != "a" {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.Algorithms = []string{EdDSA} })
	tok := iss.Mint(iss.Claims("svc", testAudience))
	if _, err := g.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("ES256 token with EdDSA-only guard: err = %v", err)
	}
	if _, err := New(context.Background(), Config{Issuer: "x", Audience: "y", Algorithms: []string{"HS256"}}); err == nil {
		t.Fatal("New accepted HS256")
	}
}

func TestKeyRotationRefetchesAndRateLimits(t *testing.T) {
	const minRefresh = 300 * time.Millisecond
	clk := &fakeClock{now: time.Now()}
	iss, g := newTestGuard(t, func(c *Config) { c.JWKSMinRefresh, c.Now = minRefresh, clk.Now })
	ctx := context.Background()
	if _, err := g.Verify(ctx, iss.Mint(iss.Claims("svc", testAudience))); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	clk.Add(minRefresh + time.Millisecond)
	before := iss.JWKSRequests.Load()
	iss.Rotate("ES256")
	if _, err := g.Verify(ctx, iss.Mint(iss.Claims("svc", testAudience))); err != nil {
		t.Fatalf("Verify after rotation: %v", err)
	}
	if got := iss.JWKSRequests.Load(); got != before+1 {
		t.Fatalf("JWKS requests after rotation = %d, want %d", got, before+1)
	}
	// Unknown kids within the rate limit do not fetch again.
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreign := &testissuer.Key{ID: "nope", Alg: "ES256", Key: pk}
	for range 5 {
		if _, err := g.Verify(ctx, iss.MintWith(foreign, "at+jwt", iss.Claims("svc", testAudience))); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("unknown kid: err = %v", err)
		}
	}
	if got := iss.JWKSRequests.Load(); got != before+1 {
		t.Fatalf("JWKS requests after unknown kids = %d, want %d", got, before+1)
	}
}

func TestStaleKeysWhenIssuerDown(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.JWKSMinRefresh = time.Millisecond })
	ctx := context.Background()
	if _, err := g.Verify(ctx, iss.Mint(iss.Claims("svc", testAudience))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tok := iss.Mint(iss.Claims("svc", testAudience))
	iss.Close()
	if _, err := g.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify with the issuer down: %v", err)
	}
}

func TestUnavailableBeforeKeys(t *testing.T) {
	// The guard's issuer answers 503 to everything, so the guard can never
	// have fetched its keys, however the goroutines are scheduled (a closed
	// issuer's port could be taken by another test's server meanwhile).
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	iss := testissuer.New()
	defer iss.Close()
	claims := iss.Claims("svc", testAudience)
	claims.Issuer = down.URL
	tok := iss.Mint(claims)
	g, err := New(context.Background(), Config{Issuer: down.URL, Audience: testAudience})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	c, err := g.Verify(context.Background(), tok)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidToken) || c != nil {
		t.Fatalf("Verify = %v, %v; want ErrUnavailable", c, err)
	}
	if g.Ready() {
		t.Fatal("Ready without keys")
	}
}

func TestMaxAge(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", defaultJWKSTTL},
		{"public, max-age=600", 10 * time.Minute},
		{"max-age=1", minJWKSTTL},
		{"max-age=99999999", maxJWKSTTL},
		{"no-store", minJWKSTTL},
		{"max-age=bogus", defaultJWKSTTL},
	}
	for _, tt := range tests {
		if got := maxAge(tt.header); got != tt.want {
			t.Errorf("maxAge(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestCacheBoundedAndExpiring(t *testing.T) {
	c := newTokenCache(4)
	now := time.Now()
	for i := range 10 {
		c.put(strings.Repeat("t", i+1), &wire.Claims{}, now.Add(time.Minute), now)
	}
	if n := c.len(); n != 4 {
		t.Fatalf("cache holds %d entries, want 4", n)
	}
	c.put("short", &wire.Claims{ID: "s"}, now.Add(time.Second), now)
	if _, ok := c.get("short", now); !ok {
		t.Fatal("fresh entry missing")
	}
	if _, ok := c.get("short", now.Add(2*time.Second)); ok {
		t.Fatal("stale entry served")
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	g, err := New(context.Background(), Config{Issuer: iss.URL, Audience: testAudience, RevocationPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, g)
	g.Close()
	leakcheck.Check(t, "guard.(*Guard)")
}

func waitReady(t testing.TB, g *Guard) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !g.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("guard not ready after 15s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
