package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// tenantAdm is a tenant created through the operators' API and handed to
// its administrator, who set a password and signed in.
type tenantAdm struct {
	Name, Issuer, Path string // Path is /t/{name}
	Admin              string // the administrator's access token
}

// operatorToken is a default-tenant token with admin:tenants.
func (ts *testServer) operatorToken() string {
	return ts.token(ts.AdminID, ts.Secret, url.Values{"scope": {"admin:tenants"}})
}

// newTenant creates tenant name, its first administrator alice, and signs
// her in with the password she chose with the setup token.
func (ts *testServer) newTenant(name string) tenantAdm {
	ts.t.Helper()
	op := ts.operatorToken()
	r := ts.jsonReq("POST", "/api/v1/tenants", op, map[string]any{"name": name, "display_name": "Org " + name})
	if r.Status != http.StatusCreated || r.str("issuer") != ts.URL+"/t/"+name || r.JSON["is_active"] != true {
		ts.t.Fatalf("create tenant %s: %d %s", name, r.Status, r.Body)
	}
	a := ts.jsonReq("POST", "/api/v1/tenants/"+name+"/administrators", op, map[string]any{"username": "alice", "email": "alice@" + name + ".example"})
	if a.Status != http.StatusCreated || !strings.HasPrefix(a.str("setup_token"), "pmu_") {
		ts.t.Fatalf("add admin to %s: %d %s", name, a.Status, a.Body)
	}
	p := "/t/" + name
	// Before setup the administrator has no password that works.
	if r := ts.form(p+"/api/v1/auth/token", url.Values{"username": {"alice"}, "password": {""}}, "", ""); r.Status == http.StatusOK {
		ts.t.Fatalf("login before setup: %d %s", r.Status, r.Body)
	}
	c := ts.jsonReq("POST", p+"/api/v1/users/password-reset/confirm", "", map[string]any{"token": a.str("setup_token"), "new_password": goodPassword})
	if c.Status >= 300 {
		ts.t.Fatalf("setup of %s's admin: %d %s", name, c.Status, c.Body)
	}
	l := ts.form(p+"/api/v1/auth/token", url.Values{"username": {"alice"}, "password": {goodPassword}}, "", "")
	if l.Status != http.StatusOK {
		ts.t.Fatalf("admin login in %s: %d %s", name, l.Status, l.Body)
	}
	return tenantAdm{Name: name, Issuer: ts.URL + p, Path: p, Admin: l.str("access_token")}
}

// client creates a client in the tenant as its administrator.
func (ts *testServer) tenantClient(tn tenantAdm, id string, extra map[string]any) string {
	ts.t.Helper()
	body := map[string]any{"client_id": id, "name": id, "scope_ids": []string{"read:profile"}}
	for k, v := range extra {
		body[k] = v
	}
	r := ts.jsonReq("POST", tn.Path+"/api/v1/service-clients", tn.Admin, body)
	if r.Status != http.StatusCreated {
		ts.t.Fatalf("create client %s in %s: %d %s", id, tn.Name, r.Status, r.Body)
	}
	return r.str("client_secret")
}

