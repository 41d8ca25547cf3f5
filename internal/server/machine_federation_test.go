package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// claimsOf decodes a JWT's payload without checking it (the test reads
// the token Permiso issued).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func (ts *testServer) mustJSON(t *testing.T, method, path string, body any, want int) *response {
	t.Helper()
	r := ts.jsonReq(method, path, ts.adminToken(), body)
	if r.Status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// TestFederationKubernetes: a pod's projected service account token,
// minted as a Kubernetes API server mints it and verified through the
// issuer's OIDC discovery on loopback, authenticates the bound client.
func TestFederationKubernetes(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	k8s := jwttest.NewKubernetesIssuer(t)
	ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "prod-cluster", "issuer": k8s.URL, "key_source": "oidc",
		"audience": "permiso", "max_token_age": 3600}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Trading bot", "client_id": "trading-bot",
		"token_endpoint_auth_method": "federated_jwt", "scope_ids": []string{"trade:read"}}, 201)
	ts.mustJSON(t, "POST", "/api/v1/trusts/prod-cluster/bindings", map[string]any{"client_id": "trading-bot",
		"subject": "system:serviceaccount:trading:bot", "conditions": map[string]any{
			"kubernetes.io.namespace": []string{"trading"}, "kubernetes.io.serviceaccount.name": []string{"bot"}}}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "CI runner", "client_id": "ci-runner",
		"token_endpoint_auth_method": "federated_jwt"}, 201)
	ts.mustJSON(t, "POST", "/api/v1/trusts/prod-cluster/bindings", map[string]any{"client_id": "ci-runner",
		"subject": "system:serviceaccount:ci:runner", "conditions": map[string]any{"kubernetes.io.namespace": []string{"production"}}}, 201)
	now := time.Now()
	sa := func(ns, name string, aud []string, ttl time.Duration, at time.Time) string {
		return k8s.ServiceAccountToken(t, ns, name, aud, ttl, at)
	}

	t.Run("projected token gets a token, again and again", func(t *testing.T) {
		tok := sa("trading", "bot", []string{"permiso"}, time.Hour, now)
		for i := range 3 { // a projected token is presented until the kubelet refreshes it
			r := ts.assertionToken(wire.AssertionTypeJWTBearer, tok)
			if r.Status != 200 {
				t.Fatalf("use %d: %d %s", i+1, r.Status, r.Body)
			}
			if c := claimsOf(t, r.str("access_token")); c["sub"] != "trading-bot" || c["client_id"] != "trading-bot" {
				t.Fatalf("issued token for %v", c["sub"])
			}
		}
		r := ts.withAssertion("/oauth2/introspect", wire.AssertionTypeJWTBearer, tok, url.Values{"token": {"x"}})
		if r.Status != 200 {
			t.Fatalf("introspection with the projected token: %d %s", r.Status, r.Body)
		}
		if r := ts.withAssertion("/api/v1/auth/service-token", wire.AssertionTypeJWTBearer, tok, nil); r.Status != 200 {
			t.Fatalf("service-token: %d %s", r.Status, r.Body)
		}
		e := ts.waitAudit(t, "client.federated_auth", "trading-bot")
		d, _ := e["details"].(map[string]any)
		if d["issuer"] != k8s.URL || d["subject"] != "system:serviceaccount:trading:bot" || d["trust"] != "prod-cluster" {
			t.Fatalf("audit details %v", d)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, desc, reason string
		}{
			{"wrong audience", sa("trading", "bot", []string{"vault"}, time.Hour, now), "aud must contain permiso", "assertion_aud"},
			{"expired", sa("trading", "bot", []string{"permiso"}, 10*time.Minute, now.Add(-time.Hour)), "expired", "assertion_expired"},
			{"older than the trust's maximum age", sa("trading", "bot", []string{"permiso"}, 3*time.Hour, now.Add(-2*time.Hour)), "issued more than 1h0m0s ago", "token_too_old"},
			{"unbound service account", sa("trading", "intruder", []string{"permiso"}, time.Hour, now), "", "no_binding"},
			{"claim condition not met", sa("ci", "runner", []string{"permiso"}, time.Hour, now), "conditions of the client's binding (kubernetes.io.namespace)", "binding_conditions"},
		} {
			wantInvalidClient(t, tc.name, ts.assertionToken(wire.AssertionTypeJWTBearer, tc.token), tc.desc)
			ts.wantAuditReason(t, tc.reason)
		}
		forged := jwttest.NewKey(t, "RS256", k8s.Key.KID) // the cluster's kid, another key
		claims := map[string]any{"iss": k8s.URL, "sub": "system:serviceaccount:trading:bot", "aud": []string{"permiso"},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		wantInvalidClient(t, "forged signature", ts.assertionToken(wire.AssertionTypeJWTBearer, forged.Sign(t, claims, nil)), "")
		wantInvalidClient(t, "unknown kid", ts.assertionToken(wire.AssertionTypeJWTBearer, jwttest.NewKey(t, "RS256", "other").Sign(t, claims, nil)), "")
		wantInvalidClient(t, "alg none", ts.assertionToken(wire.AssertionTypeJWTBearer, jwttest.Unsigned(t, claims)), "alg")
		wantInvalidClient(t, "HS256", ts.assertionToken(wire.AssertionTypeJWTBearer, jwttest.HS256(t, jwttest.JWKS(k8s.Key), k8s.Key.KID, claims)), "alg")
		// A federated client holds no secret; a made-up one fails like any other.
		wantInvalidClient(t, "secret", ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "trading-bot", "pms_guess"), "")
		// client_id naming another client than the binding's.
		r := ts.withAssertion("/oauth2/token", wire.AssertionTypeJWTBearer, sa("trading", "bot", []string{"permiso"}, time.Hour, now),
			url.Values{"grant_type": {"client_credentials"}, "client_id": {"ci-runner"}})
		wantInvalidClient(t, "client_id of another client", r, "client_id does not name")
	})

	t.Run("a disabled trust authenticates nobody", func(t *testing.T) {
		ts.mustJSON(t, "PUT", "/api/v1/trusts/prod-cluster", map[string]any{"is_active": false}, 200)
		wantInvalidClient(t, "disabled trust", ts.assertionToken(wire.AssertionTypeJWTBearer, sa("trading", "bot", []string{"permiso"}, time.Hour, now)), "")
		ts.mustJSON(t, "PUT", "/api/v1/trusts/prod-cluster", map[string]any{"is_active": true}, 200)
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, sa("trading", "bot", []string{"permiso"}, time.Hour, now)); r.Status != 200 {
			t.Fatalf("re-enabled: %d %s", r.Status, r.Body)
		}
	})

	t.Run("trust administration", func(t *testing.T) {
		r := ts.mustJSON(t, "GET", "/api/v1/trusts/prod-cluster/keys", nil, 200)
		if kids, _ := r.JSON["kids"].([]any); len(kids) != 1 || kids[0] != k8s.Key.KID {
			t.Fatalf("keys: %s", r.Body)
		}
		ts.mustJSON(t, "DELETE", "/api/v1/trusts/prod-cluster", nil, 409) // bindings exist
		got := ts.mustJSON(t, "GET", "/api/v1/trusts/prod-cluster", nil, 200)
		if b, _ := got.JSON["bindings"].([]any); len(b) != 2 {
			t.Fatalf("bindings: %s", got.Body)
		}
		for name, body := range map[string]map[string]any{
			"duplicate issuer":  {"name": "again", "issuer": k8s.URL, "key_source": "oidc"},
			"no issuer":         {"name": "x", "key_source": "oidc"},
			"bad name":          {"name": "Prod Cluster", "issuer": "https://k.example.com", "key_source": "oidc"},
			"unknown source":    {"name": "x", "issuer": "https://k.example.com", "key_source": "ldap"},
			"internal jwks_uri": {"name": "x", "issuer": "https://k.example.com", "key_source": "jwks_uri", "jwks_uri": "https://10.0.0.1/keys"},
			"age too long":      {"name": "x", "issuer": "https://k.example.com", "key_source": "oidc", "max_token_age": 30 * 24 * 3600},
		} {
			want := 422
			if name == "duplicate issuer" {
				want = 409
			}
			if r := ts.jsonReq("POST", "/api/v1/trusts", ts.adminToken(), body); r.Status != want {
				t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, want)
			}
		}
		bind := map[string]any{"client_id": "trading-bot", "subject": "system:serviceaccount:trading:bot"}
		ts.mustJSON(t, "POST", "/api/v1/trusts/prod-cluster/bindings", bind, 409) // one client per (trust, subject)
		id, _ := ts.createClient(map[string]any{"name": "Secret client"})
		r = ts.jsonReq("POST", "/api/v1/trusts/prod-cluster/bindings", ts.adminToken(), map[string]any{"client_id": id, "subject": "x"})
		if r.Status != 422 || !strings.Contains(r.str("error_description"), "federated_jwt") {
			t.Fatalf("binding a secret client: %d %s", r.Status, r.Body)
		}
		// The delegation rule: binding an identity to a client lets it act
		// as the client, so a partial administrator binds only clients that
		// hold no more than it does.
		lid, lsecret := ts.createClient(map[string]any{"name": "Partial admin", "scope_ids": []string{"admin:clients"}})
		partial := ts.token(lid, lsecret, nil)
		r = ts.jsonReq("POST", "/api/v1/trusts/prod-cluster/bindings", partial, map[string]any{
			"client_id": "trading-bot", "subject": "system:serviceaccount:trading:other"})
		if r.Status != 403 || !strings.Contains(r.str("error_description"), "trade:read") {
			t.Fatalf("partial admin binding a client with trade:read: %d %s", r.Status, r.Body)
		}
		if r := ts.jsonReq("PUT", "/api/v1/trusts/prod-cluster", partial, map[string]any{"is_active": false}); r.Status != 403 {
			t.Fatalf("partial admin changing a trust: %d %s", r.Status, r.Body)
		}
		ts.waitAudit(t, "trust.created", "prod-cluster")
		ts.waitAudit(t, "trust.binding_created", "trading-bot")
	})
}

