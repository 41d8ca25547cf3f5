// Package fastapi holds the FastAPI example (Python); this Go test runs its
// Python tests against a real Permiso, both with the service verifying
// tokens itself and behind nginx with `permiso gateway`.
package fastapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/e2etest"
)

const python = "/usr/bin/python3" // Debian's, with Debian's modules

func TestFastAPIExample(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Permiso, uvicorn, nginx and permiso gateway")
	}
	e2etest.Require(t, python, "apt-get install python3")
	if out, err := exec.Command(python, "-c", "import fastapi, jwt, httpx, uvicorn, cryptography").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Debian's Python modules are required in CI (scripts/install-deps.sh): %s", out)
		}
		t.Skipf("Python modules missing: %s", out)
	}
	nginx := e2etest.Require(t, "nginx", "apt-get install nginx-light")

	const mt5, other = "https://mt5.example.com", "https://other.example.com"
	p := e2etest.StartPermiso(t)
	secret := p.Client(t, "trading-bot", false, []string{mt5, other},
		"trade:read", "trade:open", "trade:close", "market:data", "account:read")
	// A tenant, to check that disabling it revokes its tokens at the
	// service (the feed's iss entries).
	acme := p.Tenant(t, "acme")
	acmeSecret := acme.Client(t, "trading-bot", false, []string{mt5}, "trade:read")

	// The gateway way: nginx -> permiso gateway, in front of app_gateway.py.
	root := e2etest.RepoRoot(t)
	gw := e2etest.FreeAddr(t)
	gwProc := e2etest.Start(t, "permiso gateway", nil, e2etest.PermisoBinary(t), "gateway", "--addr", gw,
		"--issuer", p.URL, "--rules", filepath.Join(root, "deploy/gateways/rules.yaml"), "--revocation-poll", "1s")
	e2etest.WaitHTTP(t, "http://"+gw+"/readyz", 200, gwProc)
	app := e2etest.FreeAddr(t)
	host, port, _ := strings.Cut(app, ":")
	appProc := e2etest.Start(t, "app_gateway", []string{"PYTHONDONTWRITEBYTECODE=1"}, python, "-m", "uvicorn", "app_gateway:app",
		"--app-dir", ".", "--host", host, "--port", port, "--log-level", "warning")
	e2etest.WaitHTTP(t, "http://"+app+"/health", 200, appProc)
	listen := e2etest.FreeAddr(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	for _, d := range []string{"tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"} {
		os.Mkdir(filepath.Join(dir, d), 0o777)
		os.Chmod(filepath.Join(dir, d), 0o777)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy/gateways/nginx/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("127.0.0.1:9181", gw, "127.0.0.1:8080", app, "127.0.0.1:8000", listen).Replace(string(b))
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := e2etest.Start(t, "nginx", nil, nginx, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr", "-g", "daemon off;")
	e2etest.WaitHTTP(t, "http://"+listen+"/health", 200, ng)

	cmd := exec.Command(python, "-m", "unittest", "-v", "tests.test_e2e")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PERMISO_ISSUER="+p.URL, "BOT_ID=trading-bot", "BOT_SECRET="+secret,
		"MT5_AUDIENCE="+mt5, "OTHER_AUDIENCE="+other, "GATEWAY_URL=http://"+listen,
		"TENANT_ISSUER="+acme.URL, "TENANT_BOT_SECRET="+acmeSecret, "OPERATOR_TOKEN="+p.OperatorToken(t))
	out, err := cmd.CombinedOutput()
	t.Logf("python -m unittest:\n%s", out)
	if err != nil {
		t.Fatalf("FastAPI example tests failed: %v", err)
	}
	if !strings.Contains(string(out), "Ran 18 tests") || strings.Contains(string(out), "skipped") {
		t.Fatalf("expected 18 tests run and none skipped")
	}
}
