package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// The delegation world of the exchange tests: a trader signs in to the
// dashboard, whose tokens are for mt5-api; mt5-api calls risk for the
// trader; risk calls the ledger.
const (
	mt5Aud      = "https://mt5-api.trading.test"
	riskAud     = "https://risk.trading.test"
	ledgerAud   = "https://ledger.trading.test"
	portalAud   = "https://portal.trading.test"
	trustDomain = "trading.test"
)

// world is a server with the clients and users of the exchange tests.
type world struct {
	ts *testServer
	// client id -> secret
	secrets map[string]string
	// operator is a token of the client that administers the others.
	operator string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// Users sign in (Argon2id) all through these tests: answers may take
	// longer than the usual write timeout on a loaded machine.
	ts := newTestServer(t, func(c *server.Config) { c.TxnTrustDomain, c.WriteTimeout = trustDomain, 2*time.Minute })
	w := &world{ts: ts, secrets: map[string]string{}}
	trader := []string{"trade:read", "trade:open", "trade:close", "account:read", "market:data"}
	// Nobody lets a client carry scopes they do not hold: the operator
	// who sets these policies holds the trading scopes.
	opID, opSecret := ts.createClient(map[string]any{"client_id": "operator", "name": "Operator",
		"scope_ids": append([]string{"admin:clients", "service:mt5"}, trader...)})
	w.operator = ts.token(opID, opSecret, nil)
	w.client("dashboard", map[string]any{"grant_types": []string{"password", "refresh_token"},
		"audiences": []string{mt5Aud}, "scope_ids": trader})
	// A service whose tokens for mt5-api live five minutes.
	w.client("batch", map[string]any{"audiences": []string{mt5Aud}, "scope_ids": []string{"trade:read"},
		"access_token_lifetime": 300})
	// The portal's tokens name "helper" as a party that may act for them.
	w.client("portal", map[string]any{"grant_types": []string{"password"}, "audiences": []string{portalAud},
		"scope_ids": trader, "token_exchange": map[string]any{"actors": []string{"helper"}}})
	w.client("mt5-api", map[string]any{"grant_types": []string{"client_credentials", wire.GrantTokenExchange},
		"audiences": []string{riskAud}, "scope_ids": []string{"service:mt5"},
		"token_exchange": map[string]any{"resources": []string{mt5Aud}, "delegate": true, "targets": []map[string]any{
			{"audience": riskAud, "scopes": []string{"trade:read", "trade:open"}},
			{"audience": ledgerAud, "scopes": []string{"trade:read"}},
			{"audience": trustDomain, "scopes": []string{"trade:open", "trade:read"}}}}})
	w.client("risk", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"resources": []string{riskAud}, "delegate": true, "max_depth": 3,
			"targets": []map[string]any{{"audience": ledgerAud, "scopes": []string{"trade:read", "trade:open"}}}}})
	w.client("ledger", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"resources": []string{ledgerAud}, "delegate": true, "max_depth": 2,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	w.client("helper", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"delegate": true,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	// eve has a policy of her own, but no token meant for mt5-api is hers.
	w.client("eve", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"resources": []string{"https://eve.example"}, "delegate": true,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	w.client("imp", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"resources": []string{mt5Aud}, "impersonate": true,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	w.client("nopolicy", map[string]any{"grant_types": []string{wire.GrantTokenExchange}})
	w.client("nogrant", map[string]any{"grant_types": []string{"client_credentials"},
		"token_exchange": map[string]any{"resources": []string{mt5Aud}, "delegate": true,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	w.client("passive", map[string]any{"grant_types": []string{wire.GrantTokenExchange},
		"token_exchange": map[string]any{"resources": []string{mt5Aud},
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
	return w
}

// client creates a confidential client with id and the given fields.
func (w *world) client(id string, fields map[string]any) {
	w.ts.t.Helper()
	body := map[string]any{"client_id": id, "name": "Client " + id}
	for k, v := range fields {
		body[k] = v
	}
	r := w.ts.jsonReq("POST", "/api/v1/service-clients", w.operator, body)
	if r.Status != http.StatusCreated {
		w.ts.t.Fatalf("create client %s: %d %s", id, r.Status, r.Body)
	}
	w.secrets[id] = r.str("client_secret")
}

// userToken signs username in at client with the password grant.
func (w *world) userToken(client, username string) map[string]any {
	w.ts.t.Helper()
	r := w.ts.form("/oauth2/token", url.Values{"grant_type": {"password"}, "username": {username},
		"password": {goodPassword}}, client, w.secrets[client])
	if r.Status != http.StatusOK {
		w.ts.t.Fatalf("password grant for %s at %s: %d %s", username, client, r.Status, r.Body)
	}
	return r.JSON
}

// exchange posts a token exchange as client with form (grant_type and a
// subject_token_type of access_token are added).
func (w *world) exchange(client string, form url.Values) *response {
	v := url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token_type": {wire.TokenTypeAccessToken}}
	for k, vv := range form {
		v[k] = vv
	}
	return w.ts.form("/oauth2/token", v, client, w.secrets[client])
}

// exchangeOK exchanges subject as client for audience, or fails the test.
func (w *world) exchangeOK(client, subject string, extra url.Values) (string, wire.Claims) {
	w.ts.t.Helper()
	form := url.Values{"subject_token": {subject}}
	for k, vv := range extra {
		form[k] = vv
	}
	r := w.exchange(client, form)
	if r.Status != http.StatusOK {
		w.ts.t.Fatalf("exchange by %s: %d %s", client, r.Status, r.Body)
	}
	tok := r.str("access_token")
	return tok, tokenClaims(w.ts.t, tok)
}

// active asks introspection about tok.
func (w *world) active(tok string) bool {
	w.ts.t.Helper()
	r := w.ts.form("/oauth2/introspect", url.Values{"token": {tok}}, w.ts.AdminID, w.ts.Secret)
	if r.Status != http.StatusOK {
		w.ts.t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.JSON["active"] == true
}

// tokenClaims decodes a token's claims without verifying it (the server
// verified it; the tests read what it says).
func tokenClaims(t *testing.T, raw string) wire.Claims {
	t.Helper()
	tok, err := jwt.ParseUnverified(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	var c wire.Claims
	if err := tok.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// oauthError fails unless r is a 400 with the OAuth error code.
func oauthError(t *testing.T, r *response, code string) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.str("error") != code || r.str("error_description") == "" {
		t.Fatalf("want 400 %s with a description, got %d %s", code, r.Status, r.Body)
	}
	noInternals(t, r)
}

// mustExchange exchanges subject as client for aud and returns the token.
func (w *world) mustExchange(t *testing.T, client, subject, aud string) string {
	t.Helper()
	tok, _ := w.exchangeOK(client, subject, url.Values{"audience": {aud}})
	return tok
}
