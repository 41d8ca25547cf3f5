// Package jwttest makes keys and signs JWTs for tests, including the
// malformed and malicious ones a verifier must refuse (alg none, HS256
// with a public key as the secret, wrong typ). It signs by hand so that
// nothing stops a test from writing exactly the token it needs.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
)

// Key is a private signing key with its JWS algorithm and kid.
type Key struct {
	Alg    string
	KID    string
	Signer crypto.Signer
}

// NewKey generates a key for alg: ES256, ES384, EdDSA, RS256 or PS256.
func NewKey(t testing.TB, alg, kid string) *Key {
	t.Helper()
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	case "RS256", "PS256":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("jwttest: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Alg: alg, KID: kid, Signer: s}
}

// PublicJWK returns the public key as a JWK (with kid, alg and use).
func (k *Key) PublicJWK() map[string]any {
	m := PublicJWK(k.Signer.Public())
	if k.KID != "" {
		m["kid"] = k.KID
	}
	m["alg"], m["use"] = k.Alg, "sig"
	return m
}

// PublicJWK returns pub as a JWK without kid.
func PublicJWK(pub crypto.PublicKey) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		n := (p.Curve.Params().BitSize + 7) / 8
		crv := map[int]string{256: "P-256", 384: "P-384", 521: "P-521"}[p.Curve.Params().BitSize]
		raw, err := p.Bytes() // 0x04 || X || Y, each n bytes
		if err != nil {
			panic("jwttest: " + err.Error())
		}
		return map[string]any{"kty": "EC", "crv": crv, "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	}
	panic("jwttest: unsupported public key")
}

// JWKS returns a JWK Set of the keys' public parts.
func JWKS(keys ...*Key) json.RawMessage {
	set := map[string]any{"keys": []any{}}
	for _, k := range keys {
		set["keys"] = append(set["keys"].([]any), k.PublicJWK())
	}
	b, _ := json.Marshal(set)
	return b
}

// PrivatePEM returns the private key as PKCS #8 PEM.
func (k *Key) PrivatePEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Sign returns a compact JWS of claims with a header of alg, kid (when
// set) and the extra header fields.
func (k *Key) Sign(t testing.TB, claims map[string]any, extraHeader map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": k.Alg}
	if k.KID != "" {
		h["kid"] = k.KID
	}
	for n, v := range extraHeader {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	input := encode(t, h) + "." + encode(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(k.signature(t, input))
}

func (k *Key) signature(t testing.TB, input string) []byte {
	t.Helper()
	var (
		sig []byte
		err error
	)
	switch s := k.Signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(s, []byte(input))
	case *ecdsa.PrivateKey:
		h := map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384}[k.Alg]
		d := digest(h, input)
		r, ss, e := ecdsa.Sign(rand.Reader, s, d)
		err = e
		n := (s.Curve.Params().BitSize + 7) / 8
		sig = append(r.FillBytes(make([]byte, n)), ss.FillBytes(make([]byte, n))...)
	case *rsa.PrivateKey:
		d := digest(crypto.SHA256, input)
		if k.Alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, s, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, d)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func digest(h crypto.Hash, input string) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(input))
		return d[:]
	default:
		d := sha256.Sum256([]byte(input))
		return d[:]
	}
}

// Unsigned returns an alg "none" token (RFC 7519 §6).
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	return encode(t, map[string]any{"alg": "none"}) + "." + encode(t, claims) + "."
}

// HS256 returns a token MACed with secret: what an attacker sends hoping a
// verifier uses a public key's bytes as the HMAC secret.
func HS256(t testing.TB, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": "HS256"}
	if kid != "" {
		h["kid"] = kid
	}
	input := encode(t, h) + "." + encode(t, claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func encode(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
