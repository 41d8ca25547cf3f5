package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/internal/certtest"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newSigner(t testing.TB) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// boundService is a real HTTP service behind a guard, answering 200 with
// the binding it saw.
type boundService struct {
	iss   *testissuer.Issuer
	g     *Guard
	srv   *httptest.Server
	clock *fakeClock
}

func newBoundService(t *testing.T, edit func(*Config)) *boundService {
	t.Helper()
	clock := &fakeClock{now: time.Now()}
	iss, g := newTestGuard(t, func(c *Config) {
		c.Now = clock.Now
		if edit != nil {
			edit(c)
		}
	})
	srv := httptest.NewServer(g.Require(AllOf("trade:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, string(BindingFrom(r.Context())))
	})))
	t.Cleanup(srv.Close)
	return &boundService{iss: iss, g: g, srv: srv, clock: clock}
}

// token mints a trade:read token, bound as cnf says.
func (s *boundService) token(cnf *wire.Confirmation) string {
	c := s.iss.Claims("bot", testAudience, "trade:read")
	c.Cnf = cnf
	return s.iss.Mint(c)
}

type call struct {
	method, path string
	auth         string
	proofs       []string
}

type answer struct {
	status  int
	body    string
	code    string // error of the JSON body
	challs  []string
	nonce   string
	binding string
}

