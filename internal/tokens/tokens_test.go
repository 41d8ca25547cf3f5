package tokens_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/sdk/wire"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t testing.TB, alg string, clk *clock) (*tokens.Service, *keys.Manager, *sqlstore.Tenant) {
	t.Helper()
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(t.TempDir(), "t.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db := root.ForTenant(store.DefaultTenant)
	km, err := keys.New(keys.Config{Store: db, MasterKey: []byte(strings.Repeat("k", 32)), Alg: alg, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	return tokens.New(tokens.Config{Keys: km, Issuer: "https://issuer.example", Now: clk.now}), km, db
}

func TestMintVerify(t *testing.T) {
	for _, alg := range keys.Algorithms {
		t.Run(alg, func(t *testing.T) {
			clk := &clock{time.Unix(1_800_000_000, 0)}
			svc, _, _ := newService(t, alg, clk)
			tok, signed, err := svc.Mint(wire.Claims{Subject: "svc", ClientID: "svc", Scope: "a b", Scopes: []string{"a", "b"},
				Audience: wire.Audience{"https://api.example"}}, 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			c, err := svc.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != signed.ID || len(c.ID) < 16 || c.Issuer != "https://issuer.example" || c.Expiry != clk.t.Unix()+600 || !c.Audience.Contains("https://api.example") {
				t.Fatalf("claims %+v", c)
			}
			clk.t = clk.t.Add(11 * time.Minute)
			if _, err := svc.Verify(tok); !errors.Is(err, tokens.ErrExpired) {
				t.Fatalf("expired token: %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	svc, km, _ := newService(t, keys.ES256, clk)
	tok, _, err := svc.Mint(wire.Claims{Subject: "s", ClientID: "s"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h, p, s := split(tok)
	enc := base64.RawURLEncoding
	hdr := func(json string) string { return enc.EncodeToString([]byte(json)) }
	kid := km.Signer().KID
	jwks, _ := km.JWKS()
	mac := hmac.New(sha256.New, jwks)
	mac.Write([]byte(hdr(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`) + "." + p))
	hmacTok := hdr(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`) + "." + p + "." + enc.EncodeToString(mac.Sum(nil))
	future, _, _ := svc.Mint(wire.Claims{Subject: "s", ClientID: "s"}, time.Hour)
	noSub, _, err := svc.Mint(wire.Claims{ClientID: "s"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := map[string]string{
		"empty":          "",
		"two parts":      h + "." + p,
		"four parts":     tok + ".x",
		"bad base64":     h + ".%%%." + s,
		"alg none":       hdr(`{"alg":"none","typ":"at+jwt","kid":"`+kid+`"}`) + "." + p + ".",
		"hmac confusion": hmacTok,
		"wrong typ":      hdr(`{"alg":"ES256","kid":"`+kid+`","typ":"JWT"}`) + "." + p + "." + s,
		"unknown kid":    hdr(`{"alg":"ES256","kid":"nope","typ":"at+jwt"}`) + "." + p + "." + s,
		"tampered":       h + "." + enc.EncodeToString([]byte(`{"sub":"admin","iss":"https://issuer.example","jti":"x","exp":9999999999}`)) + "." + s,
		"bad signature":  h + "." + p + "." + enc.EncodeToString(make([]byte, 64)),
		"crit header":    hdr(`{"alg":"ES256","kid":"`+kid+`","typ":"at+jwt","crit":["x"]}`) + "." + p + "." + s,
		"oversized":      h + "." + strings.Repeat("A", tokens.MaxTokenBytes) + "." + s,
		"no sub":         noSub, // an access token always names its subject
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := svc.Verify(raw); !errors.Is(err, tokens.ErrInvalid) {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
	// Not yet valid: a token minted in the future (beyond the leeway).
	clk.t = clk.t.Add(-time.Hour)
	if _, err := svc.Verify(future); !errors.Is(err, tokens.ErrNotYet) {
		t.Errorf("future token: %v", err)
	}
}

func split(tok string) (string, string, string) {
	p := strings.Split(tok, ".")
	return p[0], p[1], p[2]
}

func TestWrongIssuerRejected(t *testing.T) {
	clk := &clock{time.Now()}
	svc, km, _ := newService(t, keys.ES256, clk)
	other := tokens.New(tokens.Config{Keys: km, Issuer: "https://other.example", Now: clk.now})
	tok, _, _ := other.Mint(wire.Claims{Subject: "s"}, time.Hour)
	if _, err := svc.Verify(tok); err == nil {
		t.Fatal("token of another issuer accepted")
	}
}

func TestOpaque(t *testing.T) {
	tok, hash := tokens.NewOpaque(tokens.RefreshPrefix)
	if !strings.HasPrefix(tok, "pmr_") || len(tok) < 40 || string(hash) != string(tokens.HashOpaque(tok)) {
		t.Fatalf("%q", tok)
	}
	tok2, _ := tokens.NewOpaque(tokens.RefreshPrefix)
	if tok == tok2 {
		t.Fatal("not random")
	}
}

func BenchmarkMint(b *testing.B) {
	for _, alg := range keys.Algorithms {
		b.Run(alg, func(b *testing.B) {
			svc, _, _ := newService(b, alg, &clock{time.Now()})
			c := wire.Claims{Subject: "svc", ClientID: "svc", Scope: "trade:read market:data", Scopes: []string{"trade:read", "market:data"},
				Audience: wire.Audience{"https://mt5.example"}, Type: "service"}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := svc.Mint(c, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	_, km, _ := newService(b, keys.ES256, &clock{time.Now()})
	svc := tokens.New(tokens.Config{Keys: km, Issuer: "https://issuer.example", VerifiedCacheSize: -1})
	tok, _, _ := svc.Mint(wire.Claims{Subject: "svc", ClientID: "svc", Scopes: []string{"a"}}, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func TestVerifiedCacheBoundedAndChecksTimes(t *testing.T) {
	clk := &clock{time.Unix(1_800_000_000, 0)}
	_, km, _ := newService(t, keys.ES256, clk)
	svc := tokens.New(tokens.Config{Keys: km, Issuer: "https://issuer.example", Now: clk.now, VerifiedCacheSize: 20})
	var toks []string
	for range 50 {
		tok, _, err := svc.Mint(wire.Claims{Subject: "s"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Verify(tok); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	for _, tok := range toks {
		if _, err := svc.Verify(tok); err != nil {
			t.Fatalf("second check: %v", err)
		}
	}
	clk.t = clk.t.Add(2 * time.Minute)
	for _, tok := range toks {
		if _, err := svc.Verify(tok); !errors.Is(err, tokens.ErrExpired) {
			t.Fatalf("an expired token passed through the cache: %v", err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	svc, _, _ := newService(b, keys.ES256, &clock{time.Now()})
	tok, _, _ := svc.Mint(wire.Claims{Subject: "svc", ClientID: "svc", Scopes: []string{"a"}}, time.Hour)
	svc.Verify(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
