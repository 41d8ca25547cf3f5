package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The escalations of issue 10, tried again as an attacker would: each
// partial scope used to reach full control. Every step must now fail, and
// leave nothing behind that a later step could use.

// hashingServer is a test server for tests that create and sign in users:
// each costs an Argon2id computation, slow on a loaded machine under -race,
// so answers may take longer than the usual write timeout.
func hashingServer(t *testing.T) *testServer {
	return newTestServer(t, func(c serverConfig) { c.WriteTimeout = 2 * time.Minute })
}

// scopesOf returns the scopes of an access token's claims.
func scopesOf(t *testing.T, tok string) []string {
	t.Helper()
	s, _ := jwtClaims(t, tok)["scope"].(string)
	return strings.Fields(s)
}

// missingNamed fails unless r is a 403 naming scope among the missing ones.
func missingNamed(t *testing.T, r *response, scope string) {
	t.Helper()
	status(t, r, http.StatusForbidden)
	missing, _ := r.JSON["missing_scopes"].([]any)
	if !slices.Contains(missing, any(scope)) || !strings.Contains(r.str("error_description"), scope) {
		t.Fatalf("refusal does not name %s: %s", scope, r.Body)
	}
}

func TestAttackClientsAdminCannotReachSystem(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	id, secret := ts.createClient(map[string]any{"name": "Provisioner", "scope_ids": []string{"admin:clients"}})
	attacker := ts.token(id, secret, nil)
	victimID, victimSecret := ts.createClient(map[string]any{"name": "Ops job", "scope_ids": []string{"admin:system"}})

	// 1. A new client holding admin:system, to get an admin:system token.
	r := ts.jsonReq("POST", "/api/v1/service-clients", attacker, map[string]any{"name": "Backdoor", "client_id": "backdoor",
		"scope_ids": []string{"admin:system"}})
	missingNamed(t, r, "admin:system")
	status(t, ts.jsonReq("GET", "/api/v1/service-clients/backdoor", ts.adminToken(), nil), http.StatusNotFound)
	status(t, ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "backdoor", "anything"), http.StatusUnauthorized)

	// 2. Its own scopes widened.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/service-clients/"+id+"/scopes", attacker,
		map[string]any{"scope_ids": []string{"admin:clients", "admin:system"}}), "admin:system")
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/service-clients/"+id, attacker,
		map[string]any{"scope_ids": []string{"admin:clients", "admin:system"}}), "admin:system")

	// 3. The secret of a client holding admin:system (an ordinary one, and
	// the bootstrap administrator), rotated and used.
	for _, target := range []string{victimID, ts.AdminID} {
		missingNamed(t, ts.jsonReq("POST", "/api/v1/service-clients/"+target+"/rotate-secret", attacker,
			map[string]any{"grace_period_seconds": 0}), "admin:system")
	}
	if got := scopesOf(t, ts.token(victimID, victimSecret, nil)); !slices.Equal(got, []string{"admin:system"}) {
		t.Fatalf("the victim's own secret stopped working or changed: %v", got)
	}
	ts.adminToken()

	// 4. A client holding admin:system disabled, redirected or deleted.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/service-clients/"+victimID, attacker, map[string]any{"is_active": false}), "admin:system")
	missingNamed(t, ts.jsonReq("DELETE", "/api/v1/service-clients/"+victimID, attacker, nil), "admin:system")

	// Every refusal is in the audit log, naming the missing scope.
	e := ts.waitEvent("authz.denied", "client "+victimID)
	if d, _ := e["details"].(map[string]any); d["rule"] != "delegation" {
		t.Fatalf("audit event %v", e)
	}
}

// partialUser creates a role holding scopes and a user holding that role,
// and signs them in.
func partialUser(t *testing.T, ts *testServer, username, role string, scopes ...string) userTokens {
	t.Helper()
	admin := ts.adminToken()
	status(t, ts.jsonReq("POST", "/api/v1/roles", admin, map[string]any{"name": role, "scope_ids": scopes}), http.StatusCreated)
	ts.createUser(username, role)
	return ts.loginOK(username)
}

