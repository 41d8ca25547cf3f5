package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestSDKWithoutSecrets drives every SDK option for clients without a
// secret against a real Permiso: a private key (crypto.Signer and PEM
// file), a projected-token file re-read on every fetch, an assertion
// function with a JWT-SVID.
func TestSDKWithoutSecrets(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	ctx := context.Background()
	key := jwttest.NewKey(t, "ES256", "")
	kid, err := clientcredentials.Thumbprint(key.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	key.KID = kid
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Keyed", "client_id": "keyed",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)}, 201)

	t.Run("private key, a fresh assertion per request", func(t *testing.T) {
		cfg := clientcredentials.Config{IssuerURL: ts.URL, ClientID: "keyed", PrivateKey: key.Signer}
		for range 3 { // three fetches: a reused assertion would be refused
			if _, err := cfg.Token(ctx); err != nil {
				t.Fatal(err)
			}
		}
		file := filepath.Join(t.TempDir(), "key.pem")
		os.WriteFile(file, key.PrivatePEM(t), 0o600)
		src := (&clientcredentials.Config{IssuerURL: ts.URL, ClientID: "keyed", PrivateKeyFile: file}).TokenSource(ctx)
		defer src.Close()
		if tok, err := src.Token(); err != nil || tok.AccessToken == "" {
			t.Fatalf("PEM file: %v", err)
		}
	})

	t.Run("projected token file, re-read on every fetch", func(t *testing.T) {
		k8s := jwttest.NewKubernetesIssuer(t)
		ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "cluster", "issuer": k8s.URL, "key_source": "oidc", "audience": "permiso"}, 201)
		ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Pod", "client_id": "pod", "token_endpoint_auth_method": "federated_jwt"}, 201)
		ts.mustJSON(t, "POST", "/api/v1/trusts/cluster/bindings", map[string]any{"client_id": "pod", "subject": "system:serviceaccount:trading:bot"}, 201)
		file := filepath.Join(t.TempDir(), "token")
		os.WriteFile(file, []byte(k8s.ServiceAccountToken(t, "trading", "bot", []string{"permiso"}, time.Hour, time.Now())), 0o600)
		cfg := clientcredentials.Config{IssuerURL: ts.URL, AssertionFile: file}
		if _, err := cfg.Token(ctx); err != nil {
			t.Fatal(err)
		}
		// The kubelet replaces the file; an intruder's token there is read
		// and refused, which shows the file is read again.
		os.WriteFile(file, []byte(k8s.ServiceAccountToken(t, "trading", "intruder", []string{"permiso"}, time.Hour, time.Now())), 0o600)
		if _, err := cfg.Token(ctx); !isOAuthError(err, wire.ErrInvalidClient) {
			t.Fatalf("after the file changed: %v, want invalid_client", err)
		}
	})

	t.Run("assertion function with a JWT-SVID", func(t *testing.T) {
		svid := jwttest.NewKey(t, "ES256", "svid")
		jwk := svid.PublicJWK()
		jwk["use"] = "jwt-svid"
		ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "spire", "key_source": "spiffe", "trust_domain": "example.org",
			"spiffe_bundle": map[string]any{"keys": []any{jwk}}}, 201)
		ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Pricing", "client_id": "pricing", "token_endpoint_auth_method": "spiffe_jwt"}, 201)
		ts.mustJSON(t, "POST", "/api/v1/trusts/spire/bindings", map[string]any{"client_id": "pricing", "subject": "spiffe://example.org/pricing"}, 201)
		cfg := clientcredentials.Config{IssuerURL: ts.URL, ClientID: "spiffe://example.org/pricing", AssertionType: wire.AssertionTypeJWTSPIFFE,
			Assertion: func(context.Context) (string, error) {
				now := time.Now()
				return svid.Sign(t, map[string]any{"sub": "spiffe://example.org/pricing", "aud": []string{ts.URL},
					"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}, nil), nil
			}}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c := claimsOf(t, tok.AccessToken); c["client_id"] != "pricing" {
			t.Fatalf("issued to %v", c["client_id"])
		}
	})
}

// TestSDKMutualTLS: Config.TLSConfig presents the certificate, and
// discovery sends the request to the mtls_endpoint_aliases token endpoint.
func TestSDKMutualTLS(t *testing.T) {
	p := newPKI(t)
	mtlsAddr := freeAddr(t)
	ts := newTestServer(t, func(c *server.Config) {
		c.Issuer = "https://" + c.Addr
		c.TLSCertFile, c.TLSKeyFile, c.ClientCAFile = p.certFile, p.keyFile, p.clientCAFile
		c.MTLSAddr, c.MTLSBaseURL = mtlsAddr, "https://"+mtlsAddr
	})
	ts.client = p.client(nil)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com"}, 201)
	leaf := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	conf := &tls.Config{RootCAs: p.serverCA.Pool(), Certificates: []tls.Certificate{leaf.TLS()}}
	cfg := clientcredentials.Config{IssuerURL: ts.URL, ClientID: "cert-bot", TLSConfig: conf}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, tok.AccessToken); c["client_id"] != "cert-bot" {
		t.Fatalf("issued to %v", c["client_id"])
	}
	// Only the client-certificate listener asks for a certificate, so a
	// token at all shows the alias was used; the main one refuses.
	direct := clientcredentials.Config{TokenURL: ts.URL + "/oauth2/token", ClientID: "cert-bot", TLSConfig: conf}
	if _, err := direct.Token(context.Background()); !isOAuthError(err, wire.ErrInvalidClient) {
		t.Fatalf("main listener: %v, want invalid_client", err)
	}
}

func isOAuthError(err error, code string) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == code
}
