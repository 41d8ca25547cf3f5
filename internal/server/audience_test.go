package server_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/e2etest"
)

// audOf returns a token's aud claim as a list.
func audOf(t *testing.T, tok string) []string {
	t.Helper()
	switch v := jwtClaims(t, tok)["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// TestAPIRefusesTokensForOtherResources: Permiso's API is a resource
// server like any other (RFC 9068 §4). A token minted for another service,
// whatever scopes it carries, is refused there with 401 invalid_token; the
// same client asking for the issuer as its resource is accepted.
func TestAPIRefusesTokensForOtherResources(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	const mt5 = "https://mt5-api.trading.example"
	id, secret := ts.createClient(map[string]any{"name": "Ops automation", "audiences": []string{mt5},
		"scope_ids": []string{"admin:clients", "admin:users", "admin:system", "admin:tokens"}})

	foreign := ts.token(id, secret, nil) // the client's default audience: mt5-api
	if got := audOf(t, foreign); !slices.Equal(got, []string{mt5}) {
		t.Fatalf("aud %v", got)
	}
	for _, path := range []string{"/api/v1/service-clients", "/api/v1/users", "/api/v1/admin/keys", "/api/v1/admin/system/health"} {
		r := ts.jsonReq("GET", path, foreign, nil)
		status(t, r, http.StatusUnauthorized)
		if r.str("error") != "invalid_token" || !strings.Contains(r.str("error_description"), "not issued for this API") ||
			!strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("%s: %s %v", path, r.Body, r.Header)
		}
	}
	// Writes too: the delegation rule is never reached.
	status(t, ts.jsonReq("POST", "/api/v1/service-clients", foreign, map[string]any{"name": "Backdoor"}), http.StatusUnauthorized)
	// A token naming both mt5-api and Permiso is Permiso's too.
	both := ts.token(id, secret, url.Values{"resource": {mt5, ts.URL}})
	status(t, ts.jsonReq("GET", "/api/v1/service-clients", both, nil), http.StatusOK)

	// The issuer is an allowed resource for every client, audiences or not.
	own := ts.token(id, secret, url.Values{"resource": {ts.URL}})
	if got := audOf(t, own); !slices.Equal(got, []string{ts.URL}) {
		t.Fatalf("aud %v", got)
	}
	status(t, ts.jsonReq("GET", "/api/v1/service-clients", own, nil), http.StatusOK)

	// A user's token for another resource (an app of mt5-api signing an
	// administrator in with the password grant): refused too.
	ts.createUser("ivy", "admin")
	app, appSecret := ts.createClient(map[string]any{"name": "Ivy's app", "audiences": []string{mt5},
		"grant_types": []string{"password"}})
	r := ts.form("/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"ivy"}, "password": {goodPassword}}, app, appSecret)
	status(t, r, http.StatusOK)
	if got := audOf(t, r.str("access_token")); !slices.Equal(got, []string{mt5}) {
		t.Fatalf("the app's user token aud %v", got)
	}
	status(t, ts.jsonReq("GET", "/api/v1/users/me", r.str("access_token"), nil), http.StatusUnauthorized)
	// The first-party login's tokens are Permiso's own.
	login := ts.login("ivy", goodPassword, nil)
	if got := audOf(t, login.str("access_token")); !slices.Equal(got, []string{ts.URL}) {
		t.Fatalf("the first-party login's aud %v", got)
	}
	status(t, ts.jsonReq("GET", "/api/v1/users/me", login.str("access_token"), nil), http.StatusOK)

	// Each refusal is audited, with the token's aud.
	e := ts.waitEvent("authz.wrong_audience", "")
	if d, _ := e["details"].(map[string]any); e["type"] != "authz.wrong_audience" || !slices.Contains(d["aud"].([]any), any(mt5)) {
		t.Fatalf("audit event %v", e)
	}
}

// TestAPIAudienceOption: --api-audience names one more audience the API
// accepts, which every client may ask for; the issuer stays accepted.
func TestAPIAudienceOption(t *testing.T) {
	t.Parallel()
	const apiAud = "https://permiso.example.com/api"
	ts := newTestServer(t, func(c serverConfig) { c.APIAudience = apiAud })
	id, secret := ts.createClient(map[string]any{"name": "Auditor", "audiences": []string{"https://reports.example"},
		"scope_ids": []string{"admin:audit"}})
	tok := ts.token(id, secret, url.Values{"resource": {apiAud}})
	status(t, ts.jsonReq("GET", "/api/v1/admin/audit/events", tok, nil), http.StatusOK)
	status(t, ts.jsonReq("GET", "/api/v1/admin/audit/events", ts.token(id, secret, url.Values{"resource": {ts.URL}}), nil), http.StatusOK)
	status(t, ts.jsonReq("GET", "/api/v1/admin/audit/events", ts.token(id, secret, nil), nil), http.StatusUnauthorized)
	// Other resources stay the client's own business.
	r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://elsewhere.example"}}, id, secret)
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_target" {
		t.Fatalf("resource not allowed: %d %s", r.Status, r.Body)
	}
}

// TestSelfIntrospection: a token asking about itself at
// /api/v1/auth/introspect (the original's documented remote validation) is
// answered whatever its audience and without admin:tokens; a revoked one is
// refused as a credential; asking about another token still needs
// admin:tokens.
func TestSelfIntrospection(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	const mt5 = "https://mt5-api.trading.example"
	id, secret := ts.createClient(map[string]any{"name": "Trading bot", "audiences": []string{mt5},
		"scope_ids": []string{"trade:read", "market:data"}})
	tok := ts.token(id, secret, url.Values{"scope": {"trade:read"}})

	r := ts.jsonReq("POST", "/api/v1/auth/introspect", tok, map[string]any{"token": tok})
	status(t, r, http.StatusOK)
	if r.JSON["active"] != true || r.str("client_id") != id || r.str("scope") != "trade:read" || r.str("token_type") != "service_token" {
		t.Fatalf("self-introspection: %s", r.Body)
	}
	// About another token: admin:tokens is still needed.
	other := ts.token(id, secret, nil)
	r = ts.jsonReq("POST", "/api/v1/auth/introspect", tok, map[string]any{"token": other})
	status(t, r, http.StatusUnauthorized) // and its aud is not Permiso's
	own := ts.token(id, secret, url.Values{"resource": {ts.URL}})
	missing := ts.jsonReq("POST", "/api/v1/auth/introspect", own, map[string]any{"token": other})
	status(t, missing, http.StatusForbidden)
	if !strings.Contains(missing.str("error_description"), "admin:tokens") {
		t.Fatalf("refusal: %s", missing.Body)
	}

	status(t, ts.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret), http.StatusOK)
	r = ts.jsonReq("POST", "/api/v1/auth/introspect", tok, map[string]any{"token": tok})
	status(t, r, http.StatusUnauthorized)
	if r.str("error") != "invalid_token" {
		t.Fatalf("revoked self-introspection: %s", r.Body)
	}
}