// TestFederationCIToken: a CI system's OIDC token (static JWKS), bound by
// subject with repository and ref conditions.
func TestFederationCIToken(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	ci := jwttest.NewKey(t, "RS256", "ci-1")
	const iss = "https://token.actions.example.com"
	ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "ci", "issuer": iss, "key_source": "jwks",
		"jwks": jwksOf(ci), "audience": "https://permiso.example.com"}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Deployer", "client_id": "deployer",
		"token_endpoint_auth_method": "federated_jwt"}, 201)
	ts.mustJSON(t, "POST", "/api/v1/trusts/ci/bindings", map[string]any{"client_id": "deployer",
		"subject": "repo:acme/trading:environment:production", "conditions": map[string]any{
			"repository": []string{"acme/trading"}, "ref": []string{"refs/heads/main", "refs/tags/release"}}}, 201)
	mint := func(ref string) string {
		now := time.Now()
		return ci.Sign(t, map[string]any{"iss": iss, "sub": "repo:acme/trading:environment:production",
			"aud": "https://permiso.example.com", "repository": "acme/trading", "ref": ref, "run_id": 1234,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}, map[string]any{"typ": "JWT"})
	}
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, mint("refs/heads/main")); r.Status != 200 {
		t.Fatalf("main: %d %s", r.Status, r.Body)
	}
	wantInvalidClient(t, "another ref", ts.assertionToken(wire.AssertionTypeJWTBearer, mint("refs/heads/feature")), "(ref)")
}

