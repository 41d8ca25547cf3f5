package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
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

// verifiesWith checks tok's ES256 signature with the PEM public key.
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
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("key type %T", pub)
	}
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v", err)
	}
	d := sha256.Sum256([]byte(tok[:i]))
	return ecdsa.Verify(ec, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}
