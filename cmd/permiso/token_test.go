package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// jwtClaims decodes a JWT's payload without verifying it; the server's
// own tests verify signatures.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenCommand(t *testing.T) {
	s := newCLIServer(t)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, claims map[string]any)
		fail  string
	}{
		{name: "bootstrap admin from the credentials file", check: func(t *testing.T, c map[string]any) {
			if c["client_id"] != s.AdminID || !strings.Contains(c["scope"].(string), "admin:clients") {
				t.Errorf("claims %v", c)
			}
		}},
		{name: "scopes by comma or space", args: []string{"--scope", "admin:roles, admin:clients"}, check: func(t *testing.T, c map[string]any) {
			if c["scope"] != "admin:roles admin:clients" && c["scope"] != "admin:clients admin:roles" {
				t.Errorf("scope %v", c["scope"])
			}
		}},
		{name: "default audience is the issuer", check: func(t *testing.T, c map[string]any) {
			if c["aud"] != s.URL {
				t.Errorf("aud %v, want %s", c["aud"], s.URL)
			}
		}},
		{name: "resource not allowed", args: []string{"--resource", "https://elsewhere.example"}, fail: "invalid_target: "},
		{name: "scope not held", args: []string{"--scope", "reports:read"}, fail: "invalid_scope: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, runToken(nil), tt.args...)
			if tt.fail != "" {
				r.fails(t, tt.fail)
				return
			}
			r.ok(t)
			if strings.Count(r.Stdout, "\n") != 1 {
				t.Errorf("stdout is not one line: %q", r.Stdout)
			}
			tt.check(t, jwtClaims(t, strings.TrimSpace(r.Stdout)))
		})
	}
}
