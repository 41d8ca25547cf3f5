package main

import (
	"strings"
	"testing"
)

// TestCLIPartialAdministrator: the CLI acts through the admin API, so a
// partial administrator's credentials grant no more there than over HTTP,
// and the refusal reaches the terminal in the API's words.
func TestCLIPartialAdministrator(t *testing.T) {
	newCLIServer(t)
	created := runCLI(t, runClients, "create", "--name", "Provisioner", "--id", "provisioner", "--scopes", "admin:clients,market:data").ok(t)
	t.Setenv("PERMISO_CREDENTIALS_FILE", "")
	t.Setenv("PERMISO_CLIENT_ID", "provisioner")
	t.Setenv("PERMISO_CLIENT_SECRET", field(created.Stdout, "client_secret"))

	runCLI(t, runClients, "create", "--name", "Backdoor", "--id", "backdoor", "--scopes", "admin:system").
		fails(t, `insufficient_scope: You cannot grant scopes you do not hold: "admin:system" (to client backdoor)`)
	runCLI(t, runClients, "rotate-secret", "permiso-admin").
		fails(t, `insufficient_scope: The client "permiso-admin" holds scopes you do not hold: `)
	runCLI(t, runClients, "update", "provisioner", "--scopes", "admin:clients,admin:roles").
		fails(t, `"admin:roles"`)

	// Within what it holds, it provisions.
	r := runCLI(t, runClients, "create", "--name", "Quotes", "--id", "quotes", "--scopes", "market:data").ok(t, "client_id:     quotes")
	if !strings.HasPrefix(field(r.Stdout, "client_secret"), "pms_") {
		t.Fatalf("no secret: %s", r.Stdout)
	}
}

// TestCLIAsksForPermisosOwnAudience: an admin client with audiences of its
// own (its default token is for another service, which Permiso's API
// refuses) still administers through the CLI, which asks for a token with
// resource = the issuer.
func TestCLIAsksForPermisosOwnAudience(t *testing.T) {
	newCLIServer(t)
	created := runCLI(t, runClients, "create", "--name", "Ops", "--id", "ops", "--scopes", "admin:clients,admin:users",
		"--audiences", "https://mt5-api.example").ok(t)
	t.Setenv("PERMISO_CREDENTIALS_FILE", "")
	t.Setenv("PERMISO_CLIENT_ID", "ops")
	t.Setenv("PERMISO_CLIENT_SECRET", field(created.Stdout, "client_secret"))

	// Its default token is mt5-api's...
	tok := runCLI(t, runToken(nil)).ok(t)
	if aud := jwtClaims(t, strings.TrimSpace(tok.Stdout))["aud"]; aud != "https://mt5-api.example" {
		t.Fatalf("default aud %v", aud)
	}
	// ... yet the admin commands work, with a token naming the issuer.
	runCLI(t, runClients, "list").ok(t, "ops", "permiso-admin")
	runCLI(t, runClients, "get", "ops").ok(t, "https://mt5-api.example")
}
