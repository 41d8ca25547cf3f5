package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// FuzzVerify feeds arbitrary input to a key-set verifier and a header-key
// verifier. Neither may panic; only the seeded genuine header and claims
// may verify (under any valid signature), and every refusal must match
// ErrInvalid.
func FuzzVerify(f *testing.F) {
	// A fixed key, so every fuzzing worker knows the same genuine tokens.
	es, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), []byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	set, err := jwt.NewSet(pubKey(f, "es", "ES256", es))
	if err != nil {
		f.Fatal(err)
	}
	byKid, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{"at+jwt"}, Now: clock, Require: []string{jwt.ClaimSubject}})
	if err != nil {
		f.Fatal(err)
	}
	byHeader, err := jwt.NewVerifier(jwt.Config{KeyFromHeader: true, Types: []string{"dpop+jwt"}, Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	genuine := map[string]bool{}
	for _, tok := range []string{
		sign(f, es, "ES256", map[string]string{"alg": "ES256", "kid": "es", "typ": "at+jwt"}, accessClaims()),
		sign(f, es, "ES256", map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": jwkJSON(f, es.Public(), nil)}, map[string]any{"jti": "x", "iat": now.Unix()}),
	} {
		genuine[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
	}
	for _, s := range []string{
		"", ".", "..", "a.b.c", "a.b.c.d.e", "eyJhbGciOiJub25lIn0.e30.", "eyJ9.e30.e30",
		"eyJhbGciOiJFUzI1NiIsImtpZCI6ImVzIiwidHlwIjoiYXQrand0IiwiY3JpdCI6W119.e30.AAAA",
		strings.Repeat("A", 100) + ".." + "x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, v := range []*jwt.Verifier{byKid, byHeader} {
			tok, err := v.Verify(context.Background(), raw)
			if err != nil {
				if !errors.Is(err, jwt.ErrInvalid) || tok != nil {
					t.Fatalf("Verify = %v, %v", tok, err)
				}
				continue
			}
			if !genuine[raw[:strings.LastIndexByte(raw, '.')]] {
				t.Fatalf("accepted a token never signed: %q", raw)
			}
		}
		if tok, err := jwt.ParseUnverified(raw); err == nil && len(raw) > jwt.DefaultMaxBytes {
			t.Fatalf("ParseUnverified accepted %d bytes: %+v", len(raw), tok.Header)
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to ParseJWKS: it must not panic,
// and every key it keeps must be a usable public key.
func FuzzParseJWKS(f *testing.F) {
	es := testKey(f, "ES256", "a")
	b, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{jwkJSON(f, es.Public(), map[string]any{"kid": "a"})}})
	f.Add(b)
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"oct","k":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := jwt.ParseJWKS(doc)
		if err != nil {
			return
		}
		for _, k := range s.Keys() {
			if _, err := jwt.NewKey(k.ID, k.Algorithm, k.Public); err != nil {
				t.Fatalf("kept an unusable key: %v", err)
			}
		}
	})
}
