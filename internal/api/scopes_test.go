package api_test

import (
	"net/http"
	"slices"
	"testing"
)

func TestScopeEndpointsRequireAdminRoles(t *testing.T) {
	f := newAdminFixture(t)
	other := f.token(f.Other)
	for _, ep := range []struct{ method, path string }{
		{"GET", "/api/v1/roles/scopes"}, {"GET", "/api/v1/roles/scopes/"}, {"POST", "/api/v1/roles/scopes"},
		{"GET", "/api/v1/roles/scopes/trade:read"}, {"PUT", "/api/v1/roles/scopes/trade:read"},
		{"DELETE", "/api/v1/roles/scopes/trade:read"},
	} {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			expect(t, f.do(ep.method, ep.path, "", nil), http.StatusUnauthorized, "invalid_token")
			expect(t, f.do(ep.method, ep.path, other, nil), http.StatusForbidden, "insufficient_scope", "admin:roles")
		})
	}
}

func TestScopeList(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tests := []struct {
		name, query string
		status      int
		total       int
		names       []string // when set, the exact names in order
		want        []string
	}{
		{name: "no slash, action filter", query: "?action=trade&per_page=100", status: 200, total: 4,
			names: []string{"trade:read", "trade:open", "trade:close", "trade:modify"}},
		{name: "slash form", query: "/?action=trade&per_page=100", status: 200, total: 4},
		{name: "resource filter", query: "?resource=profile", status: 200, total: 2, names: []string{"read:profile", "write:profile"}},
		{name: "search in description", query: "?search=market+quotes", status: 200, total: 1, names: []string{"market:data"}},
		{name: "pagination", query: "?action=trade&per_page=3&page=2", status: 200, total: 4, names: []string{"trade:modify"},
			want: []string{`"page":2`, `"per_page":3`, `"pages":2`}},
		{name: "empty result has one page", query: "?search=nothing-like-this", status: 200, total: 0, names: []string{},
			want: []string{`"scopes":[]`, `"pages":1`}},
		{name: "role_count and action", query: "?search=admin:roles", status: 200, total: 1,
			want: []string{`"role_count":1`, `"action":"admin"`, `"resource":"roles"`}},
		{name: "bad paging", query: "?page=0&per_page=101", status: 422,
			want: []string{"page must be an integer of at least 1", "per_page must be an integer between 1 and 100"}},
		{name: "bad per_page type", query: "?per_page=ten", status: 422, want: []string{"per_page"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("GET", "/api/v1/roles/scopes"+tt.query, admin, nil)
			expect(t, r, tt.status, tt.want...)
			if tt.status != 200 {
				return
			}
			if got := r.field("total"); got != float64(tt.total) {
				t.Errorf("total %v, want %d", got, tt.total)
			}
			if tt.names != nil {
				if got := names(r.list("scopes"), "name"); !slices.Equal(got, tt.names) && !(len(got) == 0 && len(tt.names) == 0) {
					t.Errorf("names %v, want %v", got, tt.names)
				}
			}
		})
	}
}

