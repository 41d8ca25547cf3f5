package federation_test

import (
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/federation"
)

// FuzzParseSPIFFEID: a SPIFFE ID comes from an assertion's sub or a
// client_id. Parsing never panics, and what it accepts rebuilds the input
// exactly, from a valid trust domain and whole, clean path segments.
func FuzzParseSPIFFEID(f *testing.F) {
	for _, s := range []string{"spiffe://example.org/ns/trading/sa/pricer", "spiffe://example.org", "spiffe://example.org/",
		"spiffe://Example.org/a", "spiffe://example.org/a/../b", "spiffe://example.org//a", "spiffe://ex:80/a", "https://example.org/a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		td, path, err := federation.ParseSPIFFEID(s)
		if err != nil {
			return
		}
		if "spiffe://"+td+path != s {
			t.Fatalf("parsed %q into %q and %q", s, td, path)
		}
		if federation.CheckTrustDomain(td) != nil {
			t.Fatalf("accepted trust domain %q", td)
		}
		if path != "" {
			for _, seg := range strings.Split(path[1:], "/") {
				if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "?#%@:") {
					t.Fatalf("accepted path segment %q of %q", seg, s)
				}
			}
		}
	})
}
