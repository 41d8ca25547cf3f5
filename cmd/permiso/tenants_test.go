package main

import (
	"strings"
	"testing"
)

func TestTenantsCommands(t *testing.T) {
	newCLIServer(t)
	var setup string
	steps := []struct {
		name string
		args []string
		want []string
		fail []string
	}{
		{name: "create", args: []string{"create", "acme", "--display-name", "Acme Corp"}, want: []string{"created tenant acme, issuer http", "/t/acme"}},
		{name: "duplicate", args: []string{"create", "acme"}, fail: []string{"conflict: A tenant named acme exists"}},
		{name: "bad name", args: []string{"create", "Acme"}, fail: []string{"validation_error: name: a tenant name is 1 to 63"}},
		{name: "list", args: []string{"list"}, want: []string{"NAME", "acme", "Acme Corp", "/t/acme"}},
		{name: "get", args: []string{"get", "acme"}, want: []string{"name:         acme", "active:       true"}},
		{name: "add-admin", args: []string{"add-admin", "acme", "--username", "alice", "--email", "alice@acme.example"},
			want: []string{"administrator alice", "setup token", "pmu_", "/t/acme/api/v1/users/password-reset/confirm"}},
		{name: "add-admin needs both", args: []string{"add-admin", "acme", "--username", "bob"}, fail: []string{"give --username and --email"}},
		{name: "disable", args: []string{"disable", "acme"}, want: []string{"disabled tenant acme"}},
		{name: "get disabled", args: []string{"get", "acme", "--json"}, want: []string{`"is_active": false`}},
		{name: "enable", args: []string{"enable", "acme"}, want: []string{"enabled tenant acme"}},
		{name: "delete needs --yes", args: []string{"delete", "acme"}, fail: []string{"add --yes to confirm"}},
		{name: "delete", args: []string{"delete", "acme", "--yes"}, want: []string{"deleted tenant acme"}},
		{name: "get deleted", args: []string{"get", "acme"}, fail: []string{"not_found: Tenant not found"}},
		{name: "get unknown", args: []string{"get", "nope"}, fail: []string{"not_found: Tenant not found"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := runCLI(t, runTenants, st.args...)
			if st.fail != nil {
				r.fails(t, st.fail...)
				return
			}
			r.ok(t, st.want...)
			if st.name == "add-admin" {
				setup = r.Stdout
			}
		})
	}
	// The setup token is printed to the operator, and never twice the same.
	if strings.Count(setup, "pmu_") != 1 {
		t.Fatalf("setup output: %q", setup)
	}
}