func (ts *testServer) tenantToken(tn tenantAdm, id, secret string) string {
	ts.t.Helper()
	r := ts.form(tn.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	if r.Status != http.StatusOK {
		ts.t.Fatalf("token for %s in %s: %d %s", id, tn.Name, r.Status, r.Body)
	}
	return r.str("access_token")
}

func claimsOfToken(t *testing.T, tok string) wire.Claims {
	t.Helper()
	return tokenClaims(t, tok)
}

// TestTenantsIsolation: with two tenants, a client, user, role and token
// of one is invisible and refused in the other through every endpoint.
func TestTenantsIsolation(t *testing.T) {
	ts := newTestServer(t, nil)
	a, b := ts.newTenant("acme"), ts.newTenant("globex")

	// Metadata where RFC 8414 §3.1 and OpenID discovery put it, and in the
	// forms libraries compute; every URL starts with the tenant's issuer.
	for _, p := range []string{"/.well-known/oauth-authorization-server/t/acme", "/t/acme/.well-known/openid-configuration",
		"/t/acme/.well-known/oauth-authorization-server", "/.well-known/openid-configuration/t/acme"} {
		m := ts.do("GET", p, nil, nil)
		if m.Status != 200 || m.str("issuer") != a.Issuer || !strings.HasPrefix(m.str("token_endpoint"), a.Issuer+"/") ||
			!strings.HasPrefix(m.str("jwks_uri"), a.Issuer+"/") {
			t.Fatalf("metadata %s: %d %s", p, m.Status, m.Body)
		}
	}
	// Each tenant has its own signing keys; none is published elsewhere.
	kids := func(p string) []string {
		r := ts.do("GET", p+"/.well-known/jwks.json", nil, nil)
		var out []string
		ks, _ := r.JSON["keys"].([]any)
		for _, k := range ks {
			out = append(out, k.(map[string]any)["kid"].(string))
		}
		if len(out) == 0 {
			t.Fatalf("no keys at %s: %s", p, r.Body)
		}
		return out
	}
	ka, kb, kd := kids(a.Path), kids(b.Path), kids("")
	for _, k := range ka {
		if slices.Contains(kb, k) || slices.Contains(kd, k) {
			t.Fatalf("kid %s of acme published by another tenant", k)
		}
	}

	// The same client_id in both tenants: two clients, two secrets.
	secA := ts.tenantClient(a, "svc", nil)
	secB := ts.tenantClient(b, "svc", nil)
	tokA := ts.tenantToken(a, "svc", secA)
	tokB := ts.tenantToken(b, "svc", secB)
	if c := claimsOfToken(t, tokA); c.Issuer != a.Issuer {
		t.Fatalf("iss of acme's token: %v", c.Issuer)
	}
	// A's secret is not B's client's secret, and a client of A only is
	// unknown in B and in the default tenant.
	if r := ts.form(b.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secA); r.Status != 401 {
		t.Fatalf("acme's secret in globex: %d %s", r.Status, r.Body)
	}
	secOnly := ts.tenantClient(a, "only-acme", nil)
	for _, p := range []string{b.Path, ""} {
		if r := ts.form(p+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "only-acme", secOnly); r.Status != 401 {
			t.Fatalf("acme's client at %q: %d %s", p, r.Status, r.Body)
		}
	}
	if r := ts.jsonReq("GET", b.Path+"/api/v1/service-clients/only-acme", b.Admin, nil); r.Status != 404 {
		t.Fatalf("acme's client through globex's API: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", b.Path+"/api/v1/service-clients?per_page=100", b.Admin, nil); strings.Contains(string(r.Body), "only-acme") {
		t.Fatalf("globex lists acme's client: %s", r.Body)
	}

	// Introspection: active only in the tenant that issued it.
	intro := func(tn tenantAdm, id, secret, tok string) bool {
		r := ts.form(tn.Path+"/oauth2/introspect", url.Values{"token": {tok}}, id, secret)
		if r.Status != 200 {
			t.Fatalf("introspect at %s: %d %s", tn.Name, r.Status, r.Body)
		}
		return r.JSON["active"] == true
	}
	if !intro(a, "svc", secA, tokA) || intro(b, "svc", secB, tokA) || intro(a, "svc", secA, tokB) {
		t.Fatal("a token is active in a tenant that did not issue it (or not in its own)")
	}
	// Revocation of acme's token at globex revokes nothing.
	if r := ts.form(b.Path+"/oauth2/revoke", url.Values{"token": {tokA}}, "svc", secB); r.Status != 200 {
		t.Fatalf("revoke at globex: %d %s", r.Status, r.Body)
	}
	if !intro(a, "svc", secA, tokA) {
		t.Fatal("globex revoked acme's token")
	}

	// /api/v1: a tenant's tokens, users' and clients' alike, are refused by
	// every other tenant's API, the default one's included, and the other
	// way round.
	for _, tc := range []struct{ path, tok, what string }{
		{b.Path + "/api/v1/users", a.Admin, "acme admin at globex"},
		{"/api/v1/users", a.Admin, "acme admin at default"},
		{"/api/v1/tenants", a.Admin, "acme admin at the tenants API"},
		{a.Path + "/api/v1/users", ts.adminToken(), "default admin at acme"},
		{a.Path + "/api/v1/users", ts.operatorToken(), "operator at acme"},
		{a.Path + "/api/v1/service-clients", tokB, "globex client at acme"},
	} {
		if r := ts.jsonReq("GET", tc.path, tc.tok, nil); r.Status != 401 {
			t.Fatalf("%s: %d %s", tc.what, r.Status, r.Body)
		}
	}
	// A tenant's API has no tenants endpoints.
	if r := ts.jsonReq("GET", a.Path+"/api/v1/tenants", a.Admin, nil); r.Status != 404 {
		t.Fatalf("tenants API inside a tenant: %d %s", r.Status, r.Body)
	}

	// Users and roles: bob of acme does not exist in globex.
	r := ts.jsonReq("POST", a.Path+"/api/v1/users", a.Admin, map[string]any{"username": "bob", "email": "bob@acme.example",
		"password": goodPassword, "is_verified": true, "role_ids": []string{}})
	if r.Status != 201 {
		t.Fatalf("create bob: %d %s", r.Status, r.Body)
	}
	bob := r.str("id")
	if r := ts.form(a.Path+"/api/v1/auth/token", url.Values{"username": {"bob"}, "password": {goodPassword}}, "", ""); r.Status != 200 {
		t.Fatalf("bob at acme: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{b.Path, ""} {
		if r := ts.form(p+"/api/v1/auth/token", url.Values{"username": {"bob"}, "password": {goodPassword}}, "", ""); r.Status != 401 {
			t.Fatalf("bob at %q: %d %s", p, r.Status, r.Body)
		}
	}
	if r := ts.jsonReq("GET", b.Path+"/api/v1/users/"+bob, b.Admin, nil); r.Status != 404 {
		t.Fatalf("acme's user through globex: %d %s", r.Status, r.Body)
	}
	role := ts.jsonReq("POST", a.Path+"/api/v1/roles", a.Admin, map[string]any{"name": "acme-only", "description": "x"})
	if role.Status != 201 {
		t.Fatalf("create role: %d %s", role.Status, role.Body)
	}
	if r := ts.jsonReq("GET", b.Path+"/api/v1/roles?per_page=100", b.Admin, nil); r.Status != 200 || strings.Contains(string(r.Body), "acme-only") {
		t.Fatalf("globex sees acme's role: %d %s", r.Status, r.Body)
	}

	// The revocation feed: acme's revocation is on acme's feed only.
	if r := ts.form(a.Path+"/oauth2/revoke", url.Values{"token": {tokA}}, "svc", secA); r.Status != 200 {
		t.Fatalf("revoke at acme: %d", r.Status)
	}
	jti := claimsOfToken(t, tokA).ID
	feed := func(p string) string { return string(ts.do("GET", p+"/oauth2/revocations", nil, nil).Body) }
	if !strings.Contains(feed(a.Path), jti) || strings.Contains(feed(b.Path), jti) || strings.Contains(feed(""), jti) {
		t.Fatalf("acme's revocation on the wrong feed")
	}

	// The audit trail: acme's events are acme's.
	if r := ts.jsonReq("GET", b.Path+"/api/v1/admin/audit/events?per_page=100", b.Admin, nil); r.Status != 200 || strings.Contains(string(r.Body), bob) {
		t.Fatalf("globex's audit log shows acme's user: %d", r.Status)
	}

	// The console of each tenant is its own: served under the tenant's
	// path, with a sign-in that goes to the tenant's own issuer.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(ts.URL + a.Path + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode >= 500 || res.StatusCode == 404 {
		t.Fatalf("acme's console: %d", res.StatusCode)
	}
	if loc := res.Header.Get("Location"); loc != "" && strings.Contains(loc, "redirect_uri=") && !strings.Contains(loc, url.QueryEscape(a.Issuer+"/admin")) {
		t.Fatalf("acme's console signs in elsewhere: %s", loc)
	}

	// A resource server for acme refuses globex's token (same client_id,
	// same scopes), and accepts acme's.
	tokA2 := ts.tenantToken(a, "svc", secA)
	g, err := guard.New(context.Background(), guard.Config{Issuer: a.Issuer, Audience: a.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	if _, err := g.Verify(context.Background(), tokA2); err != nil {
		t.Fatalf("acme's guard refuses acme's token: %v", err)
	}
	if _, err := g.Verify(context.Background(), tokB); err == nil {
		t.Fatal("acme's guard accepts globex's token")
	}
	// A service of both tenants accepts both and says which one.
	multi, err := guard.New(context.Background(), guard.Config{Issuers: []string{a.Issuer, b.Issuer}, Audience: a.Issuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(multi.Close)
	if c, err := multi.Verify(context.Background(), tokA2); err != nil || c.Issuer != a.Issuer {
		t.Fatalf("several issuers: %v", err)
	}
}

// TestTenantsAttacker tries to reach one tenant from another by swapping
// the tenant in paths (traversal, encoded), bodies, tokens and headers.
func TestTenantsAttacker(t *testing.T) {
	ts := newTestServer(t, nil)
	a, b := ts.newTenant("acme"), ts.newTenant("globex")
	secA := ts.tenantClient(a, "svc", nil)

	// Raw requests: the path goes on the wire as written.
	raw := func(path string, h http.Header, body string) (int, string) {
		conn, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "POST " + path + " HTTP/1.1\r\nHost: " + ts.Addr + "\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		for k, v := range h {
			req += k + ": " + v[0] + "\r\n"
		}
		req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	basic := func(id, secret string) http.Header {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(id, secret)
		return http.Header{"Authorization": {req.Header.Get("Authorization")}}
	}
	form := "grant_type=client_credentials"
	for _, p := range []string{
		"/t/globex/../acme/oauth2/token",
		"/t/acme/../globex/oauth2/token",
		"/t/globex/%2e%2e/acme/oauth2/token",
		"/t/globex%2F..%2Facme/oauth2/token",
		"/t/globex/..%2Facme/oauth2/token",
		"/t//acme/oauth2/token",
		"/t/globex/./oauth2/token",
		"/x/../t/acme/oauth2/token",
	} {
		status, body := raw(p, basic("svc", secA), form)
		if status == 200 || status >= 500 || strings.Contains(body, "access_token") {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	for _, p := range []string{"/t/ACME/oauth2/token", "/t/acme./oauth2/token", "/t/default/oauth2/token", "/t/nope/oauth2/token"} {
		if status, body := raw(p, basic("svc", secA), form); status != 404 {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	// Headers and body fields naming another tenant change nothing: the
	// path decides, and acme's client gets acme's token.
	h := basic("svc", secA)
	h.Set("X-Tenant", "globex")
	h.Set("X-Forwarded-Prefix", "/t/globex")
	h.Set("X-Original-URL", "/t/globex/oauth2/token")
	h.Set("X-Rewrite-URL", "/t/globex/oauth2/token")
	h.Set("X-Forwarded-Host", "globex.example")
	status, body := raw("/t/acme/oauth2/token", h, form+"&tenant=globex&iss="+url.QueryEscape(b.Issuer))
	if status != 200 || !strings.Contains(body, "access_token") {
		t.Fatalf("acme token with decoy headers: %d %s", status, body)
	}
	// The same client at globex's path, with headers naming acme: refused.
	h = basic("svc", secA)
	h.Set("X-Tenant", "acme")
	h.Set("X-Original-URL", "/t/acme/oauth2/token")
	if status, body := raw("/t/globex/oauth2/token", h, form+"&tenant=acme"); status != 401 {
		t.Fatalf("acme's client at globex with decoys: %d %s", status, body)
	}
	// A flood of made-up tenant names is answered (404, or 503 once the
	// database reads of unknown names are spent), and acme keeps serving.
	for i := range 300 {
		r := ts.form("/t/made-up-"+strconv.Itoa(i)+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secA)
		if r.Status != 404 && r.Status != 503 {
			t.Fatalf("made-up tenant: %d %s", r.Status, r.Body)
		}
	}
	tok := ts.tenantToken(a, "svc", secA)
	// A token's iss names acme: presenting it to globex's API does not
	// switch tenants, whatever else it says.
	hdr := http.Header{"Authorization": {"Bearer " + tok}, "X-Tenant": {"acme"}}
	if r := ts.do("GET", b.Path+"/api/v1/service-clients", hdr, nil); r.Status != 401 {
		t.Fatalf("acme token at globex: %d %s", r.Status, r.Body)
	}
	// Body ids of the other tenant: acme's admin asks for globex's admin
	// user by id through acme's API.
	users := ts.jsonReq("GET", b.Path+"/api/v1/users?per_page=10", b.Admin, nil)
	list, _ := users.JSON["users"].([]any)
	if len(list) == 0 {
		t.Fatalf("globex users: %s", users.Body)
	}
	gid, _ := list[0].(map[string]any)["id"].(string)
	for _, m := range []string{"GET", "DELETE"} {
		if r := ts.jsonReq(m, a.Path+"/api/v1/users/"+gid, a.Admin, nil); r.Status != 404 {
			t.Fatalf("%s globex's user through acme: %d %s", m, r.Status, r.Body)
		}
	}
	if r := ts.jsonReq("GET", b.Path+"/api/v1/users/"+gid, b.Admin, nil); r.Status != 200 {
		t.Fatalf("globex's user is gone: %d", r.Status)
	}
}

// TestTenantsAdministration: operators create, list, disable, enable and
// delete tenants, and nothing more; a disabled tenant answers 403 except
// for its keys, metadata and feed, and its old tokens stay refused.
func TestTenantsAdministration(t *testing.T) {
	ts := newTestServer(t, nil)
	op := ts.operatorToken()
	a := ts.newTenant("acme")
	secA := ts.tenantClient(a, "svc", nil)
	old := ts.tenantToken(a, "svc", secA)
	oldLogin := ts.form(a.Path+"/api/v1/auth/token", url.Values{"username": {"alice"}, "password": {goodPassword}}, "", "")
	if oldLogin.Status != 200 || oldLogin.str("refresh_token") == "" {
		t.Fatalf("login: %d %s", oldLogin.Status, oldLogin.Body)
	}

	for _, tc := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{"name": "acme"}, 409},
		{map[string]any{"name": "default"}, 422},
		{map[string]any{"name": "Acme"}, 422},
		{map[string]any{"name": "a/b"}, 422},
		{map[string]any{"name": strings.Repeat("a", 64)}, 422},
		{map[string]any{"name": "ok", "display_name": strings.Repeat("x", 201)}, 422},
	} {
		if r := ts.jsonReq("POST", "/api/v1/tenants", op, tc.body); r.Status != tc.want {
			t.Errorf("create %v: %d %s", tc.body, r.Status, r.Body)
		}
	}
	// Without admin:tenants: refused; the bootstrap admin's default token
	// (every scope) can, a plain client cannot.
	id, sec := ts.createClient(map[string]any{"client_id": "plain", "name": "plain", "scope_ids": []string{"read:profile"}})
	if r := ts.jsonReq("GET", "/api/v1/tenants", ts.token(id, sec, nil), nil); r.Status != 403 {
		t.Fatalf("list without admin:tenants: %d %s", r.Status, r.Body)
	}
	l := ts.jsonReq("GET", "/api/v1/tenants?search=acm", op, nil)
	if l.Status != 200 || !strings.Contains(string(l.Body), `"name":"acme"`) || strings.Contains(string(l.Body), `"name":"default"`) {
		t.Fatalf("list: %d %s", l.Status, l.Body)
	}
	// The administrator exists now: the operator may not add another.
	if r := ts.jsonReq("POST", "/api/v1/tenants/acme/administrators", op, map[string]any{"username": "mallory", "email": "m@evil.example"}); r.Status != 409 {
		t.Fatalf("second admin by operator: %d %s", r.Status, r.Body)
	}

	// Disable: 403 for tokens, introspection, API; keys and feed stay.
	if r := ts.jsonReq("PUT", "/api/v1/tenants/acme", op, map[string]any{"is_active": false}); r.Status != 200 || r.JSON["is_active"] != false {
		t.Fatalf("disable: %d %s", r.Status, r.Body)
	}
	if r := ts.form(a.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secA); r.Status != 403 || r.str("error") != "access_denied" {
		t.Fatalf("token while disabled: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", a.Path+"/api/v1/users", a.Admin, nil); r.Status != 403 {
		t.Fatalf("API while disabled: %d", r.Status)
	}
	for _, p := range []string{"/.well-known/jwks.json", "/oauth2/revocations", "/.well-known/openid-configuration"} {
		if r := ts.do("GET", a.Path+p, nil, nil); r.Status != 200 {
			t.Fatalf("%s while disabled: %d", p, r.Status)
		}
	}
	// The feed says so to resource servers: an iss entry, which the SDK's
	// guard enforces.
	feed := ts.do("GET", a.Path+"/oauth2/revocations", nil, nil)
	if !strings.Contains(string(feed.Body), `"kind":"iss","value":"`+a.Issuer+`"`) || !strings.Contains(string(feed.Body), `"before":`) {
		t.Fatalf("feed after disable: %s", feed.Body)
	}
	g, err := guard.New(context.Background(), guard.Config{Issuer: a.Issuer, Audience: a.Issuer, RevocationPoll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	waitUntil(t, 10*time.Second, "the guard refuses the disabled tenant's old token", func() bool {
		_, err := g.Verify(context.Background(), old)
		return err != nil && g.Status().Revocations.Synced
	})
	// Enable: new tokens work, the old one stays refused.
	if r := ts.jsonReq("PUT", "/api/v1/tenants/acme", op, map[string]any{"is_active": true}); r.Status != 200 {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	ts.Clock.Advance(2 * time.Second) // a new token's iat is after the disable
	fresh := ts.tenantToken(a, "svc", secA)
	in := func(tok string) bool {
		r := ts.form(a.Path+"/oauth2/introspect", url.Values{"token": {tok}}, "svc", secA)
		return r.JSON["active"] == true
	}
	if in(old) || !in(fresh) {
		t.Fatalf("after enable: old active %v, fresh active %v", in(old), in(fresh))
	}
	// A refresh token from before the disable is refused too; a new login works.
	if r := ts.jsonReq("POST", a.Path+"/api/v1/auth/refresh", "", map[string]any{"refresh_token": oldLogin.str("refresh_token")}); r.Status == 200 {
		t.Fatalf("refresh from before the disable: %d %s", r.Status, r.Body)
	}
	newLogin := ts.form(a.Path+"/api/v1/auth/token", url.Values{"username": {"alice"}, "password": {goodPassword}}, "", "")
	if r := ts.jsonReq("POST", a.Path+"/api/v1/auth/refresh", "", map[string]any{"refresh_token": newLogin.str("refresh_token")}); r.Status != 200 {
		t.Fatalf("refresh after the enable: %d %s", r.Status, r.Body)
	}
	// The operator changes nothing of the default tenant.
	for _, m := range []string{"PUT", "DELETE"} {
		if r := ts.jsonReq(m, "/api/v1/tenants/default", op, map[string]any{"is_active": false}); r.Status != 404 {
			t.Fatalf("%s default: %d %s", m, r.Status, r.Body)
		}
	}
	// Delete: everything of acme is gone; the name stays reserved.
	if r := ts.jsonReq("DELETE", "/api/v1/tenants/acme", op, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := ts.form(a.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secA); r.Status != 404 {
		t.Fatalf("token after delete: %d %s", r.Status, r.Body)
	}
	if r := ts.jsonReq("GET", "/api/v1/tenants/acme", op, nil); r.Status != 404 {
		t.Fatalf("get after delete: %d", r.Status)
	}
	// Until its name is freed, the deleted tenant's feed says every token
	// it issued is revoked, and its key set is empty.
	if r := ts.do("GET", a.Path+"/oauth2/revocations", nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"kind":"iss","value":"`+a.Issuer+`"`) {
		t.Fatalf("feed after delete: %d %s", r.Status, r.Body)
	}
	if r := ts.do("GET", a.Path+"/.well-known/jwks.json", nil, nil); r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"keys":[]}` {
		t.Fatalf("JWKS after delete: %d %s", r.Status, r.Body)
	}
	waitUntil(t, 10*time.Second, "the guard refuses a deleted tenant's token", func() bool {
		_, err := g.Verify(context.Background(), fresh)
		return err != nil
	})
	if r := ts.jsonReq("POST", "/api/v1/tenants", op, map[string]any{"name": "acme"}); r.Status != 409 {
		t.Fatalf("name reused at once: %d %s", r.Status, r.Body)
	}
	// Every change is in the default tenant's audit log, by the operator.
	for _, typ := range []string{"tenant.created", "tenant.admin_created", "tenant.disabled", "tenant.enabled", "tenant.deleted"} {
		ev := ts.waitEvent(typ, "acme")
		if ev["actor_id"] != ts.AdminID {
			t.Fatalf("%s actor: %v", typ, ev["actor_id"])
		}
	}
	// So is every refused change (here, of the default tenant).
	for _, typ := range []string{"tenant.disabled", "tenant.deleted"} {
		ev := ts.waitEventWhere(typ, "default", func(ev map[string]any) bool { return ev["outcome"] == "failure" })
		if ev["actor_id"] != ts.AdminID || !strings.Contains(fmt.Sprint(ev["details"]), "not_found") {
			t.Fatalf("%s refused: %v", typ, ev)
		}
	}
}

// TestTenantsConsole: a tenant's administrator signs in to the tenant's
// console, under the tenant's path, and sees the tenant's clients only;
// the same person is unknown to another tenant's console sign-in.
func TestTenantsConsole(t *testing.T) {
	ts := newTestServer(t, nil)
	a, b := ts.newTenant("acme"), ts.newTenant("globex")
	ts.tenantClient(a, "acme-svc", nil)
	ts.tenantClient(b, "globex-svc", nil)

	br := newBrowser(t)
	start := br.get(ts.URL + a.Path + "/admin/signin?return=/admin/clients")
	loc := start.Header.Get("Location")
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(loc, a.Issuer+"/oauth2/authorize?") ||
		!strings.Contains(loc, url.QueryEscape(a.Issuer+"/admin/callback")) {
		t.Fatalf("sign-in: %d %s", start.Status, loc)
	}
	login := br.signIn(ts.URL, loc, "alice", goodPassword)
	if login.Status != http.StatusSeeOther {
		t.Fatalf("login: %d %.300s", login.Status, login.Body)
	}
	cb := br.get(login.Header.Get("Location"))
	if cb.Status != http.StatusSeeOther || cb.Header.Get("Location") != a.Path+"/admin/clients" {
		t.Fatalf("callback: %d %s", cb.Status, cb.Header.Get("Location"))
	}
	page := br.get(ts.URL + a.Path + "/admin/clients")
	if page.Status != 200 || !strings.Contains(page.Body, "acme-svc") || strings.Contains(page.Body, "globex-svc") {
		t.Fatalf("acme's clients page: %d %.500s", page.Status, page.Body)
	}
	// Every link of the page stays in the tenant.
	for _, attr := range []string{`href="/`, `action="/`, `src="/`} {
		for _, rest := range strings.Split(page.Body, attr)[1:] {
			if !strings.HasPrefix(rest, "t/acme/") {
				t.Fatalf("a link leaves the tenant: %s%.40s", attr, rest)
			}
		}
	}
	// The session is acme's: globex's console does not know it, and the
	// default tenant's neither.
	for _, p := range []string{b.Path, ""} {
		if r := br.get(ts.URL + p + "/admin/clients"); r.Status == 200 {
			t.Fatalf("acme's console session at %q: %d", p, r.Status)
		}
	}
	// bob of acme cannot sign in to globex's console.
	if r := ts.jsonReq("POST", a.Path+"/api/v1/users", a.Admin, map[string]any{"username": "bob", "email": "bob@acme.example",
		"password": goodPassword, "is_verified": true, "role_ids": []string{}}); r.Status != 201 {
		t.Fatalf("create bob: %d %s", r.Status, r.Body)
	}
	other := newBrowser(t)
	s := other.get(ts.URL + b.Path + "/admin/signin?return=/admin/clients")
	p := other.get(s.Header.Get("Location"))
	if p.Status != 200 || !strings.HasPrefix(p.Action, b.Path+"/") {
		t.Fatalf("globex login page: %d, form to %q", p.Status, p.Action)
	}
	p.Form.Set("username", "bob")
	p.Form.Set("password", goodPassword)
	if r := other.post(ts.URL+p.Action, p.Form); r.Status == http.StatusSeeOther {
		t.Fatalf("unknown user signed in to globex: %s", r.Header.Get("Location"))
	}
}

// TestTenantsConsolePage: an operator (an admin user of the default
// tenant) creates a tenant in the console's Tenants page, adds its first
// administrator and reads the setup token there once; a tenant's own
// console has no such page.
func TestTenantsConsolePage(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.createUser("ops", "admin")
	b := consoleSignIn(t, ts, "ops")
	page := b.get(ts.URL + "/admin/tenants")
	if page.Status != 200 || page.Form.Get("csrf") == "" || !strings.Contains(page.Body, `href="/admin/tenants"`) {
		t.Fatalf("tenants page: %d %.300s", page.Status, page.Body)
	}
	csrf := page.Form.Get("csrf")
	res := b.post(ts.URL+"/admin/tenants", url.Values{"csrf": {csrf}, "name": {"acme"}, "display_name": {"Acme Corp"}})
	if res.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %.300s", res.Status, res.Body)
	}
	list := b.get(ts.URL + res.Header.Get("Location"))
	if !strings.Contains(list.Body, "Acme Corp") || !strings.Contains(list.Body, ts.URL+"/t/acme") {
		t.Fatalf("the new tenant is not listed: %.500s", list.Body)
	}
	res = b.post(ts.URL+"/admin/tenants/acme/administrators", url.Values{"csrf": {csrf}, "username": {"alice"}, "email": {"alice@acme.example"}})
	shown := b.get(ts.URL + res.Header.Get("Location"))
	i := strings.Index(shown.Body, `value="pmu_`)
	if res.Status != http.StatusSeeOther || i < 0 {
		t.Fatalf("setup token not shown: %d %.800s", res.Status, shown.Body)
	}
	tok := shown.Body[i+len(`value="`):]
	tok = tok[:strings.IndexByte(tok, '"')]
	if r := ts.jsonReq("POST", "/t/acme/api/v1/users/password-reset/confirm", "", map[string]any{"token": tok, "new_password": goodPassword}); r.Status >= 300 {
		t.Fatalf("setup with the console's token: %d %s", r.Status, r.Body)
	}
	if again := b.get(ts.URL + "/admin/tenants"); strings.Contains(again.Body, tok) {
		t.Fatal("the setup token is shown twice")
	}
	// Disable from the console: acme refuses its API.
	if res := b.post(ts.URL+"/admin/tenants/acme/status", url.Values{"csrf": {csrf}, "active": {"0"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.Status)
	}
	if r := ts.form("/t/acme/api/v1/auth/token", url.Values{"username": {"alice"}, "password": {goodPassword}}, "", ""); r.Status != 403 {
		t.Fatalf("login at a disabled tenant: %d %s", r.Status, r.Body)
	}
	// A user without admin:tenants has no Tenants entry and is refused.
	ts.createUser("plain", "user")
	p := consoleSignIn(t, ts, "plain")
	if r := p.get(ts.URL + "/admin/tenants"); r.Status == 200 || strings.Contains(r.Body, `href="/admin/tenants"`) {
		t.Fatalf("tenants page without admin:tenants: %d", r.Status)
	}
}

// TestTenantsOwnKeysAndLimits: a tenant rotates its own keys only, and its
// clients' failed authentications throttle none of another tenant's.
func TestTenantsOwnKeysAndLimits(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.AuthFailuresPerMin = 5 })
	a, b := ts.newTenant("acme"), ts.newTenant("globex")
	ts.tenantClient(a, "svc", nil)
	secB := ts.tenantClient(b, "svc", nil)
	keys := func(tn tenantAdm) int {
		r := ts.do("GET", tn.Path+"/.well-known/jwks.json", nil, nil)
		ks, _ := r.JSON["keys"].([]any)
		return len(ks)
	}
	before := keys(b)
	if r := ts.jsonReq("POST", a.Path+"/api/v1/admin/keys/rotate", a.Admin, map[string]any{}); r.Status != 201 {
		t.Fatalf("rotate at acme: %d %s", r.Status, r.Body)
	}
	if keys(a) != 2 || keys(b) != before {
		t.Fatalf("after acme's rotation: acme %d keys, globex %d (was %d)", keys(a), keys(b), before)
	}
	// acme's svc is throttled after its failures; globex's svc is not.
	for range 8 {
		ts.form(a.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", "wrong")
	}
	// (A correct server-generated secret still passes a spent budget.)
	if r := ts.form(a.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", "wrong"); r.Status != 429 {
		t.Fatalf("acme's svc after its failures: %d %s", r.Status, r.Body)
	}
	// Same client_id, same address, another tenant: a budget of its own.
	if r := ts.form(b.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", "wrong"); r.Status != 401 {
		t.Fatalf("globex's svc throttled by acme's failures: %d %s", r.Status, r.Body)
	}
	ts.tenantToken(b, "svc", secB)
}

// TestTenantsTrustAudience: two tenants trust the same Kubernetes
// cluster; a trust's expected audience defaults to its tenant's issuer, so
// a projected token made for acme authenticates in acme only.
func TestTenantsTrustAudience(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	k8s := jwttest.NewKubernetesIssuer(t)
	a, b := ts.newTenant("acme"), ts.newTenant("globex")
	for _, tn := range []tenantAdm{a, b} {
		for _, step := range []struct {
			path string
			body map[string]any
		}{
			{"/api/v1/trusts", map[string]any{"name": "cluster", "issuer": k8s.URL, "key_source": "oidc", "max_token_age": 3600}},
			{"/api/v1/service-clients", map[string]any{"name": "bot", "client_id": "bot", "token_endpoint_auth_method": "federated_jwt", "scope_ids": []string{"read:profile"}}},
			{"/api/v1/trusts/cluster/bindings", map[string]any{"client_id": "bot", "subject": "system:serviceaccount:apps:bot"}},
		} {
			if r := ts.jsonReq("POST", tn.Path+step.path, tn.Admin, step.body); r.Status != 201 {
				t.Fatalf("%s %s: %d %s", tn.Name, step.path, r.Status, r.Body)
			}
		}
	}
	tok := k8s.ServiceAccountToken(t, "apps", "bot", []string{a.Issuer}, time.Hour, time.Now())
	assert := func(tn tenantAdm) *response {
		return ts.form(tn.Path+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {wire.AssertionTypeJWTBearer}, "client_assertion": {tok}}, "", "")
	}
	if r := assert(a); r.Status != 200 || claimsOfToken(t, r.str("access_token")).Issuer != a.Issuer {
		t.Fatalf("acme: %d %s", r.Status, r.Body)
	}
	if r := assert(b); r.Status != 401 {
		t.Fatalf("acme's projected token at globex: %d %s", r.Status, r.Body)
	}
}

// loginHold holds the first GetUserByLogin after arm until release.
type loginHold struct {
	mu      sync.Mutex
	armed   bool
	reached chan struct{}
	release chan struct{}
}

func (h *loginHold) arm() {
	h.mu.Lock()
	h.armed, h.reached, h.release = true, make(chan struct{}), make(chan struct{})
	h.mu.Unlock()
}

type loginHoldStore struct {
	store.Store
	h *loginHold
}

func (s loginHoldStore) GetUserByLogin(ctx context.Context, login string) (store.User, error) {
	s.h.mu.Lock()
	held := s.h.armed
	s.h.armed = false
	reached, release := s.h.reached, s.h.release
	s.h.mu.Unlock()
	if held {
		close(reached)
		<-release
	}
	return s.Store.GetUserByLogin(ctx, login)
}

// TestTenantsEvictionKeepsAudit: a tenant's runtime evicted while one of
// its requests is still running is closed only when that request ends, so
// the audit events it records are written, not dropped with the runtime.
func TestTenantsEvictionKeepsAudit(t *testing.T) {
	hold := &loginHold{}
	ts := newTestServer(t, func(c *server.Config) {
		c.MaxTenantRuntimes = 1
		c.StoreHook = func(s store.Store) store.Store { return loginHoldStore{s, hold} }
	})
	a := ts.newTenant("acme")

	// acme's login of alice, with a wrong password, waits in the store...
	hold.arm()
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", ts.URL+a.Path+"/api/v1/auth/token",
			strings.NewReader(url.Values{"username": {"alice"}, "password": {"wrong-" + goodPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Request-ID", "held-login")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		res.Body.Close()
		status <- res.StatusCode
	}()
	select {
	case <-hold.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the login did not reach the store")
	}
	// ...while a second tenant loads, which evicts acme's runtime (one at
	// most)...
	b := ts.newTenant("beta")
	if r := ts.jsonReq("GET", b.Path+"/api/v1/users", b.Admin, nil); r.Status != 200 {
		t.Fatalf("beta: %d %s", r.Status, r.Body)
	}
	// ...then finishes, and records its failure.
	close(hold.release)
	if s := <-status; s != http.StatusUnauthorized {
		t.Fatalf("held login: %d", s)
	}
	waitUntil(t, 30*time.Second, "acme's audit log holds the held login's failure", func() bool {
		r := ts.jsonReq("GET", a.Path+"/api/v1/admin/audit/events?type=login.failure&per_page=100", a.Admin, nil)
		var page struct {
			Events []map[string]any `json:"events"`
		}
		json.Unmarshal(r.Body, &page)
		return slices.ContainsFunc(page.Events, func(ev map[string]any) bool { return ev["request_id"] == "held-login" })
	})
}
