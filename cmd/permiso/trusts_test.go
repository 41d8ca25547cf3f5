package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestTrustsCommands(t *testing.T) {
	newCLIServer(t)
	dir := t.TempDir()
	k8s := jwttest.NewKey(t, "RS256", "cluster-1")
	jwks := filepath.Join(dir, "cluster-jwks.json")
	os.WriteFile(jwks, jwttest.JWKS(k8s), 0o600)

	runCLI(t, runTrusts, "create", "prod-cluster", "--issuer", "https://k8s.example.com", "--key-source", "jwks",
		"--jwks-file", jwks, "--audience", "permiso", "--max-token-age", "30m").ok(t, "prod-cluster", "https://k8s.example.com", "jwks (static)", "30m0s")
	runCLI(t, runClients, "create", "--name", "Trading bot", "--id", "trading-bot", "--federated").
		ok(t, "client_id:     trading-bot", "(none: authenticates with federated_jwt)")
	bound := runCLI(t, runTrusts, "bind", "prod-cluster", "trading-bot", "--subject", "system:serviceaccount:trading:bot",
		"--k8s-namespace", "trading", "--k8s-service-account", "bot").ok(t, "bound trading-bot to system:serviceaccount:trading:bot")
	bindingID := strings.TrimSuffix(bound.Stdout[strings.LastIndex(bound.Stdout, " ")+1:], ")\n")

	runCLI(t, runTrusts, "list").ok(t, "NAME", "prod-cluster", "https://k8s.example.com", "permiso", "true", "1")
	runCLI(t, runTrusts, "get", "prod-cluster").ok(t, "trading-bot", "system:serviceaccount:trading:bot",
		"kubernetes.io.namespace=trading", "kubernetes.io.serviceaccount.name=bot")
	runCLI(t, runTrusts, "keys", "prod-cluster").ok(t, "cluster-1")
	runCLI(t, runTrusts, "update", "prod-cluster", "--disable").ok(t, "active", "false")
	runCLI(t, runTrusts, "update", "prod-cluster").fails(t, "nothing to change")
	runCLI(t, runTrusts, "create", "bad", "--key-source", "ldap").fails(t, "validation_error", "key_source must be one of")
	runCLI(t, runTrusts, "bind", "prod-cluster", "trading-bot").fails(t, "--subject is required")
	runCLI(t, runTrusts, "bind", "prod-cluster", "trading-bot", "--subject", "x", "--condition", "novalue").fails(t, "CLAIM.PATH=VALUE")
	runCLI(t, runTrusts, "delete", "prod-cluster").fails(t, "conflict", "delete their bindings first")
	runCLI(t, runTrusts, "unbind", "prod-cluster", bindingID).ok(t, "removed binding")
	runCLI(t, runTrusts, "delete", "prod-cluster").ok(t, "deleted trust prod-cluster")
	runCLI(t, runTrusts, "get", "prod-cluster").fails(t, "not_found")
}

// TestClientsCreatePrivateKeyJWT: --private-key-jwt generates a key,
// writes the private half and registers the public one, and an assertion
// signed with the written key gets a token.
func TestClientsCreatePrivateKeyJWT(t *testing.T) {
	srv := newCLIServer(t)
	keyFile := filepath.Join(t.TempDir(), "bot.key.pem")
	r := runCLI(t, runClients, "create", "--name", "Keyed", "--id", "keyed", "--private-key-jwt", "--key-out", keyFile).
		ok(t, "client_id:     keyed", "(none: authenticates with private_key_jwt)")
	if !strings.Contains(r.Stderr, "Private key written to "+keyFile) {
		t.Fatalf("stderr %q", r.Stderr)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	got := runCLI(t, runClients, "get", "keyed", "--json").ok(t, `"token_endpoint_auth_method": "private_key_jwt"`)
	var c struct {
		JWKS struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		} `json:"jwks"`
	}
	json.Unmarshal([]byte(got.Stdout), &c)
	if len(c.JWKS.Keys) != 1 || c.JWKS.Keys[0].Kid == "" {
		t.Fatalf("registered jwks: %s", got.Stdout)
	}
	b, _ := os.ReadFile(keyFile)
	blk, _ := pem.Decode(b)
	priv, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := &jwttest.Key{Alg: "ES256", KID: c.JWKS.Keys[0].Kid, Signer: priv.(crypto.Signer)}
	now := time.Now()
	a := key.Sign(t, map[string]any{"iss": "keyed", "sub": "keyed", "aud": srv.URL, "jti": "cli-1", "exp": now.Add(time.Minute).Unix()}, nil)
	res, err := http.PostForm(srv.URL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {wire.AssertionTypeJWTBearer}, "client_assertion": {a}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("token with the generated key: %d", res.StatusCode)
	}
	runCLI(t, runClients, "rotate-secret", "keyed").fails(t, "has no secret")
	runCLI(t, runClients, "create", "--name", "Both", "--private-key-jwt", "--federated", "--key-out", filepath.Join(t.TempDir(), "k")).
		fails(t, "conflicts")
}
