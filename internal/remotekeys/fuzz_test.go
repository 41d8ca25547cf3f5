package remotekeys_test

import (
	"testing"

	"github.com/permiso-auth/permiso/internal/remotekeys"
)

// FuzzParseBundle: a SPIFFE bundle comes from a remote endpoint. Parsing
// never panics, and a bundle it accepts holds a usable key set, bounded.
func FuzzParseBundle(f *testing.F) {
	f.Add([]byte(`{"keys":[{"use":"jwt-svid","kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}],"spiffe_sequence":1,"spiffe_refresh_hint":300}`))
	f.Add([]byte(`{"keys":[{"use":"x509-svid","kty":"EC","x5c":["AAAA"]}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":null,"spiffe_refresh_hint":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := remotekeys.ParseBundle(data)
		if err != nil {
			return
		}
		if b.JWT == nil && b.X509 == nil {
			t.Fatal("accepted a bundle without a usable key")
		}
		if len(b.Authorities()) > remotekeys.MaxBundleKeys {
			t.Fatalf("%d authorities, more than the bound", len(b.Authorities()))
		}
		if b.RefreshHint < 0 {
			t.Fatalf("negative refresh hint %v", b.RefreshHint)
		}
		for _, a := range b.Authorities() {
			if !a.IsCA {
				t.Fatal("an authority that is not a CA")
			}
		}
	})
}
