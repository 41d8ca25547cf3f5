package jwt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// TestSignerRoundTrip: what the Signer makes, the one verifier accepts,
// for every key type, with the algorithm the key implies.
func TestSignerRoundTrip(t *testing.T) {
	for keyAlg, want := range map[string]string{"ES256": jwt.ES256, "ES384": jwt.ES384, "ES512": jwt.ES512,
		"EdDSA": jwt.EdDSA, "PS256": jwt.PS256} {
		priv := testKey(t, keyAlg, "signer")
		s, err := jwt.NewSigner(priv)
		if err != nil {
			t.Fatalf("%s: %v", keyAlg, err)
		}
		if s.Algorithm() != want {
			t.Fatalf("%s: algorithm %s, want %s", keyAlg, s.Algorithm(), want)
		}
		k, err := jwt.NewKey("k", "", s.Public())
		if err != nil {
			t.Fatal(err)
		}
		set, _ := jwt.NewSet(k)
		v, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{"client-authentication+jwt"}, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Compact(jwt.Header{Algorithm: "none", KeyID: "k", Type: "client-authentication+jwt"},
			map[string]any{"iss": "bot", "exp": now.Unix() + 60})
		if err != nil {
			t.Fatalf("%s: %v", keyAlg, err)
		}
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: verify: %v", keyAlg, err)
		}
		if got.Header.Algorithm != want || got.Claims.Issuer != "bot" {
			t.Fatalf("%s: header %+v claims %+v", keyAlg, got.Header, got.Claims)
		}
	}
	if _, err := jwt.NewSigner(testKey(t, "RSA1024", "signer")); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("1024-bit RSA: %v", err)
	}
	if _, err := jwt.NewSigner(nil); err == nil {
		t.Fatal("nil key accepted")
	}
}