func (s *boundService) do(t *testing.T, c call) answer {
	t.Helper()
	if c.method == "" {
		c.method = "GET"
	}
	req, err := http.NewRequest(c.method, s.srv.URL+c.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for _, p := range c.proofs {
		req.Header.Add("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b), challs: resp.Header.Values("WWW-Authenticate"), nonce: resp.Header.Get("DPoP-Nonce")}
	if resp.StatusCode == 200 {
		a.binding = string(b)
	} else {
		var e wire.Error
		_ = json.Unmarshal(b, &e)
		a.code = e.Code
	}
	return a
}

func (s *boundService) proof(t *testing.T, sg *dpop.Signer, method, uri, tok string, o dpop.ProofOptions) string {
	t.Helper()
	o.AccessToken = tok
	if o.IssuedAt.IsZero() {
		o.IssuedAt = s.clock.Now()
	}
	p, err := sg.Proof(method, uri, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDPoPBinding walks RFC 9449 §7 at a guarded service: each rule with
// the request it lets through and the one it refuses.
func TestDPoPBinding(t *testing.T) {
	s := newBoundService(t, nil)
	key, other := newSigner(t), newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	plain := s.token(nil)
	url := s.srv.URL + "/orders"
	good := func() []string { return []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{})} }
	tests := []struct {
		name    string
		call    func() call
		status  int
		code    string
		binding string
		chall   string // a challenge that must be present
	}{
		{name: "bound token with its proof", call: func() call { return call{path: "/orders", auth: "DPoP " + tok, proofs: good()} },
			status: 200, binding: "dpop"},
		{name: "scheme is case-insensitive", call: func() call { return call{path: "/orders", auth: "dpop " + tok, proofs: good()} },
			status: 200, binding: "dpop"},
		{name: "§7.2 bound token as Bearer", call: func() call { return call{path: "/orders", auth: "Bearer " + tok, proofs: good()} },
			status: 401, code: "invalid_token", chall: `Bearer realm="https://mt5.example.com", error="invalid_token"`},
		{name: "§7.1 no proof", call: func() call { return call{path: "/orders", auth: "DPoP " + tok} },
			status: 401, code: "invalid_dpop_proof", chall: `DPoP realm="https://mt5.example.com", error="invalid_dpop_proof", algs="`},
		{name: "§4.3(1) two proofs", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: append(good(), good()...)}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(2) not a JWT", call: func() call { return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{"abc"}} },
			status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(8) htm of another method", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "POST", url, tok, dpop.ProofOptions{})}}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(9) htu of another path", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", s.srv.URL+"/positions", tok, dpop.ProofOptions{})}}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(9) htu query ignored", call: func() call {
			return call{path: "/orders?x=1", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url+"?y=2", tok, dpop.ProofOptions{})}}
		}, status: 200, binding: "dpop"},
		{name: "§4.3(11) proof too old", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{IssuedAt: s.clock.Now().Add(-2 * time.Minute)})}}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(11) proof from the future", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{IssuedAt: s.clock.Now().Add(time.Minute)})}}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(12) ath of another token", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, plain, dpop.ProofOptions{})}}
		}, status: 401, code: "invalid_dpop_proof"},
		{name: "§4.3(12) proof of another key", call: func() call {
			return call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, other, "GET", url, tok, dpop.ProofOptions{})}}
		}, status: 401, code: "invalid_token", chall: `DPoP realm="https://mt5.example.com", error="invalid_token"`},
		{name: "DPoP scheme with an unbound token", call: func() call {
			return call{path: "/orders", auth: "DPoP " + plain, proofs: []string{s.proof(t, key, "GET", url, plain, dpop.ProofOptions{})}}
		}, status: 401, code: "invalid_token"},
		{name: "unbound token as Bearer", call: func() call { return call{path: "/orders", auth: "Bearer " + plain} },
			status: 200, binding: "bearer"},
		{name: "no token: both challenges", call: func() call { return call{path: "/orders"} },
			status: 401, code: "unauthorized", chall: `DPoP realm="https://mt5.example.com", algs="ES256 ES384 ES512 EdDSA RS256 RS384 RS512 PS256 PS384 PS512"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := s.do(t, tt.call())
			if a.status != tt.status || a.code != tt.code || a.binding != tt.binding {
				t.Fatalf("got %d %q binding %q (%s), want %d %q binding %q", a.status, a.code, a.binding, a.body, tt.status, tt.code, tt.binding)
			}
			if tt.chall != "" && !hasPrefix(a.challs, tt.chall) {
				t.Fatalf("challenges %q lack %q", a.challs, tt.chall)
			}
		})
	}
}

func hasPrefix(l []string, p string) bool {
	for _, s := range l {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestDPoPReplay: §11.1, a proof is accepted once.
func TestDPoPReplay(t *testing.T) {
	s := newBoundService(t, nil)
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	c := call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", s.srv.URL+"/orders", tok, dpop.ProofOptions{})}}
	if a := s.do(t, c); a.status != 200 {
		t.Fatalf("first use: %d %s", a.status, a.body)
	}
	if a := s.do(t, c); a.status != 401 || a.code != "invalid_dpop_proof" {
		t.Fatalf("replay: %d %s", a.status, a.body)
	}
}

// TestDPoPReplayCacheFull: a replay cache too small for the traffic drops
// proofs before their window ends, and Status says how many.
func TestDPoPReplayCacheFull(t *testing.T) {
	s := newBoundService(t, func(c *Config) { c.DPoP.ReplayCacheSize = 2 })
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	var proofs []string
	for range 3 {
		p := s.proof(t, key, "GET", s.srv.URL+"/orders", tok, dpop.ProofOptions{})
		proofs = append(proofs, p)
		if a := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{p}}); a.status != 200 {
			t.Fatalf("fresh proof: %d %s", a.status, a.body)
		}
	}
	if n := s.g.Status().DPoPProofsEvicted; n != 1 {
		t.Fatalf("DPoPProofsEvicted = %d, want 1", n)
	}
	// The two held are refused again; the evicted one is the price.
	for _, p := range proofs[1:] {
		if a := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{p}}); a.status != 401 {
			t.Fatalf("replay of a held proof: %d %s", a.status, a.body)
		}
	}
}

// TestDPoPExternalURL: behind a proxy, htu names the public URL.
func TestDPoPExternalURL(t *testing.T) {
	s := newBoundService(t, func(c *Config) { c.ExternalURL = "https://api.example.com/mt5/" })
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	public := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", "https://api.example.com/mt5/orders", tok, dpop.ProofOptions{})}})
	if public.status != 200 {
		t.Fatalf("proof for the public URL: %d %s", public.status, public.body)
	}
	listener := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", s.srv.URL+"/orders", tok, dpop.ProofOptions{})}})
	if listener.status != 401 || listener.code != "invalid_dpop_proof" {
		t.Fatalf("proof for the listener's URL: %d %s", listener.status, listener.body)
	}
}

// TestDPoPNonce: §9, the guard's nonce is required once turned on.
func TestDPoPNonce(t *testing.T) {
	s := newBoundService(t, func(c *Config) { c.DPoP.Nonce = true })
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	url := s.srv.URL + "/orders"
	a := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{})}})
	if a.status != 401 || a.code != "use_dpop_nonce" || a.nonce == "" || !hasPrefix(a.challs, `DPoP realm="https://mt5.example.com", error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce: %d %q nonce %q challenges %q", a.status, a.code, a.nonce, a.challs)
	}
	b := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{Nonce: a.nonce})}})
	if b.status != 200 || b.nonce == "" {
		t.Fatalf("with the nonce: %d %s, nonce header %q", b.status, b.body, b.nonce)
	}
	s.clock.Add(6 * time.Minute)
	c := s.do(t, call{path: "/orders", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", url, tok, dpop.ProofOptions{Nonce: a.nonce})}})
	if c.status != 401 || c.code != "use_dpop_nonce" || c.nonce == a.nonce {
		t.Fatalf("with a stale nonce: %d %q, new nonce %q", c.status, c.code, c.nonce)
	}
}

// TestRequireBinding: with RequireBinding, a plain bearer token is
// refused and a bound one accepted.
func TestRequireBinding(t *testing.T) {
	s := newBoundService(t, func(c *Config) { c.RequireBinding = true })
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	if a := s.do(t, call{path: "/", auth: "Bearer " + s.token(nil)}); a.status != 401 || a.code != "invalid_token" {
		t.Fatalf("bearer token: %d %s", a.status, a.body)
	}
	if a := s.do(t, call{path: "/", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", s.srv.URL+"/", tok, dpop.ProofOptions{})}}); a.status != 200 {
		t.Fatalf("bound token: %d %s", a.status, a.body)
	}
}

// TestIntrospectionModeKeepsBinding: a guard that introspects learns cnf
// from the answer and enforces it too.
func TestIntrospectionModeKeepsBinding(t *testing.T) {
	s := newBoundService(t, func(c *Config) { c.Mode = ModeIntrospection; c.ClientID = "rs"; c.ClientSecret = "rs-secret" })
	s.iss.AddClient("rs", testissuer.Client{Secret: "rs-secret"})
	key := newSigner(t)
	tok := s.token(&wire.Confirmation{JKT: key.Thumbprint()})
	if a := s.do(t, call{path: "/", auth: "Bearer " + tok}); a.status != 401 {
		t.Fatalf("bound token as bearer: %d %s", a.status, a.body)
	}
	if a := s.do(t, call{path: "/", auth: "DPoP " + tok, proofs: []string{s.proof(t, key, "GET", s.srv.URL+"/", tok, dpop.ProofOptions{})}}); a.status != 200 || a.binding != "dpop" {
		t.Fatalf("bound token with proof: %d %s", a.status, a.body)
	}
}

// TestCertificateBinding: RFC 8705 §3, a certificate-bound token is
// accepted only with its certificate, on the connection or forwarded by a
// trusted proxy.
func TestCertificateBinding(t *testing.T) {
	ca := certtest.NewCA(t, "clients")
	mine, theirs := ca.Issue(t, "bot"), ca.Issue(t, "thief")
	iss, g := newTestGuard(t, func(c *Config) {
		c.ClientCertificate = clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	})
	claims := iss.Claims("bot", testAudience, "trade:read")
	claims.Cnf = &wire.Confirmation{X5TS256: clientcert.Thumbprint(mine.Cert)}
	tok := iss.Mint(claims)
	h := g.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, string(BindingFrom(r.Context())))
	}))
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	plainSrv := httptest.NewServer(h)
	t.Cleanup(plainSrv.Close)

	client := func(l *certtest.Leaf) *http.Client {
		tr := tlsSrv.Client().Transport.(*http.Transport).Clone()
		if l != nil {
			cert := l.TLS()
			tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
		}
		return &http.Client{Transport: tr}
	}
	get := func(c *http.Client, url string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		client *http.Client
		url    string
		hdr    map[string]string
		status int
	}{
		{"its certificate on the connection", client(mine), tlsSrv.URL, nil, 200},
		{"another certificate on the connection", client(theirs), tlsSrv.URL, nil, 401},
		{"no certificate", client(nil), tlsSrv.URL, nil, 401},
		{"its certificate forwarded by a trusted proxy", http.DefaultClient, plainSrv.URL, map[string]string{"X-Client-Cert": mine.Escaped()}, 200},
		{"another certificate forwarded", http.DefaultClient, plainSrv.URL, map[string]string{"X-Client-Cert": theirs.Escaped()}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(tt.client, tt.url, tt.hdr)
			if status != tt.status || (status == 200 && body != "mtls") {
				t.Fatalf("got %d %s, want %d", status, body, tt.status)
			}
		})
	}

	// From a peer that is not a trusted proxy, the header is not believed.
	g2, err := New(context.Background(), Config{Issuer: iss.URL, Audience: testAudience,
		ClientCertificate: clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g2.Close)
	untrusted := httptest.NewServer(g2.Require()(h))
	t.Cleanup(untrusted.Close)
	if status, body := get(http.DefaultClient, untrusted.URL, map[string]string{"X-Client-Cert": mine.Escaped()}); status != 401 {
		t.Fatalf("forwarded by an untrusted peer: %d %s", status, body)
	}
}

func TestVerifyPossessionContext(t *testing.T) {
	ctx := WithBinding(context.Background(), &wire.Claims{Subject: "x"}, "tok", DPoP)
	if BindingFrom(ctx) != DPoP || Subject(ctx) != "x" {
		t.Fatal("context lost the binding or the claims")
	}
	if BindingFrom(context.Background()) != "" {
		t.Fatal("binding without a verified request")
	}
}
