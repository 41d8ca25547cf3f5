package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/guard"
)

var npmOnce struct {
	sync.Once
	err error
	out []byte
}

// oauth4webapi installs the pinned npm package of testdata/oauth4webapi
// (npm ci, from its lock file) once per test binary and returns the
// directory.
func oauth4webapi(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "oauth4webapi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is required (scripts/install-deps.sh)")
		}
		t.Skip("node is not installed")
	}
	npmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		npmOnce.out, npmOnce.err = cmd.CombinedOutput()
	})
	if npmOnce.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, npmOnce.err, npmOnce.out)
	}
	return dir
}

// TestDPoPThirdPartyClient: oauth4webapi, an independent implementation of
// RFC 9449, gets a DPoP token from Permiso and calls a service behind
// sdk/guard with it; then with nonces required at both, which it must
// retry. The token it got is worthless as a bearer token.
func TestDPoPThirdPartyClient(t *testing.T) {
	dir := oauth4webapi(t)
	for _, nonces := range []bool{false, true} {
		t.Run(map[bool]string{false: "no nonces", true: "nonces at Permiso and the service"}[nonces], func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.DPoPNonce = nonces })
			id, secret := ts.dpopClient(nil)
			svc := newGuarded(t, ts, func(c *guard.Config) { c.DPoP.Nonce = nonces })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "client.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "ISSUER="+ts.URL, "CLIENT_ID="+id, "CLIENT_SECRET="+secret,
				"AUDIENCE="+serviceAudience, "RESOURCE_URL="+svc.URL+"/orders")
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("node client.mjs: %v\n%s\n%s", err, out, stderr)
			}
			var rep struct {
				TokenType   string `json:"token_type"`
				AccessToken string `json:"access_token"`
				JKT         string `json:"jkt"`
				Status      int    `json:"status"`
				Body        string `json:"body"`
			}
			if err := json.Unmarshal(out, &rep); err != nil {
				t.Fatalf("report %q: %v", out, err)
			}
			if !strings.EqualFold(rep.TokenType, "DPoP") || rep.Status != 200 || rep.Body != "dpop" {
				t.Fatalf("report: %+v", rep)
			}
			if cnf, _ := jwtClaims(t, rep.AccessToken)["cnf"].(map[string]any); cnf["jkt"] != rep.JKT {
				t.Fatalf("token bound to %v, client key %s", cnf, rep.JKT)
			}
			if status, body, _ := svc.call("/orders", "Bearer "+rep.AccessToken); status != 401 {
				t.Fatalf("its token as a bearer token: %d %s", status, body)
			}
		})
	}
}