// TestFederationSPIFFE: JWT-SVIDs as draft-ietf-oauth-spiffe-client-auth
// has them: client_assertion_type jwt-spiffe, sub the SPIFFE ID, aud the
// issuer alone, keys from the trust domain's bundle endpoint.
func TestFederationSPIFFE(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	svid := jwttest.NewKey(t, "ES256", "spire-jwt-1")
	jwk := svid.PublicJWK()
	jwk["use"] = "jwt-svid"
	bundle, _ := json.Marshal(map[string]any{"keys": []any{jwk}, "spiffe_sequence": 1, "spiffe_refresh_hint": 300})
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(bundle) }))
	defer endpoint.Close()
	ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "spire", "key_source": "spiffe",
		"trust_domain": "example.org", "spiffe_bundle_endpoint": endpoint.URL + "/bundle"}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Pricing", "client_id": "pricing",
		"token_endpoint_auth_method": "spiffe_jwt"}, 201)
	ts.mustJSON(t, "POST", "/api/v1/trusts/spire/bindings", map[string]any{"client_id": "pricing",
		"subject": "spiffe://example.org/ns/trading/*"}, 201)
	iss := ts.URL
	mint := func(sub string, aud any, key *jwttest.Key) string {
		now := time.Now()
		return key.Sign(t, map[string]any{"sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()},
			map[string]any{"typ": "JWT"})
	}
	good := mint("spiffe://example.org/ns/trading/sa/pricer", []string{iss}, svid)
	for _, clientID := range []string{"", "spiffe://example.org/ns/trading/sa/pricer", "pricing"} {
		v := url.Values{"grant_type": {"client_credentials"}}
		if clientID != "" {
			v.Set("client_id", clientID)
		}
		r := ts.withAssertion("/oauth2/token", wire.AssertionTypeJWTSPIFFE, good, v)
		if r.Status != 200 {
			t.Fatalf("client_id %q: %d %s", clientID, r.Status, r.Body)
		}
		if c := claimsOf(t, r.str("access_token")); c["client_id"] != "pricing" {
			t.Fatalf("issued to %v", c["client_id"])
		}
	}
	wantInvalidClient(t, "two audiences", ts.assertionToken(wire.AssertionTypeJWTSPIFFE,
		mint("spiffe://example.org/ns/trading/sa/pricer", []string{iss, "https://other"}, svid)), "only value")
	wantInvalidClient(t, "outside the bound path", ts.assertionToken(wire.AssertionTypeJWTSPIFFE,
		mint("spiffe://example.org/ns/payments/sa/x", iss, svid)), "")
	wantInvalidClient(t, "another trust domain", ts.assertionToken(wire.AssertionTypeJWTSPIFFE,
		mint("spiffe://evil.org/ns/trading/sa/pricer", iss, svid)), "")
	wantInvalidClient(t, "not a SPIFFE ID", ts.assertionToken(wire.AssertionTypeJWTSPIFFE, mint("pricer", iss, svid)), "SPIFFE ID")
	wantInvalidClient(t, "signed by another key", ts.assertionToken(wire.AssertionTypeJWTSPIFFE,
		mint("spiffe://example.org/ns/trading/sa/pricer", iss, jwttest.NewKey(t, "ES256", "spire-jwt-1"))), "")
	// A JWT-SVID sent as a jwt-bearer assertion names no trust by its iss,
	// so it is read as a private_key_jwt assertion, which it is not.
	wantInvalidClient(t, "JWT-SVID as jwt-bearer", ts.assertionToken(wire.AssertionTypeJWTBearer, good), "iss and sub")
}

