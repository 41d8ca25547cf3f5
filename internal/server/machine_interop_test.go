package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
)

// TestPrivateKeyJWTThirdPartyClient: oauth4webapi's PrivateKeyJwt, an
// independent implementation, gets tokens from Permiso and introspects
// one, with a fresh assertion each time.
func TestPrivateKeyJWTThirdPartyClient(t *testing.T) {
	dir := oauth4webapi(t)
	ts := newTestServer(t, nil)
	key := jwttest.NewKey(t, "ES256", "node-1")
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Node client", "client_id": "node-client",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key), "scope_ids": []string{"trade:read"}}, 201)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "private_key_jwt.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ISSUER="+ts.URL, "CLIENT_ID=node-client", "KID=node-1",
		"PRIVATE_KEY_PEM="+string(key.PrivatePEM(t)))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node private_key_jwt.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var rep struct {
		AccessTokens []string `json:"access_tokens"`
		Active       bool     `json:"active"`
		ClientID     string   `json:"client_id"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if len(rep.AccessTokens) != 2 || !rep.Active || rep.ClientID != "node-client" {
		t.Fatalf("report: %+v", rep)
	}
	for _, tok := range rep.AccessTokens {
		if c := claimsOf(t, tok); c["client_id"] != "node-client" || c["scope"] != "trade:read" {
			t.Fatalf("claims %v", c)
		}
	}
}
