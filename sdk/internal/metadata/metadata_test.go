package metadata

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// server serves the metadata of issuer (its own URL plus issuerPath) at
// each of paths, and 404 elsewhere.
func server(t *testing.T, issuerPath string, paths ...string) (*httptest.Server, string) {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	for _, p := range paths {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(wire.Metadata{Issuer: srv.URL + issuerPath, JWKSURI: srv.URL + issuerPath + "/jwks"})
		})
	}
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, srv.URL + issuerPath
}

func TestFetchIssuerWithPath(t *testing.T) {
	tests := []struct {
		name string
		path string // the only path that serves the document
	}{
		{"RFC 8414 inserted", "/.well-known/oauth-authorization-server/t/acme"},
		{"OpenID appended", "/t/acme/.well-known/openid-configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, issuer := server(t, "/t/acme", tt.path)
			md, err := Fetch(context.Background(), http.DefaultClient, issuer)
			if err != nil {
				t.Fatal(err)
			}
			if md.Issuer != issuer {
				t.Fatalf("issuer = %q, want %q", md.Issuer, issuer)
			}
		})
	}
}

func TestFetchRefusesAnotherIssuersDocument(t *testing.T) {
	// The host's own document (issuer without a path) is not the tenant's.
	srv, _ := server(t, "", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
	if _, err := Fetch(context.Background(), http.DefaultClient, srv.URL+"/t/acme"); err == nil {
		t.Fatal("Fetch accepted a document naming another issuer")
	}
}

func TestOAuthURL(t *testing.T) {
	tests := map[string]string{
		"https://auth.example.com":            "https://auth.example.com/.well-known/oauth-authorization-server",
		"https://auth.example.com/t/acme":     "https://auth.example.com/.well-known/oauth-authorization-server/t/acme",
		"http://127.0.0.1:8000/t/a-b":         "http://127.0.0.1:8000/.well-known/oauth-authorization-server/t/a-b",
		"https://auth.example.com/t/acme%2Fx": "https://auth.example.com/.well-known/oauth-authorization-server/t/acme%2Fx",
	}
	for in, want := range tests {
		if got := oauthURL(in); got != want {
			t.Errorf("oauthURL(%q) = %q, want %q", in, got, want)
		}
	}
}
