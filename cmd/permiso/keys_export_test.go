package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestKeysExport(t *testing.T) {
	newCLIServer(t)
	tok := strings.TrimSpace(runCLI(t, runToken(nil)).ok(t).Stdout)

	r := runCLI(t, runKeys, "export", "--pem").ok(t, "-----BEGIN PUBLIC KEY-----")
	if !strings.Contains(r.Stderr, "does not follow rotation") || !strings.Contains(r.Stderr, "/.well-known/jwks.json") {
		t.Errorf("no rotation note: %q", r.Stderr)
	}
	if !verifiesWith(t, r.Stdout, tok) {
		t.Fatal("the exported key does not verify a token the server signed")
	}
	runCLI(t, runKeys, "export").ok(t, `"kty": "EC"`, `"crv": "P-256"`) // the JWK without --pem
	runCLI(t, runKeys, "export", "--pem", "--kid", "nope").fails(t, `no published key has kid "nope"`)
	runCLI(t, runKeys, "export", "--kid", "a", "--all").fails(t, "not both")

	// After a rotation two keys are published; the one signing is chosen
	// with the admin credentials, and without them the command asks.
	runCLI(t, runKeys, "rotate", "--delay", "0s").ok(t, "is published and signs from")
	newTok := strings.TrimSpace(runCLI(t, runToken(nil)).ok(t).Stdout)
	r = runCLI(t, runKeys, "export", "--pem").ok(t)
	if !verifiesWith(t, r.Stdout, newTok) || verifiesWith(t, r.Stdout, tok) {
		t.Error("after rotation, export --pem is not the new signing key")
	}
	all := runCLI(t, runKeys, "export", "--pem", "--all").ok(t, "# kid ")
	if strings.Count(all.Stdout, "BEGIN PUBLIC KEY") != 2 {
		t.Errorf("--all printed\n%s", all.Stdout)
	}
	t.Setenv("PERMISO_CREDENTIALS_FILE", "/nonexistent")
	t.Chdir(t.TempDir())
	runCLI(t, runKeys, "export", "--pem").fails(t, "2 keys are published", "--kid")
}

// verifiesWith checks tok with the PEM public key through the one verifier
// (sdk/jwt), bound to ES256 under the token's kid (a PEM carries none).
func verifiesWith(t *testing.T, pemText, tok string) bool {
	t.Helper()
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("not PEM: %q", pemText)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	u, err := jwt.ParseUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwt.NewKey(u.Header.KeyID, jwt.ES256, pub)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwt.NewSet(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{wire.AccessTokenJWTType}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), tok)
	if err != nil && !errors.Is(err, jwt.ErrSignature) {
		t.Fatalf("verify: %v", err)
	}
	return err == nil
}