// waitAudit polls the audit log for an event of type typ about target.
func (ts *testServer) waitAudit(t *testing.T, typ, target string) map[string]any {
	t.Helper()
	admin := ts.adminToken()
	var found map[string]any
	waitUntil(t, 15*time.Second, "audit "+typ, func() bool {
		r := ts.jsonReq("GET", "/api/v1/admin/audit/events?per_page=100&type="+url.QueryEscape(typ), admin, nil)
		events, _ := r.JSON["events"].([]any)
		for _, e := range events {
			if m, _ := e.(map[string]any); m["target"] == target {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// TestFederationIssuerIsNeverPrivateKeyJWT: an assertion whose iss is a
// registered trust's issuer is judged by that trust alone, even when its
// key and sub would make it a valid private_key_jwt assertion of a client.
func TestFederationIssuerIsNeverPrivateKeyJWT(t *testing.T) {
	ts := newTestServer(t, nil)
	k := jwttest.NewKey(t, "ES256", "shared")
	const iss = "https://token.ci.example.com"
	ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "ci", "issuer": iss, "key_source": "jwks",
		"jwks": jwksOf(k), "audience": ts.URL}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Keyed", "client_id": "keyed",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(k)}, 201)
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, k, "keyed", ts.URL, nil)); r.Status != 200 {
		t.Fatalf("the client's own assertion: %d %s", r.Status, r.Body)
	}
	a := assertion(t, k, "keyed", ts.URL, func(c, h map[string]any) { c["iss"] = iss })
	r := ts.withAssertion("/oauth2/token", wire.AssertionTypeJWTBearer, a,
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"keyed"}})
	wantInvalidClient(t, "trust-issued assertion naming a keyed client", r, "")
	e := ts.wantAuditReason(t, "no_binding")
	if d, _ := e["details"].(map[string]any); d["trust"] != "ci" || d["issuer"] != iss || d["subject"] != "keyed" {
		t.Fatalf("audit details %v: not judged by the trust", d)
	}
	// Nor can a client take an issuer URL as its client_id.
	if r := ts.jsonReq("POST", "/api/v1/service-clients", ts.adminToken(), map[string]any{"name": "Issuer", "client_id": iss,
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(k)}); r.Status != 422 {
		t.Fatalf("a client_id equal to a trust's issuer: %d %s, want 422", r.Status, r.Body)
	}
}
