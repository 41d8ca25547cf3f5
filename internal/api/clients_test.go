package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

var clientBases = []string{"/api/v1/service-clients", "/api/v1/admin/service-clients"}

func TestServiceClientEndpointsRequireAdminClients(t *testing.T) {
	f := newAdminFixture(t)
	other := f.token(f.Other)
	for _, base := range clientBases {
		for _, ep := range []struct{ method, path string }{
			{"GET", base}, {"GET", base + "/"}, {"POST", base}, {"GET", base + "/stats/overview"},
			{"GET", base + "/test-admin"}, {"PUT", base + "/test-admin"}, {"DELETE", base + "/test-admin"},
			{"POST", base + "/test-admin/rotate-secret"}, {"PUT", base + "/test-admin/scopes"},
			{"GET", base + "/test-admin/permissions"},
		} {
			t.Run(ep.method+" "+ep.path, func(t *testing.T) {
				r := f.do(ep.method, ep.path, "", nil)
				expect(t, r, http.StatusUnauthorized, `"invalid_token"`)
				if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="permiso"` {
					t.Errorf("WWW-Authenticate %q", got)
				}
				r = f.do(ep.method, ep.path, "not-a-jwt", nil)
				expect(t, r, http.StatusUnauthorized, `"invalid_token"`)
				r = f.do(ep.method, ep.path, other, nil)
				expect(t, r, http.StatusForbidden, `"insufficient_scope"`, "admin:clients")
			})
		}
	}
	// The guarded client was never touched.
	if _, err := f.Store.GetClient(t.Context(), "test-admin"); err != nil {
		t.Fatal(err)
	}
}

func TestCreateServiceClient(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	tradeRead := f.scopeID("trade:read")
	tests := []struct {
		name   string
		path   string
		body   any
		status int
		want   []string
		check  func(t *testing.T, r *response)
	}{
		{name: "minimal confidential", body: map[string]any{"name": "Pricing"}, status: 201,
			check: func(t *testing.T, r *response) {
				if id := r.str("client.client_id"); !strings.HasPrefix(id, "client_") || len(id) != len("client_")+11 {
					t.Errorf("client_id %q", id)
				}
				if s := r.str("client_secret"); !strings.HasPrefix(s, "pms_") || len(s) < 40 {
					t.Errorf("secret %q", s)
				}
				for k, want := range map[string]any{"client.client_type": "confidential", "client.is_active": true,
					"client.is_trusted": false, "client.access_token_lifetime": 3600.0, "client.rate_limit_per_minute": 60.0,
					"client.rate_limit_per_hour": 1000.0, "client.token_endpoint_auth_method": "client_secret_basic",
					"client.can_authenticate": true, "client.supports_refresh_tokens": false} {
					if got := r.field(k); got != want {
						t.Errorf("%s = %v, want %v", k, got, want)
					}
				}
				if g := r.field("client.grant_types").([]any); len(g) != 1 || g[0] != "client_credentials" {
					t.Errorf("grant_types %v", g)
				}
				if strings.Contains(r.Body, "hash") {
					t.Errorf("response mentions a hash: %s", r.Body)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
				}
			}},
		{name: "alias path, scopes by name and id", path: "/api/v1/admin/service-clients/",
			body: map[string]any{"name": "mt5", "client_id": "mt5-bridge", "scope_ids": []string{"market:data", tradeRead, "market:data"},
				"audiences": []string{"https://mt5.example", "urn:permiso:reports"}, "is_trusted": true, "access_token_lifetime": 7200},
			status: 201, want: []string{`"client_id":"mt5-bridge"`, `"is_trusted":true`, `"access_token_lifetime":7200`},
			check: func(t *testing.T, r *response) {
				got := names(r.list("client.scopes"), "name")
				slices.Sort(got)
				if !slices.Equal(got, []string{"market:data", "trade:read"}) {
					t.Errorf("scopes %v", got)
				}
			}},
		{name: "docs' scopes spelling", body: map[string]any{"name": "Docs", "scopes": []string{"trade:read"}}, status: 201,
			want: []string{`"name":"trade:read"`}},
		{name: "allowed_ips as comma string", body: map[string]any{"name": "IPs", "allowed_ips": "10.1.2.3/8, 192.168.0.7,*, 2001:db8::/32"},
			status: 201, want: []string{`"allowed_ips":["10.0.0.0/8","192.168.0.7","*","2001:db8::/32"]`}},
		{name: "allowed_ips as list", body: map[string]any{"name": "IPs2", "allowed_ips": []string{"::ffff:10.0.0.1"}},
			status: 201, want: []string{`"allowed_ips":["10.0.0.1"]`}},
		{name: "public client has no secret", body: map[string]any{"name": "Mobile", "client_type": "public",
			"redirect_uris": []string{"com.example.app:/cb"}, "refresh_token_lifetime": 604800},
			status: 201, want: []string{`"client_secret":null`, `"token_endpoint_auth_method":"none"`,
				`"grant_types":["authorization_code","refresh_token"]`, `"supports_refresh_tokens":true`}},
		{name: "duplicate client_id", body: map[string]any{"name": "Again", "client_id": "test-admin"}, status: 409,
			want: []string{`"error":"conflict"`, "already exists"}},
		{name: "every problem listed", body: map[string]any{"name": "x", "client_id": "bad id!", "access_token_lifetime": 10,
			"rate_limit_per_minute": 0, "rate_limit_per_hour": 1e9, "allowed_ips": "10.0.0.300", "audiences": []string{"relative/path"},
			"contact_email": "nope", "webhook_url": "ftp://x", "refresh_token_lifetime": 60, "client_secret": "short"},
			status: 422, want: []string{`"validation_error"`, "name must be at least 2", "client_id must be",
				"access_token_lifetime must be between 300 and 86400", "rate_limit_per_minute must be between 1 and 1000",
				"rate_limit_per_hour must be between 60 and 60000000", `allowed_ips: \"10.0.0.300\"`, "audiences: ",
				"contact_email", "webhook_url must be", "refresh_token_lifetime", "client_secret must be 24"}},
		{name: "unknown scopes named", body: map[string]any{"name": "Scoped", "scope_ids": []string{"trade:read", "nope:x", "00000000-0000-4000-8000-000000000000"}},
			status: 422, want: []string{`unknown scopes \"nope:x\", \"00000000-0000-4000-8000-000000000000\"`}},
		{name: "name required", body: map[string]any{}, status: 422, want: []string{"name is required"}},
		{name: "public with client_credentials", body: map[string]any{"name": "Pub", "client_type": "public",
			"grant_types": []string{"client_credentials"}}, status: 422, want: []string{"may not use client_credentials"}},
		{name: "public with a secret", body: map[string]any{"name": "Pub", "client_type": "public", "redirect_uris": []string{"https://a.example/cb"},
			"client_secret": strings.Repeat("s", 30)}, status: 422, want: []string{"public clients have no secret"}},
		{name: "authorization_code needs redirect_uris", body: map[string]any{"name": "Web", "grant_types": []string{"authorization_code"}},
			status: 422, want: []string{"redirect_uris is required"}},
		{name: "unknown grant and type", body: map[string]any{"name": "G", "grant_types": []string{"implicit"}, "client_type": "spa"},
			status: 422, want: []string{`\"implicit\" is not one of`, "client_type must be confidential or public"}},
		{name: "public auth method must be none", body: map[string]any{"name": "P", "client_type": "public",
			"redirect_uris": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "client_secret_basic"},
			status: 422, want: []string{`must be \"none\" for public clients`}},
		{name: "redirect URIs a browser would misuse", body: map[string]any{"name": "Evil", "client_type": "public",
			"redirect_uris": []string{"javascript:alert(document.cookie)", "data:text/html,<script>x</script>", "file:///etc/passwd",
				"http://app.example.com/cb", "myapp:/cb", "vbscript:msgbox", "https:opaque"}},
			status: 422, want: []string{`\"javascript:alert(document.cookie)\" must be https`, `\"data:text/html,\u003cscript\u003ex\u003c/script\u003e\" must be https`,
				`\"file:///etc/passwd\" must be https`, `\"http://app.example.com/cb\" must use https`, `\"myapp:/cb\" must be https`,
				`\"vbscript:msgbox\" must be https`, `\"https:opaque\" must name a host`}},
		{name: "redirect URIs of native apps and loopback", body: map[string]any{"name": "Native", "client_type": "public",
			"redirect_uris": []string{"com.example.app:/cb", "com.example.app://cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb",
				"http://localhost:3000/", "http://trading.localhost:8080/", "https://app.example.com/cb"}},
			status: 201, want: []string{`"redirect_uris":["com.example.app:/cb","com.example.app://cb","http://127.0.0.1/cb","http://[::1]:8080/cb","http://localhost:3000/","http://trading.localhost:8080/","https://app.example.com/cb"]`}},
		{name: "unknown field", body: map[string]any{"name": "U", "colour": "red"}, status: 422, want: []string{"Unknown field"}},
		{name: "wrong type", body: map[string]any{"name": 5}, status: 422, want: []string{`Field \"name\"`}},
		{name: "not JSON", body: "{", status: 422, want: []string{"validation_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/api/v1/service-clients"
			}
			r := f.do("POST", path, admin, tt.body)
			expect(t, r, tt.status, tt.want...)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestCreatedClientGetsTokens(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	imported := strings.Repeat("i", 12) + "-chosen-secret"
	tests := []struct {
		name string
		body map[string]any
	}{
		{"generated secret", map[string]any{"name": "Generated", "scope_ids": []string{"trade:read"}}},
		{"imported secret", map[string]any{"name": "Imported", "client_id": "imported", "client_secret": imported, "scope_ids": []string{"trade:read"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.createClient(admin, tt.body)
			if tt.body["client_secret"] != nil && c.Secret != imported {
				t.Fatalf("imported secret not echoed once: %q", c.Secret)
			}
			r := f.tokenRequest(c, nil)
			expect(t, r, 200, `"scope":"trade:read"`)
			r = f.tokenRequest(credentials{c.ID, c.Secret + "x"}, nil)
			expect(t, r, 401, `"invalid_client"`)
		})
	}
}

func TestGetUpdateDeleteServiceClient(t *testing.T) {
	f := newAdminFixture(t)
	admin := f.token(f.Admin)
	svc := f.createClient(admin, map[string]any{"name": "Orders", "client_id": "orders", "scope_ids": []string{"trade:read"}})
	for _, base := range clientBases {
		for _, path := range []string{base + "/orders", base + "/orders/"} {
			t.Run("get "+path, func(t *testing.T) {
				expect(t, f.do("GET", path, admin, nil), 200, `"client_id":"orders"`, `"name":"trade:read"`)
			})
		}
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		want               []string
	}{
		{"get unknown", "GET", "/api/v1/service-clients/nobody", nil, 404,
			[]string{`"error":"not_found"`, `"error_description":"Service client not found"`}},
		{"update unknown", "PUT", "/api/v1/service-clients/nobody", map[string]any{"name": "X"}, 404, []string{"Service client not found"}},
		{"delete unknown", "DELETE", "/api/v1/admin/service-clients/nobody", nil, 404, []string{"Service client not found"}},
		{"update fields", "PUT", "/api/v1/service-clients/orders", map[string]any{"name": "Orders v2", "description": "d",
			"allowed_ips": []string{"127.0.0.1", "::1"}, "audiences": []string{"https://orders.example"}}, 200,
			[]string{`"name":"Orders v2"`, `"description":"d"`, `"allowed_ips":["127.0.0.1","::1"]`, `"audiences":["https://orders.example"]`}},
		{"scope_ids replaces the set", "PUT", "/api/v1/service-clients/orders/", map[string]any{"scope_ids": []string{"market:data"}}, 200,
			[]string{`"name":"market:data"`}},
		{"fixed fields refused", "PUT", "/api/v1/service-clients/orders", map[string]any{"client_id": "x", "client_secret": "y", "client_type": "public"},
			422, []string{"client_id cannot be changed", "rotate-secret", "client_type cannot be changed"}},
		{"invalid update", "PUT", "/api/v1/service-clients/orders", map[string]any{"access_token_lifetime": 1, "scope_ids": []string{"ghost"}},
			422, []string{"access_token_lifetime", `unknown scopes \"ghost\"`}},
		{"PUT scopes by id", "PUT", "/api/v1/admin/service-clients/orders/scopes", map[string]any{"scope_ids": []string{f.scopeID("trade:open")}},
			200, []string{`"name":"trade:open"`}},
		{"PUT scopes needs scope_ids", "PUT", "/api/v1/service-clients/orders/scopes", map[string]any{}, 422, []string{"scope_ids is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, f.do(tt.method, tt.path, admin, tt.body), tt.status, tt.want...)
		})
	}
	t.Run("scope set really replaced", func(t *testing.T) {
		r := f.do("GET", "/api/v1/service-clients/orders", admin, nil)
		if got := names(r.list("scopes"), "name"); !slices.Equal(got, []string{"trade:open"}) {
			t.Fatalf("scopes %v", got)
		}
	})
	t.Run("disabled client is refused at the token endpoint", func(t *testing.T) {
		expect(t, f.tokenRequest(svc, nil), 200)
		expect(t, f.do("PUT", "/api/v1/service-clients/orders", admin, map[string]any{"is_active": false}), 200,
			`"is_active":false`, `"can_authenticate":false`)
		r := f.tokenRequest(svc, nil)
		expect(t, r, 401, `"error":"invalid_client"`)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Error("no WWW-Authenticate")
		}
		expect(t, f.do("PUT", "/api/v1/service-clients/orders", admin, map[string]any{"is_active": true}), 200)
		expect(t, f.tokenRequest(svc, nil), 200)
	})
	t.Run("delete", func(t *testing.T) {
		r := f.do("DELETE", "/api/v1/service-clients/orders/", admin, nil)
		expect(t, r, 204)
		if r.Body != "" {
			t.Errorf("204 with body %q", r.Body)
		}
		expect(t, f.do("GET", "/api/v1/service-clients/orders", admin, nil), 404)
		expect(t, f.tokenRequest(svc, nil), 401, "invalid_client")
	})
}
