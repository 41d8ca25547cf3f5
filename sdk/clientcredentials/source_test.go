package clientcredentials

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/sdk/internal/leakcheck"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const aud = "https://mt5.example.com"

// newIssuer starts an issuer with one client "bot" and returns a Config
// for it.
func newIssuer(t testing.TB, c testissuer.Client) (*testissuer.Issuer, Config) {
	t.Helper()
	iss := testissuer.New()
	t.Cleanup(iss.Close)
	if c.Secret == "" {
		c.Secret = "s3cret"
	}
	if c.Scopes == nil {
		c.Scopes = []string{"trade:read", "market:data"}
	}
	c.Audiences = append(c.Audiences, aud, "https://other.example.com")
	iss.AddClient("bot", c)
	return iss, Config{IssuerURL: iss.URL, ClientID: "bot", ClientSecret: c.Secret, Audience: aud}
}

func TestTokenCachedAndShared(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	var hits, fetches atomic.Int64
	cfg.Hooks = Hooks{OnCacheHit: func() { hits.Add(1) }, OnFetch: func(time.Duration, error) { fetches.Add(1) }}
	src := cfg.TokenSource(context.Background())
	defer src.Close()

	var wg sync.WaitGroup
	tokens := make([]string, 20)
	for i := range tokens {
		wg.Go(func() {
			tok, err := src.Token()
			if err != nil {
				t.Error(err)
				return
			}
			tokens[i] = tok.AccessToken
		})
	}
	wg.Wait()
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	if n := iss.TokenRequests.Load(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	if fetches.Load() != 1 || hits.Load() < 1 {
		t.Fatalf("hooks: fetches=%d hits=%d", fetches.Load(), hits.Load())
	}
}

func TestCachePerScopesAndAudience(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	ctx := context.Background()
	a, err := src.TokenFor(ctx, aud, "trade:read", "market:data")
	if err != nil {
		t.Fatal(err)
	}
	b, err := src.TokenFor(ctx, aud, "market:data", "trade:read")
	if err != nil {
		t.Fatal(err)
	}
	c, err := src.TokenFor(ctx, "https://other.example.com", "market:data")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.AccessToken == c.AccessToken {
		t.Fatal("cache keys do not follow (sorted scopes, audience)")
	}
	if a.Extra("scope") != "market:data trade:read" {
		t.Fatalf("scope = %v", a.Extra("scope"))
	}
	if n := iss.TokenRequests.Load(); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
}

func TestClientAuthentication(t *testing.T) {
	tests := []struct {
		name, id, secret, method string
	}{
		{"basic", "bot", "s3cret", ""},
		{"basic with reserved characters", "bot:1", "p%ss w+rd:é", wire.AuthClientSecretBasic},
		{"post", "bot", "s3cret", wire.AuthClientSecretPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := testissuer.New()
			defer iss.Close()
			iss.AddClient(tt.id, testissuer.Client{Secret: tt.secret, Audiences: []string{aud}})
			cfg := Config{IssuerURL: iss.URL, ClientID: tt.id, ClientSecret: tt.secret, AuthMethod: tt.method}
			tok, err := cfg.Token(context.Background())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
				t.Fatalf("token = %+v", tok)
			}
		})
	}
}

func TestBackgroundRefreshBeforeExpiry(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{Lifetime: 2 * time.Second})
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	first, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	// The issuer counts a request when it arrives; the source holds the new
	// token only once the answer is in, so poll for the token itself.
	deadline := time.Now().Add(15 * time.Second) // a bound, not the expectation
	var second *oauth2.Token
	for {
		if second, err = src.Token(); err != nil {
			t.Fatal(err)
		}
		if second.AccessToken != first.AccessToken {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no background refresh within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := iss.TokenRequests.Load(); n < 2 {
		t.Fatalf("token requests = %d: the new token came from no request", n)
	}
	if second.Expiry.Sub(first.Expiry) <= 0 {
		t.Fatal("refreshed token does not live longer")
	}
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{Lifetime: 2 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	src := cfg.TokenSource(ctx)
	if _, err := src.Token(); err != nil {
		t.Fatal(err)
	}
	cancel()
	src.Close()
	// With the background goroutine gone (leakcheck waits for it), no
	// refresh can come later: the count is final.
	leakcheck.Check(t, "clientcredentials.(*Source)")
	if n := iss.TokenRequests.Load(); n != 1 {
		t.Fatalf("token requests after Close = %d, want 1", n)
	}
	// The closed source still serves tokens on demand.
	if _, err := src.Token(); err != nil {
		t.Fatalf("Token after Close: %v", err)
	}
}

func TestDiscoveryFallbackAndIssuerCheck(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	oidc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// The issuer below is this server's own URL, set after start.
		_, _ = w.Write([]byte(`{"issuer":"` + "http://" + r.Host + `","token_endpoint":"` + iss.URL + `/token"}`))
	}))
	defer oidc.Close()
	cfg.IssuerURL = oidc.URL
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatalf("Token via openid-configuration: %v", err)
	}
	cfg.IssuerURL = oidc.URL + "/"
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatalf("Token with a trailing slash: %v", err)
	}

	lying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"https://evil.example.com","token_endpoint":"https://evil.example.com/token"}`))
	}))
	defer lying.Close()
	cfg.IssuerURL = lying.URL
	cfg.MaxRetries = -1
	if _, err := cfg.Token(context.Background()); err == nil {
		t.Fatal("Token accepted metadata naming another issuer")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty", Config{}},
		{"no secret", Config{IssuerURL: "http://x", ClientID: "a"}},
		{"bad auth method", Config{IssuerURL: "http://x", ClientID: "a", ClientSecret: "b", AuthMethod: "private_key_jwt"}},
		{"missing secret file", Config{IssuerURL: "http://127.0.0.1:1", ClientID: "a", ClientSecretFile: "/nonexistent/secret", MaxRetries: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.cfg.TokenSource(context.Background())
			defer src.Close()
			if _, err := src.Token(); err == nil {
				t.Fatal("Token succeeded")
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		EnvIssuer: "http://127.0.0.1:8000", EnvClientID: "bot", EnvClientSecret: "s",
		EnvScopes: "trade:read, market:data", EnvAudience: aud,
	}
	cfg := fromEnv(func(k string) string { return env[k] })
	if cfg.IssuerURL != env[EnvIssuer] || cfg.ClientID != "bot" || cfg.ClientSecret != "s" || cfg.Audience != aud ||
		len(cfg.Scopes) != 2 || cfg.Scopes[1] != "market:data" {
		t.Fatalf("fromEnv = %+v", cfg)
	}
}

func TestInvalidClientTyped(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	cfg.ClientSecret = "wrong"
	_, err := cfg.TokenSource(context.Background()).Token()
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.ErrInvalidClient || we.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v, want *wire.Error invalid_client 401", err)
	}
	if n := iss.TokenRequests.Load(); n != 1 {
		t.Fatalf("invalid_client was retried: %d requests", n)
	}
}
