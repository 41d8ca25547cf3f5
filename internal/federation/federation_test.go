package federation_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// TestVerifiedTokensAreRemembered: a reused token is verified once; its
// times and age are still checked on every use, and a change of the trusts
// makes it verified afresh.
func TestVerifiedTokensAreRemembered(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t)
	key := jwttest.NewKey(t, "ES256", "k1")
	tr, err := db.CreateTrust(ctx, store.Trust{Name: "ci", Issuer: "https://ci.example.com", KeySource: store.KeySourceJWKS,
		JWKS: jwttest.JWKS(key), Audience: "permiso", MaxTokenAge: time.Hour, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.CreateClient(ctx, store.Client{ClientID: "deployer", Type: "confidential", TokenEndpointAuthMethod: wire.AuthFederatedJWT})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateTrustBinding(ctx, store.TrustBinding{TrustID: tr.ID, ClientID: c.ID, Subject: "job"}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	f := federation.New(federation.Config{Store: db, Issuer: "https://permiso.example.com", Now: clk.Now})
	if err := f.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	mint := func(k *jwttest.Key) string {
		now := clk.Now()
		return k.Sign(t, map[string]any{"iss": "https://ci.example.com", "sub": "job", "aud": "permiso",
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}, nil)
	}
	verify := func(raw string) (bool, *federation.Failure) {
		tok, err := jwt.ParseUnverified(raw)
		if err != nil {
			t.Fatal(err)
		}
		m, ok, failure := f.Find(wire.AssertionTypeJWTBearer, tok)
		if !ok || failure != nil || m.ClientID != "deployer" {
			t.Fatalf("Find: %v %v %+v", ok, failure, m)
		}
		return f.Verify(ctx, m, raw)
	}
	tok := mint(key)
	if first, failure := verify(tok); failure != nil || !first {
		t.Fatalf("first use: %v, %+v", first, failure)
	}
	if first, failure := verify(tok); failure != nil || first {
		t.Fatalf("second use: first=%v, %+v (want remembered)", first, failure)
	}
	if m, ok := f.Remembered(wire.AssertionTypeJWTBearer, tok); !ok || m.ClientID != "deployer" || m.Subject != "job" {
		t.Fatalf("Remembered: %v %+v", ok, m)
	}
	if _, ok := f.Remembered(wire.AssertionTypeJWTSPIFFE, tok); ok {
		t.Fatal("remembered under another assertion type")
	}
	forged := mint(jwttest.NewKey(t, "ES256", "k1"))
	for range 2 { // a refusal is never remembered as a success
		if _, failure := verify(forged); failure == nil || failure.Reason != "assertion_signature" {
			t.Fatalf("forged: %+v", failure)
		}
	}
	clk.Add(11 * time.Minute) // past exp (and the leeway)
	if _, failure := verify(tok); failure == nil || failure.Reason != "assertion_expired" {
		t.Fatalf("remembered token after exp: %+v", failure)
	}

	// A trust change starts afresh: the remembered success does not carry
	// over to the trust as it is now.
	tok = mint(key)
	verify(tok)
	if _, err := db.UpdateTrust(ctx, "ci", func(tr store.Trust) (store.Trust, error) { tr.Active = false; return tr, nil }); err != nil {
		t.Fatal(err)
	}
	f.Reload(ctx)
	if _, ok := f.Remembered(wire.AssertionTypeJWTBearer, tok); ok {
		t.Fatal("remembered across a trust change")
	}
	if _, failure := verify(tok); failure == nil || failure.Reason != "trust_disabled" {
		t.Fatalf("disabled trust: %+v", failure)
	}
	if _, err := db.UpdateTrust(ctx, "ci", func(tr store.Trust) (store.Trust, error) {
		tr.Active, tr.Audience = true, "someone-else"
		return tr, nil
	}); err != nil {
		t.Fatal(err)
	}
	f.Reload(ctx)
	if first, failure := verify(tok); failure == nil || failure.Reason != "assertion_aud" || first {
		t.Fatalf("after the audience changed: %v %+v", first, failure)
	}
}
