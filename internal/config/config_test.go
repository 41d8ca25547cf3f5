package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "permiso.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:9000\nlog_level: warn\ntrusted-proxies: [10.0.0.0/8, 192.168.0.1]\nshutdown-timeout: 3s\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		env     []string
		addr    string
		level   string
		proxies int
	}{
		{"defaults", nil, nil, "127.0.0.1:8000", "info", 0},
		{"file", []string{"--config", file}, nil, "127.0.0.1:9000", "warn", 2},
		{"env beats file", []string{"--config", file}, []string{"PERMISO_ADDR=127.0.0.1:9100"}, "127.0.0.1:9100", "warn", 2},
		{"flag beats env", []string{"--config", file, "--addr", "127.0.0.1:9200"}, []string{"PERMISO_ADDR=127.0.0.1:9100"}, "127.0.0.1:9200", "warn", 2},
		{"config file from env", nil, []string{"PERMISO_CONFIG=" + file}, "127.0.0.1:9000", "warn", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("serve", tt.args, tt.env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.addr || c.LogLevel != tt.level || len(c.TrustedProxies) != tt.proxies {
				t.Fatalf("got addr=%s level=%s proxies=%v", c.Addr, c.LogLevel, c.TrustedProxies)
			}
			if c.Issuer != "http://"+c.Addr {
				t.Errorf("issuer %q", c.Issuer)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Load("serve", []string{"--addr", "nope", "--signing-alg", "HS256", "--database-url", "mysql://x",
		"--max-login-attempts", "0", "--master-key", "short", "--cors-origins", "*", "--outbound-allow", "10.0.0.0/33"}, nil, io.Discard)
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{"addr", "signing-alg", "database-url", "max-login-attempts", "master-key", "cors-origins", "outbound-allow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %q in:\n%v", want, err)
		}
	}
}

// TestMaxUserLoginAttempts: the lock across addresses must need more
// failures than one address can make, or one address could lock a user out
// of every address.
func TestMaxUserLoginAttempts(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
		want int
	}{
		{nil, true, 0},
		{[]string{"--max-user-login-attempts", "50"}, true, 50},
		{[]string{"--max-login-attempts", "5", "--max-user-login-attempts", "5"}, false, 0},
		{[]string{"--max-login-attempts", "10", "--max-user-login-attempts", "6"}, false, 0},
	} {
		c, err := Load("serve", tt.args, []string{}, io.Discard)
		if (err == nil) != tt.ok {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "max-user-login-attempts must be 0 or more than max-login-attempts") {
				t.Fatalf("%v: %v", tt.args, err)
			}
			continue
		}
		if c.MaxUserLoginAttempts != tt.want {
			t.Fatalf("%v: %d", tt.args, c.MaxUserLoginAttempts)
		}
	}
	c, err := Load("serve", nil, []string{"PERMISO_MAX_USER_LOGIN_ATTEMPTS=40"}, io.Discard)
	if err != nil || c.MaxUserLoginAttempts != 40 {
		t.Fatalf("from the environment: %v %v", c.MaxUserLoginAttempts, err)
	}
}

func TestBadValues(t *testing.T) {
	if _, err := Load("serve", nil, []string{"PERMISO_SHUTDOWN_TIMEOUT=soon"}, io.Discard); err == nil || !strings.Contains(err.Error(), "PERMISO_SHUTDOWN_TIMEOUT") {
		t.Errorf("bad env duration: %v", err)
	}
	file := filepath.Join(t.TempDir(), "x.yaml")
	os.WriteFile(file, []byte("adress: typo\n"), 0o600)
	if _, err := Load("serve", []string{"--config", file}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Errorf("unknown file key: %v", err)
	}
	c, err := Load("serve", []string{"--issuer", "https://auth.example.com/"}, nil, io.Discard)
	if err != nil || c.Issuer != "https://auth.example.com" {
		t.Errorf("issuer trailing slash: %v %q", err, c.Issuer)
	}
	if c.ShutdownTimeout != 15*time.Second {
		t.Errorf("default shutdown timeout %v", c.ShutdownTimeout)
	}
}

func TestHelpListsEveryOption(t *testing.T) {
	var out strings.Builder
	_, err := Load("serve", []string{"--help"}, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, o := range options(&Config{}) {
		if !strings.Contains(out.String(), "-"+o.name) || !strings.Contains(out.String(), o.env()) {
			t.Errorf("help lacks %s", o.name)
		}
	}
}

func TestProfilerOnlyOnLoopback(t *testing.T) {
	if _, err := Load("serve", []string{"--pprof-addr", "0.0.0.0:6060"}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "pprof-addr") {
		t.Fatalf("a public profiler address was accepted: %v", err)
	}
	if _, err := Load("serve", []string{"--pprof-addr", "127.0.0.1:6060"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
}
