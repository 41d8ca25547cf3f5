package trading_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/forwardauth"
)

// The example's nginx configuration passes `nginx -t` (upstream names are
// pointed at loopback, since nginx resolves them while testing), and the
// compose file names the services the configuration routes to.
func TestExampleDeployment(t *testing.T) {
	conf, err := os.ReadFile(filepath.Join("deploy", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(filepath.Join("deploy", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"permiso:", "mt5-api:", "risk:", "MT5_RISK_URL", "nginx:", "../dashboard/dist:/usr/share/nginx/html:ro", "PERMISO_MASTER_KEY",
		"gateway:", "gateway-rules.yaml", "mt5-py:"} {
		if !strings.Contains(string(compose), svc) {
			t.Errorf("compose file lacks %q", svc)
		}
	}
	for _, route := range []string{"location /oauth2/", "location /mt5/api/", "location /api/v1/", "try_files $uri /index.html",
		"location /mt5-py/", "auth_request /_permiso/decide", "proxy_pass_request_headers off"} {
		if !strings.Contains(string(conf), route) {
			t.Errorf("nginx.conf lacks %q", route)
		}
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is required in CI (apt-get install nginx-light)")
		}
		t.Skip("nginx not installed")
	}
	dir := t.TempDir()
	local := strings.NewReplacer("server permiso:8000", "server 127.0.0.1:8000", "server mt5-api:8001", "server 127.0.0.1:8001",
		"server mt5-py:8002", "server 127.0.0.1:8002", "server gateway:9181", "server 127.0.0.1:9181").Replace(string(conf))
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-q", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"),
		"-e", filepath.Join(dir, "error.log"), "-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
}

// The gateway's rules file for the FastAPI service is valid.
func TestExampleGatewayRules(t *testing.T) {
	f, err := os.Open(filepath.Join("deploy", "gateway-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := forwardauth.Parse(f, "gateway-rules.yaml"); err != nil {
		t.Fatal(err)
	}
}
