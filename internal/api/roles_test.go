package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
)

func TestRoleEndpointsRequireAdminRoles(t *testing.T) {
	f := newAdminFixture(t)
	other := f.token(f.Other)
	for _, ep := range []struct{ method, path string }{
		{"GET", "/api/v1/roles"}, {"GET", "/api/v1/roles/"}, {"POST", "/api/v1/roles"}, {"GET", "/api/v1/roles/stats"},
		{"GET", "/api/v1/roles/defaults/"}, {"GET", "/api/v1/roles/admin"}, {"PUT", "/api/v1/roles/admin"},
		{"DELETE", "/api/v1/roles/admin"}, {"PUT", "/api/v1/roles/admin/scopes"},
	} {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			expect(t, f.do(ep.method, ep.path, "", nil), http.StatusUnauthorized, "invalid_token")
			expect(t, f.do(ep.method, ep.path, other, nil), http.StatusForbidden, "insufficient_scope", "admin:roles")
		})
	}
}

// The literal routes win over /roles/{role} in both slash forms; the
// original answered 422 for all of these.
func TestRoleRoutesAreNotShadowed(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tests := []struct {
		path string
		want []string
	}{
		{"/api/v1/roles/stats", []string{`"total_roles":4`, `"most_common_roles":`, `"least_used_scopes":`}},
		{"/api/v1/roles/stats/", []string{`"total_scopes":23`}},
		{"/api/v1/roles/defaults", []string{`"roles":["admin","user","trader","service"]`, `"description":`}},
		{"/api/v1/roles/defaults/", []string{`"roles":`}},
		{"/api/v1/roles/scopes", []string{`"scopes":[`}},
		{"/api/v1/roles/scopes/", []string{`"scopes":[`}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			expect(t, f.do("GET", tt.path, admin, nil), 200, tt.want...)
		})
	}
	t.Run("unknown sub-resource", func(t *testing.T) {
		expect(t, f.do("PUT", "/api/v1/roles/admin/members", admin, map[string]any{}), 404, "not_found")
	})
}

func TestRoleLifecycle(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tradeRead, marketData := f.scopeID("trade:read"), f.scopeID("market:data")
	var roleID string
	steps := []struct {
		name, method, path string
		body               any
		status             int
		want               []string
	}{
		{"create with scopes by name and id", "POST", "/api/v1/roles", map[string]any{"name": "analyst", "description": "Reads markets",
			"scope_ids": []string{"trade:read", marketData}}, 201, []string{`"name":"analyst"`, `"user_count":0`, `"name":"market:data"`, `"name":"trade:read"`}},
		{"duplicate", "POST", "/api/v1/roles/", map[string]any{"name": "analyst"}, 409, []string{"Role name already exists"}},
		{"invalid", "POST", "/api/v1/roles", map[string]any{"name": "a", "description": string(make([]rune, 501)), "scope_ids": []string{"ghost:scope"}},
			422, []string{"name must be 2 to 50", "description must be at most 500", `unknown scopes \"ghost:scope\"`}},
		{"slash in name", "POST", "/api/v1/roles", map[string]any{"name": "a/b"}, 422, []string{"without '/'"}},
		{"missing name", "POST", "/api/v1/roles", map[string]any{}, 422, []string{"name is required"}},
		{"get by name", "GET", "/api/v1/roles/analyst", nil, 200, []string{`"description":"Reads markets"`}},
		{"get unknown", "GET", "/api/v1/roles/ghost", nil, 404, []string{`"error_description":"Role not found"`}},
		{"update", "PUT", "/api/v1/roles/analyst/", map[string]any{"description": "Reads more"}, 200,
			[]string{`"description":"Reads more"`, `"name":"trade:read"`}},
		{"rename onto existing", "PUT", "/api/v1/roles/analyst", map[string]any{"name": "admin"}, 409, []string{"already exists"}},
		{"put scopes replaces", "PUT", "/api/v1/roles/analyst/scopes", map[string]any{"scope_ids": []string{tradeRead}}, 200, nil},
		{"put scopes needs scope_ids", "PUT", "/api/v1/roles/analyst/scopes/", map[string]any{}, 422, []string{"scope_ids is required"}},
		{"put scopes unknown", "PUT", "/api/v1/roles/analyst/scopes", map[string]any{"scope_ids": []string{"nope"}}, 422, []string{`\"nope\"`}},
		{"put scopes of unknown role", "PUT", "/api/v1/roles/ghost/scopes", map[string]any{"scope_ids": []string{}}, 404, []string{"Role not found"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := f.do(st.method, st.path, admin, st.body)
			expect(t, r, st.status, st.want...)
			if st.name == "create with scopes by name and id" {
				roleID = r.str("id")
			}
		})
	}
	t.Run("get by id, scopes replaced", func(t *testing.T) {
		r := f.do("GET", "/api/v1/roles/"+roleID, admin, nil)
		expect(t, r, 200, `"name":"analyst"`)
		if got := names(r.list("scopes"), "name"); !slices.Equal(got, []string{"trade:read"}) {
			t.Errorf("scopes %v", got)
		}
	})
	t.Run("list filters", func(t *testing.T) {
		r := f.do("GET", "/api/v1/roles?scope_id=trade:read", admin, nil)
		expect(t, r, 200, `"total":2`) // trader and analyst
		if got := names(r.list("roles"), "name"); !slices.Equal(got, []string{"trader", "analyst"}) {
			t.Errorf("roles %v", got)
		}
		expect(t, f.do("GET", "/api/v1/roles/?search=analy", admin, nil), 200, `"total":1`, `"pages":1`)
		expect(t, f.do("GET", "/api/v1/roles?scope_id=ghost", admin, nil), 422, `unknown scopes \"ghost\"`)
		expect(t, f.do("GET", "/api/v1/roles?per_page=1&page=3", admin, nil), 200, `"total":5`, `"pages":5`, `"name":"trader"`)
	})
	t.Run("user count, stats and delete while held", func(t *testing.T) {
		ctx := context.Background()
		if _, err := f.Store.CreateUser(ctx, store.User{Username: "ana", Email: "ana@example.com", Active: true,
			RoleIDs: []string{roleID}}); err != nil {
			t.Fatal(err)
		}
		expect(t, f.do("GET", "/api/v1/roles/analyst", admin, nil), 200, `"user_count":1`)
		expect(t, f.do("GET", "/api/v1/roles/stats", admin, nil), 200, `"most_common_roles":[{"name":"analyst","count":1},`)
		expect(t, f.do("DELETE", "/api/v1/roles/analyst", admin, nil), 409, "Role is assigned to users")
		if _, err := f.Store.UpdateUser(ctx, mustUserID(t, f, "ana"), func(u store.User) (store.User, error) {
			u.RoleIDs = nil
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
		expect(t, f.do("DELETE", "/api/v1/roles/"+roleID+"/", admin, nil), 204)
		expect(t, f.do("GET", "/api/v1/roles/analyst", admin, nil), 404)
		expect(t, f.do("DELETE", "/api/v1/roles/analyst", admin, nil), 404)
	})
}

func mustUserID(t *testing.T, f *adminFixture, login string) string {
	t.Helper()
	u, err := f.Store.GetUserByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