func TestScopeLifecycle(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	marketID := f.scopeID("market:data")
	var createdID string
	steps := []struct {
		name, method, path string
		body               any
		status             int
		want               []string
	}{
		{"create", "POST", "/api/v1/roles/scopes", map[string]any{"name": "reports:read", "description": "Read reports"}, 201,
			[]string{`"name":"reports:read"`, `"resource":"read"`, `"action":"reports"`, `"role_count":0`, `"created_at":`}},
		{"create with resource and agreeing action", "POST", "/api/v1/roles/scopes/", map[string]any{"name": "read:invoices",
			"resource": "invoices", "action": "read"}, 201, []string{`"resource":"invoices"`, `"action":"read"`}},
		{"duplicate", "POST", "/api/v1/roles/scopes", map[string]any{"name": "reports:read"}, 409,
			[]string{`"error":"conflict"`, "Scope name already exists"}},
		{"invalid", "POST", "/api/v1/roles/scopes", map[string]any{"name": "bad name;", "action": "x", "resource": string(make([]byte, 51))}, 422,
			[]string{"name may contain only", "resource must be at most 50", "action"}},
		{"too short", "POST", "/api/v1/roles/scopes", map[string]any{"name": "a"}, 422, []string{"name must be 2 to 100"}},
		{"action disagrees", "POST", "/api/v1/roles/scopes", map[string]any{"name": "write:x", "action": "read"}, 422,
			[]string{"does not agree with the name"}},
		{"missing name", "POST", "/api/v1/roles/scopes", map[string]any{"description": "d"}, 422, []string{"name is required"}},
		{"get by name", "GET", "/api/v1/roles/scopes/reports:read", nil, 200, []string{`"description":"Read reports"`}},
		{"get by id", "GET", "/api/v1/roles/scopes/" + marketID + "/", nil, 200, []string{`"name":"market:data"`, `"role_count":1`}},
		{"get unknown", "GET", "/api/v1/roles/scopes/nope:nope", nil, 404, []string{`"error_description":"Scope not found"`}},
		{"get unknown uuid", "GET", "/api/v1/roles/scopes/00000000-0000-4000-8000-000000000000", nil, 404, []string{"Scope not found"}},
		{"rename follows derived resource", "PUT", "/api/v1/roles/scopes/reports:read", map[string]any{"name": "reports:list"}, 200,
			[]string{`"name":"reports:list"`, `"resource":"list"`, `"description":"Read reports"`}},
		{"rename keeps chosen resource", "PUT", "/api/v1/roles/scopes/read:invoices", map[string]any{"name": "list:invoices"}, 200,
			[]string{`"resource":"invoices"`}},
		{"rename onto existing", "PUT", "/api/v1/roles/scopes/reports:list", map[string]any{"name": "market:data"}, 409, []string{"already exists"}},
		{"invalid update", "PUT", "/api/v1/roles/scopes/reports:list", map[string]any{"description": string(make([]rune, 501))}, 422,
			[]string{"description must be at most 500"}},
		{"update unknown", "PUT", "/api/v1/roles/scopes/ghost", map[string]any{"description": "x"}, 404, []string{"Scope not found"}},
		{"delete held by a role", "DELETE", "/api/v1/roles/scopes/market:data", nil, 409, []string{"assigned to 1 roles and 0 clients"}},
		{"delete", "DELETE", "/api/v1/roles/scopes/reports:list/", nil, 204, nil},
		{"gone", "GET", "/api/v1/roles/scopes/reports:list", nil, 404, nil},
		{"delete unknown", "DELETE", "/api/v1/roles/scopes/reports:list", nil, 404, []string{"Scope not found"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := f.do(st.method, st.path, admin, st.body)
			expect(t, r, st.status, st.want...)
			if st.name == "create" {
				createdID = r.str("id")
			}
		})
	}
	t.Run("delete held by a client", func(t *testing.T) {
		f.createClient(admin, map[string]any{"name": "Holder", "scope_ids": []string{"list:invoices"}})
		expect(t, f.do("DELETE", "/api/v1/roles/scopes/list:invoices", admin, nil), 409, "assigned to 0 roles and 1 clients")
	})
	if len(createdID) != 36 {
		t.Errorf("created id %q is not a UUID", createdID)
	}
}

// Malformed text is a 4xx before it reaches the database (PostgreSQL
// refuses NUL and invalid UTF-8, which would otherwise surface as 503).
func TestMalformedTextIsRefused(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"NUL in scope path", "GET", "/api/v1/roles/scopes/a%00b", nil, 404, "Scope not found"},
		{"invalid UTF-8 in role path", "GET", "/api/v1/roles/%ff%fe", nil, 404, "Role not found"},
		{"NUL in client path", "GET", "/api/v1/service-clients/a%00b", nil, 404, "Service client not found"},
		{"NUL in client delete", "DELETE", "/api/v1/service-clients/a%00b", nil, 404, "Service client not found"},
		{"NUL in search", "GET", "/api/v1/service-clients?search=a%00", nil, 422, "search must be"},
		{"NUL in resource filter", "GET", "/api/v1/roles/scopes?resource=%00", nil, 422, "plain text"},
		{"NUL in client name", "POST", "/api/v1/service-clients", `{"name":"ab\u0000c"}`, 422, "name must not contain control characters"},
		{"NUL in scope description", "POST", "/api/v1/roles/scopes", `{"name":"x:y","description":"a\u0000"}`, 422, "description"},
		{"NUL in role description", "POST", "/api/v1/roles", `{"name":"xy","description":"a\u0000"}`, 422, "description"},
		{"NUL in scope reference", "POST", "/api/v1/roles", `{"name":"xy","scope_ids":["a\u0000"]}`, 422, "unknown scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, f.do(tt.method, tt.path, admin, tt.body), tt.status, tt.want)
		})
	}
}
