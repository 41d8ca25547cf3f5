package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
)

// dpopKey is a client's DPoP key: its Signer, and the raw key for proofs
// the Signer would never make.
type dpopKey struct {
	*dpop.Signer
	priv *ecdsa.PrivateKey
}

func newDPoPKey(t *testing.T) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{Signer: s, priv: k}
}

func (k *dpopKey) proof(t *testing.T, method, uri string, o dpop.ProofOptions) string {
	t.Helper()
	p, err := k.Proof(method, uri, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// jwk returns k's public JWK as a map.
func (k *dpopKey) jwk(t *testing.T) map[string]any {
	t.Helper()
	b, err := jose.JSONWebKey{Key: k.priv.Public()}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var pub map[string]any
	json.Unmarshal(b, &pub)
	return pub
}

// forge signs any header and claims with k, for proofs that break a rule.
func (k *dpopKey) forge(t *testing.T, edit func(h, c map[string]any)) string {
	t.Helper()
	pub := k.jwk(t)
	var jti [12]byte
	rand.Read(jti[:])
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": pub}
	c := map[string]any{"jti": base64.RawURLEncoding.EncodeToString(jti[:]), "htm": "POST", "iat": time.Now().Unix()}
	edit(h, c)
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// tokenWithProofs posts a token request with the given DPoP header values
// and Basic client authentication when id is set.
func (ts *testServer) tokenWithProofs(v url.Values, id, secret string, proofs ...string) *response {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if id != "" {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	for _, p := range proofs {
		h.Add("DPoP", p)
	}
	return ts.do("POST", "/oauth2/token", h, strings.NewReader(v.Encode()))
}

// guarded is a real service behind sdk/guard trusting ts, answering with
// the binding the guard saw.
type guarded struct {
	URL string
	t   *testing.T
}

const serviceAudience = "https://mt5.example.com"

func newGuarded(t *testing.T, ts *testServer, edit func(*guard.Config)) *guarded {
	t.Helper()
	cfg := guard.Config{Issuer: ts.URL, Audience: serviceAudience}
	if edit != nil {
		edit(&cfg)
	}
	g, err := guard.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	srv := httptest.NewServer(g.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, string(guard.BindingFrom(r.Context())))
	})))
	t.Cleanup(srv.Close)
	deadline := time.Now().Add(10 * time.Second)
	for !g.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("guard not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &guarded{URL: srv.URL, t: t}
}

// call sends GET path with the Authorization value and DPoP proofs.
func (g *guarded) call(path, auth string, proofs ...string) (int, string, http.Header) {
	g.t.Helper()
	req, _ := http.NewRequest("GET", g.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// errorOf returns the error code of a JSON error body.
func errorOf(body string) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error
}
