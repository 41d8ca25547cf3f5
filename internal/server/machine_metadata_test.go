package server_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestMachineIdentityMetadata: the metadata lists every client
// authentication method and assertion algorithm for the token,
// introspection and revocation endpoints; the certificate methods and
// mtls_endpoint_aliases only when a certificate can reach Permiso.
func TestMachineIdentityMetadata(t *testing.T) {
	keyed := []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "federated_jwt", "spiffe_jwt"}
	certs := []string{"tls_client_auth", "self_signed_tls_client_auth"}
	algs := []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}
	for _, tc := range []struct {
		name    string
		conf    func(*server.Config)
		methods []string
		aliases bool
	}{
		{"without mutual TLS", nil, keyed, false},
		{"behind a proxy forwarding certificates", func(c *server.Config) {
			c.ClientCertHeader, c.ClientCertFormat = "X-SSL-Client-Cert", "nginx"
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			c.MTLSBaseURL = "https://mtls.auth.example.com"
		}, append(slices.Clone(keyed), certs...), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, tc.conf)
			md := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
			if md.Status != 200 {
				t.Fatalf("metadata: %d %s", md.Status, md.Body)
			}
			for _, ep := range []string{"token", "introspection", "revocation"} {
				got := stringList(md.JSON[ep+"_endpoint_auth_methods_supported"])
				for _, m := range tc.methods {
					if !slices.Contains(got, m) {
						t.Errorf("%s_endpoint_auth_methods_supported = %v lacks %s", ep, got, m)
					}
				}
				if !slices.Contains(tc.methods, "tls_client_auth") && slices.ContainsFunc(certs, func(c string) bool { return slices.Contains(got, c) }) {
					t.Errorf("%s_endpoint_auth_methods_supported = %v offers certificates no listener can receive", ep, got)
				}
				if got := stringList(md.JSON[ep+"_endpoint_auth_signing_alg_values_supported"]); !slices.Equal(got, algs) {
					t.Errorf("%s_endpoint_auth_signing_alg_values_supported = %v, want %v", ep, got, algs)
				}
			}
			aliases, _ := md.JSON["mtls_endpoint_aliases"].(map[string]any)
			switch {
			case tc.aliases && (aliases["token_endpoint"] != "https://mtls.auth.example.com/oauth2/token" ||
				aliases["introspection_endpoint"] != "https://mtls.auth.example.com/oauth2/introspect" ||
				aliases["revocation_endpoint"] != "https://mtls.auth.example.com/oauth2/revoke"):
				t.Errorf("mtls_endpoint_aliases = %v", aliases)
			case !tc.aliases && aliases != nil:
				t.Errorf("mtls_endpoint_aliases without mutual TLS: %v", aliases)
			}
		})
	}
}

// stringList reads a JSON array of strings.
func stringList(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
