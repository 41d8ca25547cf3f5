package clientcredentials

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// recorder is a token endpoint that records each request's form and
// answers with a token, or 503 for the first fail requests.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
	basic []string
	fail  int
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		r.mu.Lock()
		r.forms = append(r.forms, req.PostForm)
		id, _, _ := req.BasicAuth()
		r.basic = append(r.basic, id)
		fail := len(r.forms) <= r.fail
		r.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(wire.TokenResponse{AccessToken: "tok", TokenType: "Bearer", ExpiresIn: 3600})
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) form(i int) url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forms[i]
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// verifyAssertion checks an assertion with the one verifier, as a server does.
func verifyAssertion(t *testing.T, a string, key *ecdsa.PrivateKey, kid string) *jwt.Token {
	t.Helper()
	k, err := jwt.NewKey(kid, "", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	set, _ := jwt.NewSet(k)
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{wire.ClientAssertionJWTType},
		Require: []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimAudience, jwt.ClaimExpiry, jwt.ClaimID}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Verify(context.Background(), a)
	if err != nil {
		t.Fatalf("assertion does not verify: %v", err)
	}
	return tok
}

func TestPrivateKeyAssertionPerRequest(t *testing.T) {
	rec := newRecorder(t)
	rec.fail = 1 // the first request fails: the retry must sign anew
	key := ecKey(t)
	cfg := Config{IssuerURL: "https://auth.example.com", TokenURL: rec.URL + "/oauth2/token", ClientID: "bot",
		PrivateKey: key, MinBackoff: time.Millisecond}
	for range 2 {
		if _, err := cfg.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	kid, _ := Thumbprint(key.Public())
	seen := map[string]bool{}
	for i := range 3 {
		f := rec.form(i)
		if f.Get("client_assertion_type") != wire.AssertionTypeJWTBearer || f.Get("client_id") != "bot" || f.Get("client_secret") != "" {
			t.Fatalf("request %d form: %v", i, f)
		}
		tok := verifyAssertion(t, f.Get("client_assertion"), key, kid)
		c := tok.Claims
		if c.Issuer != "bot" || c.Subject != "bot" || len(c.Audience) != 1 || c.Audience[0] != "https://auth.example.com" {
			t.Fatalf("claims %+v", c)
		}
		if d := c.Expiry.Time().Sub(c.IssuedAt.Time()); d != AssertionLifetime {
			t.Fatalf("lifetime %v", d)
		}
		if seen[c.ID] {
			t.Fatalf("jti %q used twice", c.ID)
		}
		seen[c.ID] = true
	}
	if rec.basic[0] != "" {
		t.Fatal("a keyed client sent Basic credentials")
	}
}

func TestPrivateKeyFile(t *testing.T) {
	rec := newRecorder(t)
	key := ecKey(t)
	der, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	sec1 := filepath.Join(dir, "sec1.pem")
	os.WriteFile(sec1, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
	cfg := Config{TokenURL: rec.URL, ClientID: "bot", PrivateKeyFile: sec1, PrivateKeyID: "k1"}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Without IssuerURL the token endpoint is the audience, untyped.
	a := rec.form(0).Get("client_assertion")
	tok, err := jwt.ParseUnverified(a)
	if err != nil || tok.Header.KeyID != "k1" || tok.Header.Type != "" || tok.Claims.Audience[0] != rec.URL {
		t.Fatalf("header %+v claims %+v (%v)", tok.Header, tok.Claims, err)
	}
	for name, content := range map[string]string{"no PEM": "key", "certificate": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"} {
		f := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(f, []byte(content), 0o600)
		if _, err := (&Config{TokenURL: rec.URL, ClientID: "bot", PrivateKeyFile: f}).Token(context.Background()); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

func TestAssertionFileReadEveryTime(t *testing.T) {
	rec := newRecorder(t)
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("first.token.value\n"), 0o600)
	cfg := Config{TokenURL: rec.URL, AssertionFile: file}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("second.token.value"), 0o600) // the kubelet rotated it
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"first.token.value", "second.token.value"} {
		f := rec.form(i)
		if f.Get("client_assertion") != want || f.Get("client_assertion_type") != wire.AssertionTypeJWTBearer || f.Has("client_id") {
			t.Fatalf("request %d: %v", i, f)
		}
	}
	os.WriteFile(file, nil, 0o600)
	if _, err := cfg.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestAssertionFunc(t *testing.T) {
	rec := newRecorder(t)
	n := 0
	cfg := Config{TokenURL: rec.URL, ClientID: "spiffe://example.org/bot", AssertionType: wire.AssertionTypeJWTSPIFFE,
		Assertion: func(context.Context) (string, error) { n++; return "svid." + string(rune('0'+n)) + ".sig", nil }}
	for range 2 {
		if _, err := cfg.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	f := rec.form(1)
	if f.Get("client_assertion") != "svid.2.sig" || f.Get("client_assertion_type") != wire.AssertionTypeJWTSPIFFE || f.Get("client_id") != "spiffe://example.org/bot" {
		t.Fatalf("form %v", f)
	}
	failing := Config{TokenURL: rec.URL, Assertion: func(context.Context) (string, error) { return "", errors.New("workload API down") }}
	if _, err := failing.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "workload API down") {
		t.Fatalf("failing assertion: %v", err)
	}
}

func TestCredentialValidation(t *testing.T) {
	key := ecKey(t)
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"nothing":             {Config{TokenURL: "https://a", ClientID: "x"}, "a credential is required"},
		"secret and key":      {Config{TokenURL: "https://a", ClientID: "x", ClientSecret: "s", PrivateKey: key}, "not ClientSecret and PrivateKey"},
		"key without id":      {Config{TokenURL: "https://a", PrivateKey: key}, "ClientID is required"},
		"type without file":   {Config{TokenURL: "https://a", ClientID: "x", ClientSecret: "s", AssertionType: wire.AssertionTypeJWTSPIFFE}, "AssertionType applies"},
		"unknown type":        {Config{TokenURL: "https://a", AssertionFile: "f", AssertionType: "urn:x"}, "not supported"},
		"TLS and HTTP client": {Config{TokenURL: "https://a", ClientID: "x", TLSConfig: &tls.Config{}, HTTPClient: http.DefaultClient}, "not both"},
	} {
		_, err := tc.cfg.Token(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if got := fromEnv(func(k string) string {
		return map[string]string{EnvAssertionFile: "/var/run/secrets/permiso/token", EnvPrivateKeyFile: "k.pem", EnvAssertionType: "t"}[k]
	}); got.AssertionFile != "/var/run/secrets/permiso/token" || got.PrivateKeyFile != "k.pem" || got.AssertionType != "t" {
		t.Fatalf("fromEnv: %+v", got)
	}
}
