package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

const tokenURI = "https://auth.example.com/oauth2/token"

func newVerifier(t testing.TB, c *clock, mod func(*dpop.Config)) *dpop.Verifier {
	t.Helper()
	cfg := dpop.Config{Replay: dpop.NewMemoryReplay(100, c.Now), Now: c.Now}
	if mod != nil {
		mod(&cfg)
	}
	v, err := dpop.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignerProofsVerify(t *testing.T) {
	for _, kind := range []string{"P256", "P384", "P521", "Ed25519", "RSA"} {
		t.Run(kind, func(t *testing.T) {
			c := newClock()
			v := newVerifier(t, c, nil)
			s := signer(t, key(t, kind, "a"))
			proof, err := s.Proof("GET", "https://api.example.com/v1/orders?x=1#f", dpop.ProofOptions{AccessToken: "tok", IssuedAt: c.Now()})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "GET",
				URI: "https://api.example.com/v1/orders?y=2", AccessToken: "tok", JKT: s.Thumbprint()})
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != s.Thumbprint() || p.Algorithm != s.Algorithm() || !p.IssuedAt.Equal(c.Now()) || p.ID == "" {
				t.Fatalf("proof = %+v, signer %s %s", p, s.Algorithm(), s.Thumbprint())
			}
			tok, err := jwt.ParseUnverified(proof)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(tok.Payload), "x=1") || strings.Contains(string(tok.Payload), `"nonce"`) {
				t.Fatalf("htu keeps the query, or an empty nonce is sent: %s", tok.Payload)
			}
		})
	}
}

func TestNewSignerRefuses(t *testing.T) {
	if _, err := dpop.NewSigner(key(t, "RSA1024", "a")); err == nil {
		t.Error("1024-bit RSA key accepted")
	}
	if _, err := dpop.NewSigner(nil); err == nil {
		t.Error("nil key accepted")
	}
}

