package clientcredentials

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const downstream = "https://risk.example.com"

// newExchange starts an issuer where "mt5" may exchange tokens for
// downstream, and returns an Exchanger for it and a user token for it.
func newExchange(t testing.TB, edit func(*Config)) (*testissuer.Issuer, *Exchanger, func(scopes ...string) string) {
	t.Helper()
	iss := testissuer.New()
	t.Cleanup(iss.Close)
	iss.AddClient("mt5", testissuer.Client{Secret: "s3cret", Audiences: []string{downstream}})
	cfg := Config{IssuerURL: iss.URL, ClientID: "mt5", ClientSecret: "s3cret"}
	if edit != nil {
		edit(&cfg)
	}
	ex := cfg.Exchanger(context.Background())
	t.Cleanup(ex.Close)
	user := func(scopes ...string) string {
		c := iss.Claims("user-1", aud, scopes...)
		c.Type, c.ClientID = wire.ClaimTypeAccess, "dashboard"
		return iss.Mint(c)
	}
	return iss, ex, user
}

func claimsOf(t *testing.T, raw string) wire.Claims {
	t.Helper()
	tok, err := jwt.ParseUnverified(raw)
	if err != nil {
		t.Fatal(err)
	}
	var c wire.Claims
	if err := tok.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExchangeSendsRFC8693Form(t *testing.T) {
	iss, ex, user := newExchange(t, nil)
	subject := user("trade:read", "trade:open")
	tok, err := ex.Exchange(t.Context(), ExchangeRequest{SubjectToken: subject, Audiences: []string{downstream},
		Scopes: []string{"trade:read"}, ActorToken: "actor-token"})
	if err != nil {
		t.Fatal(err)
	}
	forms := iss.ExchangeForms()
	if len(forms) != 1 {
		t.Fatalf("%d exchanges", len(forms))
	}
	want := map[string]string{"grant_type": wire.GrantTokenExchange, "subject_token": subject,
		"subject_token_type": wire.TokenTypeAccessToken, "audience": downstream, "scope": "trade:read",
		"actor_token": "actor-token", "actor_token_type": wire.TokenTypeAccessToken}
	for k, v := range want {
		if got := forms[0].Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if forms[0].Has("requested_token_type") || forms[0].Has("client_secret") {
		t.Errorf("unexpected parameters: %v", forms[0])
	}
	c := claimsOf(t, tok.AccessToken)
	if c.Subject != "user-1" || c.Act == nil || c.Act.ClientID != "mt5" || !c.Audience.Contains(downstream) {
		t.Fatalf("exchanged claims = %+v", c)
	}
	if tok.Extra("issued_token_type") != wire.TokenTypeAccessToken || tok.Extra("scope") != "trade:read" {
		t.Fatalf("extra: %v %v", tok.Extra("issued_token_type"), tok.Extra("scope"))
	}
}

func TestExchangeCachedPerSubjectAudienceScope(t *testing.T) {
	iss, ex, user := newExchange(t, nil)
	ctx := t.Context()
	alice, bob := user("trade:read", "trade:open"), user("trade:read")
	get := func(subject string, scopes ...string) string {
		t.Helper()
		tok, err := ex.Token(ctx, subject, downstream, scopes...)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	a1 := get(alice, "trade:read")
	if a2 := get(alice, "trade:read"); a2 != a1 {
		t.Fatal("same subject, audience and scope: not served from the cache")
	}
	if n := len(iss.ExchangeForms()); n != 1 {
		t.Fatalf("exchanges = %d, want 1", n)
	}
	if get(alice, "trade:open") == a1 || get(bob, "trade:read") == a1 || get(alice) == a1 {
		t.Fatal("another scope or subject got the cached token")
	}
	if n := len(iss.ExchangeForms()); n != 4 {
		t.Fatalf("exchanges = %d, want 4", n)
	}
	if ex.cacheLen() != 4 {
		t.Fatalf("cache holds %d", ex.cacheLen())
	}
}

func TestExchangeConcurrentCallersShareOneRequest(t *testing.T) {
	iss, ex, user := newExchange(t, nil)
	subject := user("trade:read")
	var wg sync.WaitGroup
	got := make([]string, 16)
	for i := range got {
		wg.Go(func() {
			tok, err := ex.Token(t.Context(), subject, downstream)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		})
	}
	wg.Wait()
	for _, g := range got[1:] {
		if g != got[0] {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if n := len(iss.ExchangeForms()); n != 1 {
		t.Fatalf("exchanges = %d, want 1", n)
	}
}

func TestExchangeRefusalsAreOAuthErrors(t *testing.T) {
	_, ex, user := newExchange(t, nil)
	tests := []struct {
		name, subject, audience, scope, code string
	}{
		{"scope the subject lacks", user("trade:read"), downstream, "trade:open", wire.ErrInvalidScope},
		{"audience not allowed", user("trade:read"), "https://elsewhere.example.com", "", wire.ErrInvalidTarget},
		{"not a token", "garbage", downstream, "", wire.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var scopes []string
			if tt.scope != "" {
				scopes = []string{tt.scope}
			}
			_, err := ex.Token(t.Context(), tt.subject, tt.audience, scopes...)
			var we *wire.Error
			if !errors.As(err, &we) || we.Code != tt.code || we.Status != http.StatusBadRequest {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	if _, err := ex.Token(t.Context(), "", downstream); err == nil {
		t.Fatal("empty subject token accepted")
	}
	if ex.cacheLen() != 0 {
		t.Fatal("a refusal was cached")
	}
}

func TestExchangeCacheBounded(t *testing.T) {
	_, ex, user := newExchange(t, func(c *Config) { c.ExchangeCacheSize = 3 })
	for range 6 {
		if _, err := ex.Token(t.Context(), user("trade:read"), downstream); err != nil {
			t.Fatal(err)
		}
	}
	if n := ex.cacheLen(); n != 3 {
		t.Fatalf("cache holds %d, want 3", n)
	}
}

func TestExchangeExpiredTokenIsReplaced(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	iss, ex, user := newExchange(t, func(c *Config) { c.Now = func() time.Time { return clock() } })
	subject := user("trade:read")
	first, err := ex.Token(t.Context(), subject, downstream)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // past the exchanged token's expiry
	second, err := ex.Token(t.Context(), subject, downstream)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || len(iss.ExchangeForms()) != 2 {
		t.Fatal("an expired exchanged token was handed out")
	}
}

func TestTxnTokenNeverCached(t *testing.T) {
	iss, ex, user := newExchange(t, nil)
	subject := user("trade:open")
	req := ExchangeRequest{SubjectToken: subject, Scopes: []string{"trade:open"},
		RequestContext: json.RawMessage(`{"req_ip":"192.0.2.1"}`), RequestDetails: json.RawMessage(`{"symbol":"EURUSD"}`)}
	for range 2 {
		raw, err := ex.TxnToken(t.Context(), "trading.example", req)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseUnverified(raw)
		if err != nil || tok.Header.Type != wire.TxnTokenJWTType {
			t.Fatalf("txn token header %+v, %v", tok, err)
		}
	}
	forms := iss.ExchangeForms()
	if len(forms) != 2 {
		t.Fatalf("exchanges = %d, want 2 (never cached)", len(forms))
	}
	f := forms[0]
	if f.Get("requested_token_type") != wire.TokenTypeTxnToken || f.Get("audience") != "trading.example" ||
		f.Get("request_context") != `{"req_ip":"192.0.2.1"}` || f.Get("request_details") != `{"symbol":"EURUSD"}` {
		t.Fatalf("txn form = %v", f)
	}
	if _, err := ex.TxnToken(t.Context(), "trading.example", ExchangeRequest{SubjectToken: subject}); err == nil {
		t.Fatal("transaction token without a scope requested")
	}
	bad := req
	bad.RequestDetails = json.RawMessage(`["not","an","object"]`)
	if _, err := ex.TxnToken(t.Context(), "trading.example", bad); err == nil || !strings.Contains(err.Error(), "request_details") {
		t.Fatalf("non-object request_details: %v", err)
	}
}

// TestExchangeTransportActsForTheCaller runs the pattern the transport is
// for: a guarded service calls another for its caller.
func TestExchangeTransportActsForTheCaller(t *testing.T) {
	iss, ex, user := newExchange(t, nil)
	downGuard, err := guard.New(t.Context(), guard.Config{Issuer: iss.URL, Audience: downstream, TrustDomain: "trading.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer downGuard.Close()
	var mu sync.Mutex
	var seen []string
	down := httptest.NewServer(downGuard.Require(guard.ActingForUser(), guard.ActedBy("mt5"), guard.AllOf("trade:read"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			txn, _ := guard.TxnToken(r.Context())
			var txnID string
			if txn != nil {
				txnID = txn.Txn
			}
			seen = append(seen, guard.Subject(r.Context())+"|"+txnID)
		})))
	defer down.Close()

	upGuard, err := guard.New(t.Context(), guard.Config{Issuer: iss.URL, Audience: aud, TrustDomain: "trading.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer upGuard.Close()
	hc := &http.Client{Transport: ex.Transport(nil, downstream, "trade:read")}
	up := httptest.NewServer(upGuard.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, down.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		w.WriteHeader(resp.StatusCode)
	})))
	defer up.Close()

	subject := user("trade:read", "trade:open")
	txn, err := ex.TxnToken(t.Context(), "trading.example", ExchangeRequest{SubjectToken: subject, Scopes: []string{"trade:read"}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(withTxn bool) int {
		req, _ := http.NewRequest(http.MethodGet, up.URL, nil)
		req.Header.Set("Authorization", "Bearer "+subject)
		if withTxn {
			req.Header.Set(wire.HeaderTxnToken, txn)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(true); got != 200 {
		t.Fatalf("status = %d", got)
	}
	if got := call(false); got != 200 {
		t.Fatalf("status = %d", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "user-1|txn-"+claimsOf(t, subject).ID || seen[1] != "user-1|" {
		t.Fatalf("downstream saw %v", seen)
	}
	// Without a subject in the context the transport refuses to call.
	req, _ := http.NewRequest(http.MethodGet, down.URL, nil)
	if _, err := hc.Do(req); !errors.Is(err, ErrNoSubject) {
		t.Fatalf("call without a subject: %v", err)
	}
}