// TestOriginalRemoteValidationService runs the original Permiso's
// documented FastAPI service in its default remote-validation mode (which
// sends the token being checked as its own bearer to
// /api/v1/auth/introspect) against Permiso: a valid token for the service
// is accepted, a revoked one refused, a token lacking the scope refused.
func TestOriginalRemoteValidationService(t *testing.T) {
	t.Parallel()
	const python = "/usr/bin/python3" // Debian's, with Debian's modules
	e2etest.Require(t, python, "apt-get install python3")
	if out, err := exec.Command(python, "-c", "import fastapi, httpx, uvicorn").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Debian's Python modules are required in CI (scripts/install-deps.sh): %s", out)
		}
		t.Skipf("Python modules missing: %s", out)
	}
	ts := newTestServer(t, nil)
	const mt5 = "https://mt5-api.trading.example"
	id, secret := ts.createClient(map[string]any{"name": "Trading bot", "audiences": []string{mt5},
		"scope_ids": []string{"trade:read", "market:data"}})

	addr := e2etest.FreeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	app := e2etest.Start(t, "original remote-validation service", []string{"PYTHONDONTWRITEBYTECODE=1", "AUTH_SERVICE_URL=" + ts.URL},
		python, "-m", "uvicorn", "app:app", "--app-dir", "testdata/original_remote", "--host", host, "--port", port, "--log-level", "warning")
	e2etest.WaitHTTP(t, "http://"+addr+"/health", http.StatusOK, app)
	get := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/trades", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	tok := ts.token(id, secret, nil) // aud mt5-api, as the service expects
	if got := get(tok); got != http.StatusOK {
		t.Fatalf("valid token: %d", got)
	}
	if got := get(ts.token(id, secret, url.Values{"scope": {"market:data"}})); got != http.StatusForbidden {
		t.Fatalf("token without trade:read: %d", got)
	}
	status(t, ts.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret), http.StatusOK)
	if got := get(tok); got != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", got)
	}
	if got := get("not-a-token"); got != http.StatusUnauthorized {
		t.Fatalf("garbage: %d", got)
	}
}
