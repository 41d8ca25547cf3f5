package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestClientsCommands(t *testing.T) {
	newCLIServer(t)
	created := runCLI(t, runClients, "create", "--name", "Pricing", "--id", "pricing", "--scopes", "trade:read,market:data",
		"--audiences", "https://mt5.example,https://reports.example", "--trusted", "--lifetime", "1800").ok(t, "client_id:     pricing")
	secret := field(created.Stdout, "client_secret")
	if !strings.HasPrefix(secret, "pms_") {
		t.Fatalf("secret %q in %s", secret, created.Stdout)
	}
	if !strings.Contains(created.Stderr, "not shown again") {
		t.Errorf("no warning to keep the secret: %q", created.Stderr)
	}
	creds := []string{"--client-id", "pricing", "--client-secret", secret}

	steps := []struct {
		name string
		args []string
		want []string // in stdout on success
		fail []string // in stderr or the error when the command must fail
	}{
		{name: "list", args: []string{"list"}, want: []string{"CLIENT_ID", "pricing", "Pricing", "confidential", "market:data,trade:read", "permiso-admin"}},
		{name: "list with search", args: []string{"list", "--search", "pric"}, want: []string{"pricing"}},
		{name: "get", args: []string{"get", "pricing"}, want: []string{"trusted", "true", "https://mt5.example,https://reports.example", "1800s", "client_credentials"}},
		{name: "flags after the id", args: []string{"get", "pricing", "--json"}, want: []string{`"client_id": "pricing"`}},
		{name: "get unknown", args: []string{"get", "ghost"}, fail: []string{"not_found: Service client not found"}},
		{name: "duplicate", args: []string{"create", "--name", "Again", "--id", "pricing"}, fail: []string{"conflict: "}},
		{name: "invalid", args: []string{"create", "--name", "Bad", "--lifetime", "5", "--scopes", "nope:x"},
			fail: []string{"validation_error: ", "access_token_lifetime", `"nope:x"`}},
		{name: "create needs a name", args: []string{"create"}, fail: []string{"--name is required"}},
		{name: "update needs a change", args: []string{"update", "pricing"}, fail: []string{"nothing to change"}},
		{name: "update both ways", args: []string{"update", "pricing", "--disable", "--enable"}, fail: []string{"not both"}},
		{name: "update scopes", args: []string{"update", "pricing", "--scopes", "trade:read"}, want: []string{"trade:read"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := runCLI(t, runClients, st.args...)
			if st.fail != nil {
				r.fails(t, st.fail...)
				return
			}
			r.ok(t, st.want...)
		})
	}

	t.Run("token for the new client", func(t *testing.T) {
		tok := runCLI(t, runToken(nil), append(creds, "--scope", "trade:read", "--resource", "https://reports.example")...).ok(t)
		claims := jwtClaims(t, strings.TrimSpace(tok.Stdout))
		if claims["aud"] != "https://reports.example" || claims["scope"] != "trade:read" || claims["client_id"] != "pricing" {
			t.Errorf("claims %v", claims)
		}
		runCLI(t, runToken(nil), append(creds, "--scope", "market:data")...).fails(t, "invalid_scope: ")
		runCLI(t, runToken(nil), append(creds, "--json")...).ok(t, `"access_token"`, `"expires_in": 1800`)
	})
	t.Run("disable and enable", func(t *testing.T) {
		runCLI(t, runClients, "update", "pricing", "--disable").ok(t, "active", "false")
		runCLI(t, runToken(nil), creds...).fails(t, "invalid_client: ")
		runCLI(t, runClients, "update", "pricing", "--enable").ok(t)
		runCLI(t, runToken(nil), creds...).ok(t)
	})
	t.Run("DPoP-bound tokens", func(t *testing.T) {
		runCLI(t, runClients, "update", "pricing", "--dpop-bound").ok(t, "bound_tokens", "dpop")
		// `permiso token` holds no DPoP key: Permiso refuses the client a token.
		runCLI(t, runToken(nil), creds...).fails(t, "invalid_dpop_proof: ")
		runCLI(t, runClients, "update", "pricing", "--dpop-bound=false").ok(t)
		runCLI(t, runToken(nil), creds...).ok(t)
	})
	t.Run("token-exchange policy", func(t *testing.T) {
		policy := `{"resources":["https://reports.example"],"delegate":true,"max_depth":2,` +
			`"targets":[{"audience":"https://ledger.example","scopes":["trade:read"]}]}`
		runCLI(t, runClients, "update", "pricing", "--grant-types", "client_credentials,"+wire.GrantTokenExchange,
			"--token-exchange", policy).ok(t, "token_exchange", "delegate resources=https://reports.example https://ledger.example(trade:read) max_depth=2")
		file := filepath.Join(t.TempDir(), "policy.json")
		if err := os.WriteFile(file, []byte(`{"impersonate":true,"targets":[{"audience":"https://ledger.example","scopes":[]}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		runCLI(t, runClients, "update", "pricing", "--token-exchange", "@"+file).ok(t, "impersonate https://ledger.example() max_depth=3")
		runCLI(t, runClients, "update", "pricing", "--token-exchange", `{"delegat":true}`).fails(t, "--token-exchange", "delegat")
		runCLI(t, runClients, "update", "pricing", "--token-exchange", `{"max_depth":99}`).fails(t, "max_depth")
		if r := runCLI(t, runClients, "update", "pricing", "--token-exchange", `{}`).ok(t); !regexp.MustCompile(`(?m)^token_exchange +-$`).MatchString(r.Stdout) {
			t.Errorf("policy not removed:\n%s", r.Stdout)
		}
	})
	t.Run("rotate-secret", func(t *testing.T) {
		r := runCLI(t, runClients, "rotate-secret", "pricing", "--grace", "1h").ok(t, "previous secret valid until")
		second := field(r.Stdout, "client_secret")
		runCLI(t, runToken(nil), creds...).ok(t) // still inside the grace period
		runCLI(t, runToken(nil), "--client-id", "pricing", "--client-secret", second).ok(t)
		r = runCLI(t, runClients, "rotate-secret", "pricing", "--grace", "0s", "--current-secret", second).ok(t)
		third := field(r.Stdout, "client_secret")
		runCLI(t, runToken(nil), creds...).fails(t, "invalid_client")
		runCLI(t, runToken(nil), "--client-id", "pricing", "--client-secret", second).fails(t, "invalid_client")
		runCLI(t, runToken(nil), "--client-id", "pricing", "--client-secret", third).ok(t)
		runCLI(t, runClients, "rotate-secret", "pricing", "--current-secret", "pms_wrong").fails(t, "invalid_secret: ")
		runCLI(t, runClients, "rotate-secret", "pricing", "--grace", "1.5s").fails(t, "whole number of seconds")
	})
	t.Run("public client", func(t *testing.T) {
		r := runCLI(t, runClients, "create", "--name", "Mobile", "--type", "public", "--redirect-uris", "com.example.app:/cb", "--json").ok(t)
		var out struct {
			Client       map[string]any `json:"client"`
			ClientSecret *string        `json:"client_secret"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("--json output: %v\n%s", err, r.Stdout)
		}
		if out.ClientSecret != nil || out.Client["client_type"] != "public" {
			t.Errorf("public client: %s", r.Stdout)
		}
	})
	t.Run("delete", func(t *testing.T) {
		runCLI(t, runClients, "delete", "pricing").ok(t, "deleted service client pricing")
		runCLI(t, runClients, "delete", "pricing").fails(t, "not_found: ")
	})
}

func TestClientsCreateEnv(t *testing.T) {
	newCLIServer(t)
	r := runCLI(t, runClients, "create", "--name", "Env bot", "--id", "env-bot", "--scopes", "trade:read market:data", "--env").ok(t, "CLIENT_ID='env-bot'")
	// The shell sets the variables from the output, and they work.
	out, err := exec.Command("bash", "-c", r.Stdout+`printf '%s\n%s\n' "$CLIENT_ID" "$CLIENT_SECRET"`).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "env-bot" || !strings.HasPrefix(lines[1], "pms_") {
		t.Fatalf("eval gave %q", out)
	}
	runCLI(t, runToken(nil), "--client-id", lines[0], "--client-secret", lines[1], "--scope", "market:data").ok(t)
	r = runCLI(t, runClients, "rotate-secret", "env-bot", "--env").ok(t, "CLIENT_SECRET='pms_")
	if strings.Contains(r.Stdout, "client_id") {
		t.Errorf("rotate --env printed %q", r.Stdout)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "it's", `a'; touch /nonexistent/pwned; echo '`, "$(id)", "`id`", "new\nline", ""} {
		out, err := exec.Command("bash", "-c", "X="+shellQuote(s)+`; printf '%s' "$X"`).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) evaluates to %q (%v)", s, out, err)
		}
	}
}