func TestAttackRolesAdminCannotWidenTheirRole(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	rory := partialUser(t, ts, "rory", "role-keepers", "admin:roles")
	status(t, ts.jsonReq("POST", "/api/v1/roles", ts.adminToken(), map[string]any{"name": "helpers", "scope_ids": []string{}}), http.StatusCreated)

	// 1. admin:system added to the role rory holds, by either endpoint.
	r := ts.jsonReq("PUT", "/api/v1/roles/role-keepers/scopes", rory.Access, map[string]any{"scope_ids": []string{"admin:roles", "admin:system"}})
	status(t, r, http.StatusForbidden)
	if !strings.Contains(r.str("error_description"), "you hold it yourself") {
		t.Fatalf("refusal: %s", r.Body)
	}
	status(t, ts.jsonReq("PUT", "/api/v1/roles/role-keepers", rory.Access, map[string]any{"scope_ids": []string{"admin:system"}}), http.StatusForbidden)
	// 2. ... or to another role, to be given later.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/roles/helpers/scopes", rory.Access, map[string]any{"scope_ids": []string{"admin:system"}}), "admin:system")
	missingNamed(t, ts.jsonReq("POST", "/api/v1/roles", rory.Access, map[string]any{"name": "escalators", "scope_ids": []string{"admin:users"}}), "admin:users")
	// 3. The admin role emptied or renamed (acting on every administrator).
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/roles/admin/scopes", rory.Access, map[string]any{"scope_ids": []string{}}), "admin:system")
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/roles/admin", rory.Access, map[string]any{"name": "admins"}), "admin:system")
	// 4. A scope renamed so that a token holding it passes as another.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/roles/scopes/trade:read", rory.Access, map[string]any{"name": "admin:users2"}), "trade:read")

	// The next login carries no more than before.
	if got := scopesOf(t, ts.loginOK("rory").Access); !slices.Equal(got, []string{"admin:roles"}) {
		t.Fatalf("rory's next login holds %v", got)
	}
}

func TestAttackUsersAdminCannotBecomeAdmin(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	adaID := ts.createUser("ada", "admin")
	uma := partialUser(t, ts, "uma", "helpdesk", "admin:users")

	// 1. A new user holding the admin role, then signed in.
	r := ts.jsonReq("POST", "/api/v1/users", uma.Access, map[string]any{"username": "mallory", "email": "mallory@example.com",
		"password": goodPassword, "role_ids": []string{"admin"}})
	missingNamed(t, r, "admin:system")
	status(t, ts.login("mallory", goodPassword, nil), http.StatusUnauthorized)

	// 2. A harmless user created, then given the admin role.
	r = ts.jsonReq("POST", "/api/v1/users", uma.Access, map[string]any{"username": "mallory", "email": "mallory@example.com",
		"password": goodPassword})
	status(t, r, http.StatusCreated)
	malloryID := r.str("id")
	missingNamed(t, ts.jsonReq("POST", "/api/v1/users/"+malloryID+"/roles", uma.Access, map[string]any{"role_name": "admin"}), "admin:system")
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/users/"+malloryID, uma.Access, map[string]any{"role_ids": []string{"admin"}}), "admin:system")
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/users/"+malloryID+"/roles", uma.Access, map[string]any{"role_ids": []string{"admin"}}), "admin:system")
	if got := scopesOf(t, ts.loginOK("mallory").Access); len(got) != 0 {
		t.Fatalf("mallory holds %v", got)
	}

	// 3. An administrator's password set, or email changed (for a reset),
	// then signed in as them.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/users/"+adaID+"/password", uma.Access, map[string]any{"new_password": "Stolen!Meadow-77"}), "admin:system")
	status(t, ts.login("ada", "Stolen!Meadow-77", nil), http.StatusUnauthorized)
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/users/"+adaID, uma.Access, map[string]any{"email": "uma@example.com"}), "admin:system")
	if got := ts.jsonReq("GET", "/api/v1/users/"+adaID, ts.adminToken(), nil).str("email"); got != "ada@example.com" {
		t.Fatalf("ada's email is now %q", got)
	}
	// ... or disabled, deleted, or their roles taken.
	missingNamed(t, ts.jsonReq("PUT", "/api/v1/users/"+adaID, uma.Access, map[string]any{"is_active": false}), "admin:system")
	missingNamed(t, ts.jsonReq("DELETE", "/api/v1/users/"+adaID, uma.Access, nil), "admin:system")
	missingNamed(t, ts.jsonReq("DELETE", "/api/v1/users/"+adaID+"/roles/admin", uma.Access, nil), "admin:system")
	ts.loginOK("ada")

	// 4. Uma's own roles are hers to keep, not to change.
	umaID := ts.jsonReq("GET", "/api/v1/users/me", uma.Access, nil).str("id")
	status(t, ts.jsonReq("POST", "/api/v1/users/"+umaID+"/roles", uma.Access, map[string]any{"role_name": "admin"}), http.StatusForbidden)
}

// TestSeededAdminScopesKeepTheirNames: even a full administrator cannot
// rename or delete the admin:* scopes the API's own checks depend on;
// their descriptions may change.
func TestSeededAdminScopesKeepTheirNames(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	admin := ts.adminToken()
	for _, s := range []string{"admin:users", "admin:system", "admin:logs"} {
		r := ts.jsonReq("PUT", "/api/v1/roles/scopes/"+s, admin, map[string]any{"name": s + "2"})
		status(t, r, http.StatusForbidden)
		if !strings.Contains(r.str("error_description"), "cannot be renamed or deleted") {
			t.Fatalf("refusal: %s", r.Body)
		}
		status(t, ts.jsonReq("DELETE", "/api/v1/roles/scopes/"+s, admin, nil), http.StatusForbidden)
		status(t, ts.jsonReq("PUT", "/api/v1/roles/scopes/"+s, admin, map[string]any{"description": "Still " + s}), http.StatusOK)
	}
}