// TestVerifyRefuses walks RFC 9449 §4.3 (and §11.1), one refusal per rule.
func TestVerifyRefuses(t *testing.T) {
	k := key(t, "P256", "a").(*ecdsa.PrivateKey)
	other := key(t, "P256", "b").(*ecdsa.PrivateKey)
	good := func(mod func(h, c map[string]any)) func(*testing.T, *clock) string {
		return func(t *testing.T, c *clock) string {
			h, cl := proofHeader(t, k), proofClaims(tokenURI, c.Now())
			if mod != nil {
				mod(h, cl)
			}
			return forge(t, k, h, cl)
		}
	}
	withPrivate := func(h, _ map[string]any) {
		jwk := h["jwk"].(map[string]any)
		d, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		jwk["d"] = enc.EncodeToString(d)
	}
	tests := []struct {
		name  string
		proof func(*testing.T, *clock) string
		twice bool // send the proof in two headers
		req   func(*dpop.Request)
		want  error
	}{
		{name: "genuine", proof: good(nil)},
		{name: "1: no header", proof: func(*testing.T, *clock) string { return "" }, want: dpop.ErrMissing},
		{name: "1: two headers", proof: good(nil), twice: true, want: dpop.ErrMultiple},
		{name: "2: not a JWT", proof: func(*testing.T, *clock) string { return "not-a-jwt" }, want: dpop.ErrMalformed},
		{name: "2: two proofs in one header", proof: func(t *testing.T, c *clock) string {
			p := good(nil)(t, c)
			return p + ", " + p
		}, want: dpop.ErrMalformed},
		{name: "3: no jti", proof: good(func(_, c map[string]any) { delete(c, "jti") }), want: dpop.ErrMalformed},
		{name: "3: no iat", proof: good(func(_, c map[string]any) { delete(c, "iat") }), want: dpop.ErrMalformed},
		{name: "3: no htm", proof: good(func(_, c map[string]any) { delete(c, "htm") }), want: dpop.ErrMalformed},
		{name: "3: no htu", proof: good(func(_, c map[string]any) { delete(c, "htu") }), want: dpop.ErrMalformed},
		{name: "3: htm not a string", proof: good(func(_, c map[string]any) { c["htm"] = 1 }), want: dpop.ErrMalformed},
		{name: "3: jti too long", proof: good(func(_, c map[string]any) { c["jti"] = strings.Repeat("j", 300) }), want: dpop.ErrMalformed},
		{name: "4: typ jwt", proof: good(func(h, _ map[string]any) { h["typ"] = "JWT" }), want: dpop.ErrMalformed},
		{name: "4: no typ", proof: good(func(h, _ map[string]any) { delete(h, "typ") }), want: dpop.ErrMalformed},
		{name: "4: typ with application/ prefix", proof: good(func(h, _ map[string]any) { h["typ"] = "application/dpop+jwt" })},
		{name: "5: alg none", proof: func(t *testing.T, c *clock) string {
			p := good(func(h, _ map[string]any) { h["alg"] = "none" })(t, c)
			return p[:strings.LastIndexByte(p, '.')+1]
		}, want: dpop.ErrMalformed},
		{name: "5: alg HS256", proof: good(func(h, _ map[string]any) { h["alg"] = "HS256" }), want: dpop.ErrMalformed},
		{name: "6: signed by another key", proof: func(t *testing.T, c *clock) string {
			return forge(t, other, proofHeader(t, k), proofClaims(tokenURI, c.Now()))
		}, want: dpop.ErrMalformed},
		{name: "6: no jwk", proof: good(func(h, _ map[string]any) { delete(h, "jwk") }), want: dpop.ErrMalformed},
		{name: "6: jwk and kid instead", proof: good(func(h, _ map[string]any) { delete(h, "jwk"); h["kid"] = "k1" }), want: dpop.ErrMalformed},
		{name: "7: private key in jwk", proof: good(withPrivate), want: dpop.ErrMalformed},
		{name: "8: htm GET for POST", proof: good(func(_, c map[string]any) { c["htm"] = "GET" }), want: dpop.ErrMethod},
		{name: "8: htm lower case", proof: good(func(_, c map[string]any) { c["htm"] = "post" }), want: dpop.ErrMethod},
		{name: "9: htu of another host", proof: good(func(_, c map[string]any) { c["htu"] = "https://evil.example.com/oauth2/token" }), want: dpop.ErrURI},
		{name: "9: htu of another path", proof: good(func(_, c map[string]any) { c["htu"] = "https://auth.example.com/oauth2/introspect" }), want: dpop.ErrURI},
		{name: "9: htu over http", proof: good(func(_, c map[string]any) { c["htu"] = "http://auth.example.com/oauth2/token" }), want: dpop.ErrURI},
		{name: "9: htu of the listener, not the public URL", proof: good(func(_, c map[string]any) { c["htu"] = "http://127.0.0.1:8080/oauth2/token" }), want: dpop.ErrURI},
		{name: "9: htu normalized", proof: good(func(_, c map[string]any) { c["htu"] = "HTTPS://Auth.Example.COM:443/oauth2/./%74oken" })},
		{name: "9: htu query and fragment ignored", proof: good(func(_, c map[string]any) { c["htu"] = tokenURI + "?a=b#c" })},
		{name: "11: iat too old", proof: func(t *testing.T, c *clock) string {
			return forge(t, k, proofHeader(t, k), proofClaims(tokenURI, c.Now().Add(-dpop.DefaultMaxAge-dpop.DefaultLeeway-time.Second)))
		}, want: dpop.ErrTime},
		{name: "11: iat at the edge of the window", proof: func(t *testing.T, c *clock) string {
			return forge(t, k, proofHeader(t, k), proofClaims(tokenURI, c.Now().Add(-dpop.DefaultMaxAge)))
		}},
		{name: "11: iat in the future", proof: func(t *testing.T, c *clock) string {
			return forge(t, k, proofHeader(t, k), proofClaims(tokenURI, c.Now().Add(dpop.DefaultLeeway+time.Second)))
		}, want: dpop.ErrTime},
		{name: "12: no ath with a token", proof: good(nil), req: func(r *dpop.Request) { r.AccessToken = "tok" }, want: dpop.ErrTokenHash},
		{name: "12: ath of another token", proof: good(func(_, c map[string]any) { c["ath"] = dpop.TokenHash("other") }),
			req: func(r *dpop.Request) { r.AccessToken = "tok" }, want: dpop.ErrTokenHash},
		{name: "12: ath of the token", proof: good(func(_, c map[string]any) { c["ath"] = dpop.TokenHash("tok") }),
			req: func(r *dpop.Request) { r.AccessToken = "tok" }},
		{name: "12: key is not the bound key", proof: good(nil), req: func(r *dpop.Request) { r.JKT = signer(t, other).Thumbprint() }, want: dpop.ErrKeyMismatch},
		{name: "12: key is the bound key", proof: good(nil), req: func(r *dpop.Request) { r.JKT = signer(t, k).Thumbprint() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			v := newVerifier(t, c, nil)
			req := dpop.Request{Method: "POST", URI: tokenURI}
			if p := tt.proof(t, c); p != "" {
				req.Proofs = []string{p}
				if tt.twice {
					req.Proofs = append(req.Proofs, p)
				}
			}
			if tt.req != nil {
				tt.req(&req)
			}
			_, err := v.Verify(context.Background(), req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, dpop.ErrInvalidProof) {
				t.Fatalf("err = %v, want %v (and ErrInvalidProof)", err, tt.want)
			}
		})
	}
}

