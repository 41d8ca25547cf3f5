package main

import "testing"

func TestRolesCommands(t *testing.T) {
	newCLIServer(t)
	steps := []struct {
		name string
		args []string
		want []string
		fail []string
	}{
		{name: "create", args: []string{"create", "analyst", "--scopes", "trade:read,market:data", "--description", "Reads markets"},
			want: []string{"created role analyst: market:data,trade:read"}},
		{name: "list", args: []string{"list"}, want: []string{"NAME", "USERS", "analyst", "0", "Reads markets", "trader"}},
		{name: "set-scopes", args: []string{"set-scopes", "analyst", "--scopes", "market:data"}, want: []string{"updated role analyst: market:data"}},
		{name: "set-scopes to none", args: []string{"set-scopes", "analyst", "--scopes", ""}, want: []string{"updated role analyst: -"}},
		{name: "set-scopes needs --scopes", args: []string{"set-scopes", "analyst"}, fail: []string{"--scopes is required"}},
		{name: "unknown scope", args: []string{"create", "quant", "--scopes", "ghost"}, fail: []string{`validation_error: scope_ids: unknown scopes "ghost"`}},
		{name: "duplicate", args: []string{"create", "analyst"}, fail: []string{"conflict: "}},
		{name: "delete", args: []string{"delete", "analyst"}, want: []string{"deleted role analyst"}},
		{name: "delete unknown", args: []string{"delete", "analyst"}, fail: []string{"not_found: Role not found"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := runCLI(t, runRoles, st.args...)
			if st.fail != nil {
				r.fails(t, st.fail...)
				return
			}
			r.ok(t, st.want...)
		})
	}
}