// TestFullAdministratorCreatesAndGrantsScopes: the bootstrap client holds
// every scope; a scope it creates is added to it (and to the console's
// client), so the same token may grant it at once and a later token holds
// it, and deleting the scope takes it from them again.
func TestFullAdministratorCreatesAndGrantsScopes(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	admin := ts.adminToken()
	status(t, ts.jsonReq("POST", "/api/v1/roles/scopes", admin, map[string]any{"name": "reports:read"}), http.StatusCreated)
	id, _ := ts.createClient(map[string]any{"name": "Reporter", "scope_ids": []string{"reports:read"}})
	for _, holder := range []string{ts.AdminID, "permiso-console"} {
		c := ts.jsonReq("GET", "/api/v1/service-clients/"+holder, admin, nil)
		if !strings.Contains(string(c.Body), `"reports:read"`) {
			t.Fatalf("%s does not hold the new scope: %s", holder, c.Body)
		}
	}
	if got := scopesOf(t, ts.adminToken()); !slices.Contains(got, "reports:read") {
		t.Fatalf("a new bootstrap token lacks the new scope: %v", got)
	}
	// Deleting it: only the client given it stands in the way.
	r := ts.jsonReq("DELETE", "/api/v1/roles/scopes/reports:read", admin, nil)
	if r.Status != http.StatusConflict || !strings.Contains(r.str("error_description"), "0 roles and 1 clients") {
		t.Fatalf("delete while held: %d %s", r.Status, r.Body)
	}
	status(t, ts.jsonReq("PUT", "/api/v1/service-clients/"+id+"/scopes", admin, map[string]any{"scope_ids": []string{}}), http.StatusOK)
	status(t, ts.jsonReq("DELETE", "/api/v1/roles/scopes/reports:read", admin, nil), http.StatusNoContent)
	if got := scopesOf(t, ts.adminToken()); slices.Contains(got, "reports:read") {
		t.Fatalf("the deleted scope is still held: %v", got)
	}
}

// consoleSignIn signs username in to the console over plain HTTP and
// returns the browser holding the session.
func consoleSignIn(t *testing.T, ts *testServer, username string) *browser {
	t.Helper()
	b := newBrowser(t)
	start := b.get(ts.URL + "/admin/signin?return=/admin/clients")
	if start.Status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", start.Status)
	}
	login := b.signIn(ts.URL, start.Header.Get("Location"), username, goodPassword)
	if login.Status != http.StatusSeeOther {
		t.Fatalf("login: %d %.300s", login.Status, login.Body)
	}
	if cb := b.get(login.Header.Get("Location")); cb.Status != http.StatusSeeOther {
		t.Fatalf("callback %s: %d %s", login.Header.Get("Location"), cb.Status, cb.Body)
	}
	return b
}

// TestConsoleShowsDelegationRefusals: the console acts with the signed-in
// user's token, so the rule holds there too, and each refusal is shown in
// the API's own words.
func TestConsoleShowsDelegationRefusals(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	partialUser(t, ts, "cleo", "client-keepers", "admin:clients", "market:data")
	b := consoleSignIn(t, ts, "cleo")

	act := func(path string, form url.Values) string {
		t.Helper()
		page := b.get(ts.URL + "/admin/clients")
		if page.Status != http.StatusOK || page.Form.Get("csrf") == "" {
			t.Fatalf("clients page: %d %.300s", page.Status, page.Body)
		}
		form.Set("csrf", page.Form.Get("csrf"))
		res := b.post(ts.URL+path, form)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %.300s", path, res.Status, res.Body)
		}
		return b.get(ts.URL + res.Header.Get("Location")).Body
	}
	body := act("/admin/clients", url.Values{"name": {"Backdoor"}, "client_type": {"confidential"}, "client_id": {"backdoor"}, "scopes": {"market:data admin:system"}})
	if want := "Permission denied: You cannot grant scopes you do not hold: &#34;admin:system&#34; (to client backdoor)."; !strings.Contains(body, want) {
		t.Fatalf("the page does not show the API's refusal %q:\n%s", want, body)
	}
	status(t, ts.jsonReq("GET", "/api/v1/service-clients/backdoor", ts.adminToken(), nil), http.StatusNotFound)

	// Within what cleo holds, the same form works.
	act("/admin/clients", url.Values{"name": {"Quotes"}, "client_type": {"confidential"}, "client_id": {"quotes"}, "scopes": {"market:data"}})
	status(t, ts.jsonReq("GET", "/api/v1/service-clients/quotes", ts.adminToken(), nil), http.StatusOK)

	// Rotating the bootstrap administrator's secret is refused, in words.
	body = act("/admin/clients/"+ts.AdminID+"/rotate", url.Values{"grace_period_seconds": {"0"}})
	if !strings.Contains(body, "Permission denied: The client &#34;permiso-admin&#34; holds scopes you do not hold:") {
		t.Fatalf("rotate refusal not shown:\n%s", body)
	}
	ts.adminToken()
}
