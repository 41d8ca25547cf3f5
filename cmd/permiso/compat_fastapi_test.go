package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pythonWithFastAPI returns Debian's python3 when it has the original's
// stack (FastAPI, httpx, uvicorn, PyJWT with cryptography); in CI their
// absence fails the test.
func pythonWithFastAPI(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import fastapi, httpx, uvicorn, jwt, cryptography").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with fastapi, httpx, uvicorn, jwt and cryptography is required in CI (scripts/install-deps.sh): %v", py, err)
		}
		t.Skipf("%s lacks the FastAPI stack (scripts/install-deps.sh installs it): %v", py, err)
	}
	return py
}

// startFastAPI runs the original's documented MT5 service under uvicorn on
// a socket the test opened (so no port can be taken in between) and waits
// for its /health.
func startFastAPI(t *testing.T, py string, env ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	base := "http://" + ln.Addr().String()
	var logs strings.Builder
	cmd := exec.Command(py, "-m", "uvicorn", "mt5_service:app", "--fd", "3", "--log-level", "warning")
	cmd.Dir = filepath.Join("testdata", "original-fastapi")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PYTHONDONTWRITEBYTECODE=1"}, env...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the FastAPI service did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call sends GET path with token and returns the status and the JSON body.
func call(t *testing.T, base, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	if out == nil {
		out = map[string]any{"raw": string(b)}
	}
	return res.StatusCode, out
}

// TestOriginalFastAPIService: the original Permiso's documented FastAPI
// service, unchanged, accepts Permiso's tokens and refuses revoked ones —
// in its default remote-validation mode (the token introspects itself at
// /api/v1/auth/introspect), and in its local mode with the PEM key from
// `permiso keys export --pem`.
func TestOriginalFastAPIService(t *testing.T) {
	py := pythonWithFastAPI(t)
	s := newCLIServer(t)
	c := runCLI(t, runClients, "create", "--name", "MT5 caller", "--id", "mt5-caller", "--scopes", "trade:read market:data",
		"--audiences", "https://mt5.example.com").ok(t)
	secret := field(c.Stdout, "client_secret")
	token := func(t *testing.T, scope string) string {
		t.Helper()
		return strings.TrimSpace(runCLI(t, runToken(nil), "--client-id", "mt5-caller", "--client-secret", secret,
			"--scope", scope, "--resource", "https://mt5.example.com").ok(t).Stdout)
	}

	t.Run("remote validation (the default)", func(t *testing.T) {
		base := startFastAPI(t, py, "PERMISO_AUTH_URL="+s.URL)
		tok := token(t, "trade:read market:data")
		if st, body := call(t, base, "/api/v1/trades", tok); st != http.StatusOK {
			t.Fatalf("a valid Permiso token: %d %v", st, body)
		}
		st, who := call(t, base, "/api/v1/whoami", tok)
		if st != http.StatusOK || who["sub"] != "mt5-caller" || who["client_id"] != "mt5-caller" || who["type"] != "service" ||
			fmt.Sprint(who["scopes"]) != "[trade:read market:data]" {
			t.Errorf("the service's view of the token: %d %v", st, who)
		}
		narrow := token(t, "market:data")
		if st, body := call(t, base, "/api/v1/trades", narrow); st != http.StatusForbidden {
			t.Errorf("a token without trade:read: %d %v", st, body)
		}
		runCLI(t, runToken(nil), "revoke", tok).ok(t, "revoked")
		if st, body := call(t, base, "/api/v1/trades", tok); st != http.StatusUnauthorized {
			t.Fatalf("a revoked token: %d %v", st, body)
		}
		if st, _ := call(t, base, "/api/v1/trades", "not-a-token"); st != http.StatusUnauthorized {
			t.Errorf("garbage: %d", st)
		}
	})

	t.Run("local validation with the exported PEM key", func(t *testing.T) {
		pemKey := runCLI(t, runKeys, "export", "--pem").ok(t, "BEGIN PUBLIC KEY").Stdout
		base := startFastAPI(t, py, "PERMISO_AUTH_URL="+s.URL, "JWT_PUBLIC_KEY="+pemKey, "JWT_ALGORITHM=ES256",
			"JWT_ISSUER="+s.URL, "JWT_AUDIENCE=https://mt5.example.com")
		tok := token(t, "trade:read")
		if st, body := call(t, base, "/api/v1/trades", tok); st != http.StatusOK {
			t.Fatalf("a valid Permiso token, verified locally: %d %v", st, body)
		}
		// A token for another audience is refused by the audience check.
		other := strings.TrimSpace(runCLI(t, runToken(nil)).ok(t).Stdout) // the bootstrap admin's, aud = the issuer
		if st, body := call(t, base, "/api/v1/whoami", other); st != http.StatusUnauthorized {
			t.Errorf("a token for another audience: %d %v", st, body)
		}
		// The original's local mode cannot see revocation (docs/migrating.md):
		// the revoked token still passes there until it expires.
		runCLI(t, runToken(nil), "revoke", tok).ok(t)
		if st, _ := call(t, base, "/api/v1/trades", tok); st != http.StatusOK {
			t.Errorf("local mode and a revoked token: %d (the original's local mode has no revocation check)", st)
		}
	})
}
