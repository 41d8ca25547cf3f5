package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"
)

var enc = base64.RawURLEncoding

// now is the fixed clock of the tests.
var now = time.Unix(1_800_000_000, 0)

func clock() time.Time { return now }

var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

// testKey returns a private key for alg, generated once per test binary
// (RSA generation is slow). name tells apart several keys of one alg.
func testKey(t testing.TB, alg, name string) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[alg+"/"+name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch alg {
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "RSA1024":
		k, err = rsa.GenerateKey(rand.Reader, 1024)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyCache[alg+"/"+name] = k
	return k
}

// sign builds a compact JWS of any header and claims, signed with key as
// alg says (the signature is made even when alg and key do not fit, so the
// verifier's own checks are what refuses such tokens).
func sign(t testing.TB, key crypto.Signer, alg string, header, claims any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := claims.([]byte)
	if !ok {
		if c, err = json.Marshal(claims); err != nil {
			t.Fatal(err)
		}
	}
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	return in + "." + enc.EncodeToString(rawSign(t, key, alg, []byte(in)))
}

func rawSign(t testing.TB, key crypto.Signer, alg string, in []byte) []byte {
	t.Helper()
	var h crypto.Hash
	var sum []byte
	switch alg[2:] {
	case "256":
		s := sha256.Sum256(in)
		h, sum = crypto.SHA256, s[:]
	case "384":
		s := sha512.Sum384(in)
		h, sum = crypto.SHA384, s[:]
	case "512":
		s := sha512.Sum512(in)
		h, sum = crypto.SHA512, s[:]
	}
	var sig []byte
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum)
		if err != nil {
			t.Fatal(err)
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*n)
		r.FillBytes(sig[:n])
		s.FillBytes(sig[n:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, in)
	case *rsa.PrivateKey:
		if alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, k, h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, sum)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// accessClaims are valid access-token claims at now.
func accessClaims() map[string]any {
	return map[string]any{
		"iss": "https://issuer.example", "sub": "svc", "aud": "https://api.example",
		"exp": now.Add(10 * time.Minute).Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": "j1",
		"client_id": "svc", "scope": "a b",
	}
}

func with(c map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(c))
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}
