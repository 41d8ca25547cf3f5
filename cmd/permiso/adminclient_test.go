package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/server"
)

// cliServer is a real Permiso (internal/server) behind httptest, with the
// CLI's environment pointing at it and at its bootstrap credentials.
type cliServer struct {
	URL       string
	CredsFile string
	AdminID   string
	Secret    string
}

func newCLIServer(t *testing.T) *cliServer {
	t.Helper()
	return newCLIServerWith(t, nil)
}

// loopbackAllowed lets outbound calls (webhooks) reach test servers.
func loopbackAllowed(c *server.Config) { c.OutboundAllow = outbound.Loopback }

// newCLIServerWith is newCLIServer with the server's Config adjusted first.
func newCLIServerWith(t *testing.T, mutate func(*server.Config)) *cliServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	url := "http://" + ts.Listener.Addr().String()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := server.Config{DataDir: dir, Issuer: url, Environment: "test", Version: "test"}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	creds := filepath.Join(dir, server.BootstrapFile)
	b, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PERMISO_SERVER", url)
	t.Setenv("PERMISO_CREDENTIALS_FILE", creds)
	t.Setenv("PERMISO_CLIENT_ID", "")
	t.Setenv("PERMISO_CLIENT_SECRET", "")
	return &cliServer{URL: url, CredsFile: creds, AdminID: c.ClientID, Secret: c.ClientSecret}
}

type cliResult struct {
	Stdout, Stderr string
	Err            error
}

func runCLI(t *testing.T, cmd func(context.Context, []string, io.Writer, io.Writer) error, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := cmd(ctx, args, &stdout, &stderr)
	return cliResult{stdout.String(), stderr.String(), err}
}

// ok fails the test unless the command succeeded and stdout holds want.
func (r cliResult) ok(t *testing.T, want ...string) cliResult {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("error %v; stderr %s", r.Err, r.Stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("stdout %q does not contain %q", r.Stdout, w)
		}
	}
	return r
}

// fails checks that the command failed and stderr holds want.
func (r cliResult) fails(t *testing.T, want ...string) {
	t.Helper()
	if r.Err == nil {
		t.Fatalf("no error; stdout %s", r.Stdout)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr+r.Err.Error(), w) {
			t.Errorf("stderr %q / error %q do not contain %q", r.Stderr, r.Err, w)
		}
	}
}

// field reads a line "key: value" from command output.
func field(out, key string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestAdminCredentials(t *testing.T) {
	s := newCLIServer(t)
	badFile := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badFile, []byte(`{"client_id": ""}`), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string // on failure, in stderr or the error
		ok   bool
	}{
		{name: "credentials file from env", ok: true},
		{name: "flags win over the file", args: []string{"--client-id", s.AdminID, "--client-secret", s.Secret,
			"--credentials-file", "/nonexistent"}, ok: true},
		{name: "env credentials", env: map[string]string{"PERMISO_CLIENT_ID": s.AdminID, "PERMISO_CLIENT_SECRET": s.Secret,
			"PERMISO_CREDENTIALS_FILE": "/nonexistent"}, ok: true},
		{name: "wrong secret", args: []string{"--client-id", s.AdminID, "--client-secret", "pms_wrong"},
			want: []string{"invalid_client: ", "401"}},
		{name: "id without secret", args: []string{"--client-id", s.AdminID}, want: []string{"give both --client-id and --client-secret"}},
		{name: "missing file", args: []string{"--credentials-file", "/nonexistent/creds.json"}, want: []string{"read credentials"}},
		{name: "bad file", args: []string{"--credentials-file", badFile}, want: []string{"must hold"}},
		{name: "nothing configured", env: map[string]string{"PERMISO_CREDENTIALS_FILE": ""}, want: []string{"no admin credentials"}},
		{name: "server down", args: []string{"--server", "http://127.0.0.1:1"}, want: []string{"read the server's metadata", "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.name == "nothing configured" {
				t.Chdir(t.TempDir()) // no ./permiso-data/bootstrap-admin.json here
			}
			r := runCLI(t, runScopes, append([]string{"list"}, tt.args...)...)
			if tt.ok {
				r.ok(t, "NAME", "trade:read")
				return
			}
			r.fails(t, tt.want...)
		})
	}
	t.Run("default credentials file in ./permiso-data", func(t *testing.T) {
		t.Setenv("PERMISO_CREDENTIALS_FILE", "")
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "permiso-data"), 0o700)
		b, _ := os.ReadFile(s.CredsFile)
		os.WriteFile(filepath.Join(dir, "permiso-data", "bootstrap-admin.json"), b, 0o600)
		t.Chdir(dir)
		runCLI(t, runScopes, "list").ok(t, "trade:read")
	})
}

func TestSubcommandUsage(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(context.Context, []string, io.Writer, io.Writer) error
		args []string
		help bool     // answered with flag.ErrHelp
		want []string // in stderr
	}{
		{"clients help", runClients, []string{"--help"}, true, []string{"create", "rotate-secret"}},
		{"clients create help", runClients, []string{"create", "--help"}, true,
			[]string{"-name", "-scopes", "-audiences", "-trusted", "-lifetime", "-type", "-redirect-uris", "-grant-types", "-json", "-server"}},
		{"rotate-secret help", runClients, []string{"rotate-secret", "-h"}, true, []string{"-grace"}},
		{"roles set-scopes help", runRoles, []string{"set-scopes", "--help"}, true, []string{"-scopes"}},
		{"keys rotate help", runKeys, []string{"rotate", "--help"}, true, []string{"-delay"}},
		{"token help", runToken(nil), []string{"--help"}, true, []string{"-scope", "-resource", "-client-id"}},
		{"no subcommand", runScopes, nil, false, []string{"Subcommands:"}},
		{"unknown subcommand", runRoles, []string{"promote"}, false, nil},
		{"missing argument", runClients, []string{"get"}, false, []string{"Usage: permiso clients get CLIENT_ID"}},
		{"unknown flag", runClients, []string{"list", "--colour"}, false, []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PERMISO_CLIENT_SECRET", "pms_must_not_be_printed")
			r := runCLI(t, tt.cmd, tt.args...)
			if tt.help != errors.Is(r.Err, flag.ErrHelp) || r.Err == nil {
				t.Fatalf("error %v, want help=%v", r.Err, tt.help)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.Stderr, w)
				}
			}
			if strings.Contains(r.Stderr, "pms_must_not_be_printed") {
				t.Error("usage printed a secret from the environment")
			}
		})
	}
}
