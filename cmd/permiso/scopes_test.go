package main

import "testing"

func TestScopesCommands(t *testing.T) {
	newCLIServer(t)
	steps := []struct {
		name string
		args []string
		want []string
		fail []string
	}{
		{name: "create", args: []string{"create", "reports:read", "--description", "Read reports"}, want: []string{"created scope reports:read (id "}},
		{name: "create json", args: []string{"create", "reports:write", "--resource", "reports", "--json"}, want: []string{`"resource": "reports"`}},
		{name: "duplicate", args: []string{"create", "reports:read"}, fail: []string{"conflict: Scope name already exists"}},
		{name: "invalid name", args: []string{"create", "bad name"}, fail: []string{"validation_error: name may contain only"}},
		{name: "list", args: []string{"list", "--search", "reports"}, want: []string{"NAME", "reports:read", "Read reports", "reports:write"}},
		{name: "delete in use", args: []string{"delete", "trade:read"}, fail: []string{"conflict: Scope is assigned to"}},
		{name: "delete", args: []string{"delete", "reports:read"}, want: []string{"deleted scope reports:read"}},
		{name: "delete again", args: []string{"delete", "reports:read"}, fail: []string{"not_found: Scope not found"}},
		{name: "create needs a name", args: []string{"create"}, fail: []string{"expected 1 argument"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := runCLI(t, runScopes, st.args...)
			if st.fail != nil {
				r.fails(t, st.fail...)
				return
			}
			r.ok(t, st.want...)
		})
	}
}
