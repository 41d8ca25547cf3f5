package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/dpop"
)

var enc = base64.RawURLEncoding

// t0 is the fixed clock of the tests.
var t0 = time.Unix(1_800_000_000, 0)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var (
	keyMu sync.Mutex
	keys  = map[string]crypto.Signer{}
)

// key returns a private key of kind (P256, P384, P521, Ed25519, RSA),
// generated once per name.
func key(t testing.TB, kind, name string) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keys[kind+"/"+name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "P256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "RSA":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RSA1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		t.Fatalf("no key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys[kind+"/"+name] = k
	return k
}

func signer(t testing.TB, k crypto.Signer) *dpop.Signer {
	t.Helper()
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// publicJWK returns the JWK of k's public key as a map, so tests can add
// members.
func publicJWK(t testing.TB, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b, err := jose.JSONWebKey{Key: pub}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forge signs any header and claims with an ES256 key, so tests can build
// proofs the Signer never would.
func forge(t testing.TB, k *ecdsa.PrivateKey, header, claims any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig)
}

// proofHeader is the header of a genuine ES256 proof with k's public key.
func proofHeader(t testing.TB, k *ecdsa.PrivateKey) map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(t, k.Public())}
}

// proofClaims are the claims of a genuine proof for POST uri at t.
func proofClaims(uri string, at time.Time) map[string]any {
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	return map[string]any{"jti": enc.EncodeToString(jti[:]), "htm": "POST", "htu": uri, "iat": at.Unix()}
}
