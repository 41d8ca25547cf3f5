package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/dpop"
)

// FuzzVerify feeds arbitrary DPoP header values and request targets to the
// proof verifier. It must not panic; every refusal must match
// ErrInvalidProof or ErrUseNonce; and only a proof whose claims hold the
// seeded genuine jti may be accepted (nothing else is signed by the key).
func FuzzVerify(f *testing.F) {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), []byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	c := newClock()
	claims := proofClaims(tokenURI, c.Now())
	claims["jti"] = "genuine"
	genuine := forge(f, k, proofHeader(f, k), claims)
	f.Add(genuine, "POST", tokenURI)
	f.Add(genuine, "GET", tokenURI)
	f.Add(genuine, "POST", "https://AUTH.example.com:443/oauth2/../oauth2/token")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "POST", tokenURI)
	f.Add("a.b.c", "POST", "http://[::1]/%2")
	f.Fuzz(func(t *testing.T, proof, method, uri string) {
		nonces, err := dpop.NewNonces([]byte(strings.Repeat("n", 32)), 0, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*dpop.Nonces{nil, nonces} {
			v, err := dpop.NewVerifier(dpop.Config{Replay: dpop.NewMemoryReplay(10, c.Now), Now: c.Now, Nonces: n})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), dpop.Request{Proofs: []string{proof}, Method: method, URI: uri, AccessToken: ""})
			switch {
			case err == nil && p.ID != "genuine":
				t.Fatalf("accepted a proof the key never signed: %+v", p)
			case err != nil && !errors.Is(err, dpop.ErrInvalidProof) && !errors.Is(err, dpop.ErrUseNonce):
				t.Fatalf("refusal %v matches neither ErrInvalidProof nor ErrUseNonce", err)
			}
		}
	})
}

// FuzzNormalizeURI checks that normalization never panics and is
// idempotent.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{tokenURI, "HTTPS://A.example:443/a/./b/../%7e?x#y", "http://[::1]:80", "https://a/%2f%2F/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		n, err := dpop.NormalizeURI(uri)
		if err != nil {
			return
		}
		again, err := dpop.NormalizeURI(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeURI(%q) = %q, then %q, %v", uri, n, again, err)
		}
	})
}