func TestVerifyAlgorithmAllowList(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Algorithms = []string{jwt.EdDSA} })
	proof, err := signer(t, key(t, "P256", "a")).Proof("POST", tokenURI, dpop.ProofOptions{IssuedAt: c.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}); !errors.Is(err, dpop.ErrMalformed) {
		t.Fatalf("ES256 proof with only EdDSA allowed: %v", err)
	}
	if got := v.Algorithms(); len(got) != 1 || got[0] != jwt.EdDSA {
		t.Fatalf("Algorithms() = %v", got)
	}
}

// TestReplay: §11.1, a jti is accepted once within the window, per key.
func TestReplay(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, nil)
	k := key(t, "P256", "a").(*ecdsa.PrivateKey)
	claims := proofClaims(tokenURI, c.Now())
	proof := forge(t, k, proofHeader(t, k), claims)
	req := dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI}
	if _, err := v.Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), req); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("second use: %v", err)
	}
	// Another key may use the same jti: ids are per key.
	o := key(t, "P256", "b").(*ecdsa.PrivateKey)
	if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{forge(t, o, proofHeader(t, o), claims)}, Method: "POST", URI: tokenURI}); err != nil {
		t.Fatalf("same jti, other key: %v", err)
	}
	// Once the proof is too old, it is refused for its age, not remembered.
	c.Add(dpop.DefaultMaxAge + dpop.DefaultLeeway + time.Second)
	if _, err := v.Verify(context.Background(), req); !errors.Is(err, dpop.ErrTime) {
		t.Fatalf("after the window: %v", err)
	}
}

type failingReplay struct{}

func (failingReplay) Use(context.Context, string, time.Time) error {
	return errors.New("store down")
}

func TestReplayUnavailableIsNotAcceptance(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Replay = failingReplay{} })
	proof, _ := signer(t, key(t, "P256", "a")).Proof("POST", tokenURI, dpop.ProofOptions{IssuedAt: c.Now()})
	_, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI})
	if err == nil || errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("err = %v, want an error that is not ErrInvalidProof", err)
	}
}

// TestNonce: §8 and §9, step 10 of §4.3.
func TestNonce(t *testing.T) {
	c := newClock()
	nonces, err := dpop.NewNonces(nil, time.Minute, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Nonces = nonces })
	s := signer(t, key(t, "P256", "a"))
	verify := func(nonce string, noNonce bool) error {
		proof, err := s.Proof("POST", tokenURI, dpop.ProofOptions{Nonce: nonce, IssuedAt: c.Now()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "POST", URI: tokenURI, NoNonce: noNonce})
		return err
	}
	other, _ := dpop.NewNonces(nil, time.Minute, c.Now)
	current := nonces.Current()
	for _, tt := range []struct {
		name  string
		nonce string
		want  error
	}{
		{"no nonce", "", dpop.ErrUseNonce},
		{"made up", "abc", dpop.ErrUseNonce},
		{"of another server", other.Current(), dpop.ErrUseNonce},
		{"tampered", current[:len(current)-2] + "AA", dpop.ErrUseNonce},
		{"current", current, nil},
	} {
		if err := verify(tt.nonce, false); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	if errors.Is(dpop.ErrUseNonce, dpop.ErrInvalidProof) {
		t.Error("ErrUseNonce must not match ErrInvalidProof")
	}
	if err := verify("", true); err != nil {
		t.Errorf("NoNonce: %v", err)
	}
	// Valid for at least half a lifetime, never after a whole one.
	c.Add(30 * time.Second)
	if !nonces.Valid(current) {
		t.Error("nonce refused within its lifetime")
	}
	c.Add(61 * time.Second)
	if nonces.Valid(current) {
		t.Error("nonce accepted after its lifetime")
	}
	if err := verify(current, false); !errors.Is(err, dpop.ErrUseNonce) {
		t.Errorf("stale nonce: %v", err)
	}
	// Replicas sharing the secret accept each other's nonces.
	secret := []byte(strings.Repeat("s", 32))
	a, _ := dpop.NewNonces(secret, time.Minute, c.Now)
	b, _ := dpop.NewNonces(secret, time.Minute, c.Now)
	if !b.Valid(a.Current()) {
		t.Error("replica refused a nonce of the same secret")
	}
	if _, err := dpop.NewNonces([]byte("short"), time.Minute, nil); err == nil {
		t.Error("short secret accepted")
	}
}

func TestNormalizeURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://a.example/x", "https://a.example/x"},
		{"HTTPS://A.Example/x", "https://a.example/x"},
		{"https://a.example", "https://a.example/"},
		{"https://a.example:443/x", "https://a.example/x"},
		{"http://a.example:80/x", "http://a.example/x"},
		{"https://a.example:8443/x", "https://a.example:8443/x"},
		{"https://a.example:/x", "https://a.example/x"},
		{"https://a.example/%7euser/%2f%41", "https://a.example/~user/%2FA"},
		{"https://a.example/a/./b/../c", "https://a.example/a/c"},
		{"https://a.example/x?q=1#f", "https://a.example/x"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://a.example/X", "https://a.example/X"},
	}
	for _, tt := range tests {
		got, err := dpop.NormalizeURI(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeURI(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/oauth2/token", "ftp://a.example/x", "https://user@a.example/x", "https:///x",
		"https://a.example/%zz", "mailto:a@b", strings.Repeat("a", 5000)} {
		if got, err := dpop.NormalizeURI(bad); err == nil {
			t.Errorf("NormalizeURI(%q) = %q, want an error", bad, got)
		}
	}
}

func TestMemoryReplayBounded(t *testing.T) {
	c := newClock()
	m := dpop.NewMemoryReplay(3, c.Now)
	ctx := context.Background()
	exp := c.Now().Add(time.Minute)
	for i := range 5 {
		if err := m.Use(ctx, fmt.Sprint(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 3 || m.Evicted() != 2 {
		t.Fatalf("Len = %d, Evicted = %d; want 3, 2", m.Len(), m.Evicted())
	}
	if err := m.Use(ctx, "4", exp); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("newest id: %v", err)
	}
	// Expired ids leave and may be used again; none counts as evicted.
	c.Add(2 * time.Minute)
	if err := m.Use(ctx, "4", c.Now().Add(time.Minute)); err != nil {
		t.Fatalf("expired id reused: %v", err)
	}
	if m.Len() != 1 || m.Evicted() != 2 {
		t.Fatalf("after expiry: Len = %d, Evicted = %d", m.Len(), m.Evicted())
	}
	if err := m.Use(ctx, "4", c.Now().Add(time.Minute)); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("reused id recorded again: %v", err)
	}
}

// TestMemoryReplayGrows: the cache starts small and grows to its bound,
// keeping its entries in order across the wrap of its ring.
func TestMemoryReplayGrows(t *testing.T) {
	c := newClock()
	m := dpop.NewMemoryReplay(3000, c.Now)
	ctx := context.Background()
	use := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := m.Use(ctx, fmt.Sprint(i), c.Now().Add(time.Minute)); err != nil {
				t.Fatalf("id %d: %v", i, err)
			}
		}
	}
	use(0, 1000)
	c.Add(61 * time.Second) // the first thousand expire: the ring's head moves on
	use(1000, 2500)         // wraps the first ring, then grows it
	if m.Len() != 1500 || m.Evicted() != 0 {
		t.Fatalf("Len = %d, Evicted = %d; want 1500, 0", m.Len(), m.Evicted())
	}
	for _, i := range []int{1000, 1023, 1024, 2047, 2048, 2499} {
		if err := m.Use(ctx, fmt.Sprint(i), c.Now().Add(time.Minute)); !errors.Is(err, dpop.ErrReplayed) {
			t.Fatalf("id %d after growth: %v", i, err)
		}
	}
	use(2500, 5000) // past the bound: the oldest leave early, counted
	if m.Len() != 3000 || m.Evicted() != 1000 {
		t.Fatalf("Len = %d, Evicted = %d; want 3000, 1000", m.Len(), m.Evicted())
	}
	if err := m.Use(ctx, "2000", c.Now().Add(time.Minute)); !errors.Is(err, dpop.ErrReplayed) {
		t.Fatalf("id 2000, still held: %v", err)
	}
	c.Add(61 * time.Second)
	use(5000, 5001)
	if m.Len() != 1 {
		t.Fatalf("after expiry: Len = %d", m.Len())
	}
}

func TestConfigProblems(t *testing.T) {
	_, err := dpop.NewVerifier(dpop.Config{Algorithms: []string{"HS256"}, MaxAge: -1, Leeway: time.Hour})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Replay", "MaxAge", "Leeway", "HS256"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestSignatureEncoding checks the ECDSA signature is the fixed-width R||S
// form even when R or S is short.
func TestSignatureEncoding(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Replay = dpop.NewMemoryReplay(5000, c.Now) })
	s := signer(t, key(t, "P256", "a"))
	short := 0
	for range 600 {
		p, err := s.Proof("POST", tokenURI, dpop.ProofOptions{IssuedAt: c.Now()})
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := enc.DecodeString(p[strings.LastIndexByte(p, '.')+1:])
		if len(sig) != 64 {
			t.Fatalf("signature of %d bytes", len(sig))
		}
		if new(big.Int).SetBytes(sig[:32]).BitLen() <= 248 || new(big.Int).SetBytes(sig[32:]).BitLen() <= 248 {
			short++
		}
		if _, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{p}, Method: "POST", URI: tokenURI}); err != nil {
			t.Fatal(err)
		}
	}
	if short == 0 {
		t.Log("no short R or S drawn in this run")
	}
}
