package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/internal/bench"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
)

// dpopClient registers a confidential client for the service audience.
func (ts *testServer) dpopClient(extra map[string]any) (string, string) {
	ts.t.Helper()
	body := map[string]any{"name": "trading bot", "scope_ids": []string{"trade:read"}, "audiences": []string{serviceAudience}}
	for k, v := range extra {
		body[k] = v
	}
	return ts.createClient(body)
}

var ccForm = url.Values{"grant_type": {"client_credentials"}}

// TestDPoPTokenEndpoint walks RFC 9449 §4.3 at the real token endpoint:
// each rule with a proof it accepts and one it refuses, and the token it
// issues (§5: token_type DPoP, cnf.jkt, introspection with cnf).
func TestDPoPTokenEndpoint(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.dpopClient(nil)
	key, other := newDPoPKey(t), newDPoPKey(t)
	htu := ts.URL + "/oauth2/token"
	genuine := func(h, c map[string]any) { c["htu"] = htu }

	r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{}))
	if r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("genuine proof: %d %s", r.Status, r.Body)
	}
	tok := r.str("access_token")
	cnf, _ := jwtClaims(t, tok)["cnf"].(map[string]any)
	if cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("cnf = %v, want jkt %s", cnf, key.Thumbprint())
	}
	in := ts.form("/oauth2/introspect", url.Values{"token": {tok}}, ts.AdminID, ts.Secret)
	if icnf, _ := in.JSON["cnf"].(map[string]any); in.str("token_type") != "DPoP" || icnf["jkt"] != key.Thumbprint() {
		t.Fatalf("introspection: %s", in.Body)
	}
	md := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
	if algs, _ := md.JSON["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 || algs[0] != "ES256" {
		t.Fatalf("metadata: dpop_signing_alg_values_supported = %v", md.JSON["dpop_signing_alg_values_supported"])
	}
	// Without a proof the same client gets a bearer token.
	if r := ts.tokenWithProofs(ccForm, id, secret); r.Status != 200 || r.str("token_type") != "Bearer" {
		t.Fatalf("no proof: %d %s", r.Status, r.Body)
	}

	old := time.Now().Add(-2 * time.Minute).Unix()
	tests := []struct {
		name   string
		proofs func() []string
	}{
		{"(1) two DPoP headers", func() []string {
			p := key.proof(t, "POST", htu, dpop.ProofOptions{})
			return []string{p, key.proof(t, "POST", htu, dpop.ProofOptions{})}
		}},
		{"(2) not a JWT", func() []string { return []string{"not.a.jwt"} }},
		{"(3) no jti", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); delete(c, "jti") })}
		}},
		{"(3) no iat", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); delete(c, "iat") })}
		}},
		{"(3) no htu", func() []string { return []string{key.forge(t, func(h, c map[string]any) {})} }},
		{"(4) typ JWT", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); h["typ"] = "JWT" })}
		}},
		{"(5) alg HS256", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); h["alg"] = "HS256" })}
		}},
		{"(6) signed by another key", func() []string {
			return []string{other.forge(t, func(h, c map[string]any) { genuine(h, c); h["jwk"] = key.jwk(t) })}
		}},
		{"(7) private key in jwk", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) {
				genuine(h, c)
				h["jwk"].(map[string]any)["d"] = "AAAA"
			})}
		}},
		{"(8) htm GET", func() []string { return []string{key.proof(t, "GET", htu, dpop.ProofOptions{})} }},
		{"(9) htu of another endpoint", func() []string {
			return []string{key.proof(t, "POST", ts.URL+"/oauth2/introspect", dpop.ProofOptions{})}
		}},
		{"(11) iat too old", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); c["iat"] = old })}
		}},
		{"(11) iat in the future", func() []string {
			return []string{key.forge(t, func(h, c map[string]any) { genuine(h, c); c["iat"] = time.Now().Add(time.Minute).Unix() })}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.tokenWithProofs(ccForm, id, secret, tt.proofs()...)
			if r.Status != 400 || r.str("error") != "invalid_dpop_proof" || r.str("error_description") == "" {
				t.Fatalf("got %d %s, want 400 invalid_dpop_proof", r.Status, r.Body)
			}
			noInternals(t, r)
		})
	}
	t.Run("§11.1 a replayed proof", func(t *testing.T) {
		p := key.proof(t, "POST", htu, dpop.ProofOptions{})
		if r := ts.tokenWithProofs(ccForm, id, secret, p); r.Status != 200 {
			t.Fatalf("first use: %d %s", r.Status, r.Body)
		}
		if r := ts.tokenWithProofs(ccForm, id, secret, p); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
			t.Fatalf("replay: %d %s", r.Status, r.Body)
		}
	})
	t.Run("(9) htu normalized, query ignored", func(t *testing.T) {
		u := strings.Replace(htu, "http://", "HTTP://", 1) + "?x=1"
		if r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", u, dpop.ProofOptions{})); r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
}

// TestDPoPRequiredByClient: dpop_bound_access_tokens (RFC 9449 §5.2).
func TestDPoPRequiredByClient(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.dpopClient(map[string]any{"dpop_bound_access_tokens": true})
	r := ts.tokenWithProofs(ccForm, id, secret)
	if r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("no proof: %d %s", r.Status, r.Body)
	}
	key := newDPoPKey(t)
	if r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", ts.URL+"/oauth2/token", dpop.ProofOptions{})); r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("with a proof: %d %s", r.Status, r.Body)
	}
	c := ts.jsonReq("GET", "/api/v1/service-clients/"+id, ts.adminToken(), nil)
	if c.JSON["dpop_bound_access_tokens"] != true {
		t.Fatalf("client does not show the setting: %s", c.Body)
	}
}

// TestDPoPBehindProxy: htu is checked against the public issuer URL, not
// the address the server listens on.
func TestDPoPBehindProxy(t *testing.T) {
	const public = "https://auth.example.com"
	ts := newTestServer(t, func(c *server.Config) { c.Issuer = public })
	ts.URL = "http://" + ts.Addr // requests reach the listener; tokens name the public URL
	id, secret := ts.dpopClient(nil)
	key := newDPoPKey(t)
	if r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", public+"/oauth2/token", dpop.ProofOptions{})); r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("proof for the public URL: %d %s", r.Status, r.Body)
	}
	if r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", ts.URL+"/oauth2/token", dpop.ProofOptions{})); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("proof for the listener's URL: %d %s", r.Status, r.Body)
	}
}

// TestDPoPNonceAtTokenEndpoint: server-provided nonces (RFC 9449 §8).
func TestDPoPNonceAtTokenEndpoint(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.DPoPNonce = true })
	id, secret := ts.dpopClient(nil)
	key := newDPoPKey(t)
	htu := ts.URL + "/oauth2/token"
	r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{}))
	nonce := r.Header.Get("DPoP-Nonce")
	if r.Status != 400 || r.str("error") != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("without a nonce: %d %s, DPoP-Nonce %q", r.Status, r.Body, nonce)
	}
	r = ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{Nonce: nonce}))
	if r.Status != 200 || r.str("token_type") != "DPoP" || r.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s", r.Status, r.Body)
	}
	if r := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{Nonce: "forged"})); r.Status != 400 || r.str("error") != "use_dpop_nonce" {
		t.Fatalf("with a made-up nonce: %d %s", r.Status, r.Body)
	}
	// Clients without DPoP are not affected.
	if r := ts.tokenWithProofs(ccForm, id, secret); r.Status != 200 {
		t.Fatalf("bearer client: %d %s", r.Status, r.Body)
	}
}

// TestDPoPAtGuardedService: a DPoP token from Permiso at a real service
// behind sdk/guard (RFC 9449 §7): accepted with its proof, refused copied
// off the wire (as Bearer, with another key, replayed, for another URL).
func TestDPoPAtGuardedService(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.dpopClient(nil)
	svc := newGuarded(t, ts, nil)
	key, thief := newDPoPKey(t), newDPoPKey(t)
	tok := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", ts.URL+"/oauth2/token", dpop.ProofOptions{})).str("access_token")
	url := svc.URL + "/orders"
	good := key.proof(t, "GET", url, dpop.ProofOptions{AccessToken: tok})
	if status, body, _ := svc.call("/orders", "DPoP "+tok, good); status != 200 || body != "dpop" {
		t.Fatalf("with its proof: %d %s", status, body)
	}
	tests := []struct {
		name   string
		auth   string
		proofs []string
		code   string
	}{
		{"as a bearer token", "Bearer " + tok, nil, "invalid_token"},
		{"without a proof", "DPoP " + tok, nil, "invalid_dpop_proof"},
		{"with a proof of another key", "DPoP " + tok, []string{thief.proof(t, "GET", url, dpop.ProofOptions{AccessToken: tok})}, "invalid_token"},
		{"with the same proof again", "DPoP " + tok, []string{good}, "invalid_dpop_proof"},
		{"with a proof for another URL", "DPoP " + tok, []string{key.proof(t, "GET", svc.URL+"/positions", dpop.ProofOptions{AccessToken: tok})}, "invalid_dpop_proof"},
		{"with a proof for another method", "DPoP " + tok, []string{key.proof(t, "POST", url, dpop.ProofOptions{AccessToken: tok})}, "invalid_dpop_proof"},
		{"with a proof for another token", "DPoP " + tok, []string{key.proof(t, "GET", url, dpop.ProofOptions{AccessToken: tok + "x"})}, "invalid_dpop_proof"},
		{"with a stale proof", "DPoP " + tok, []string{key.proof(t, "GET", url, dpop.ProofOptions{AccessToken: tok, IssuedAt: time.Now().Add(-5 * time.Minute)})}, "invalid_dpop_proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, h := svc.call("/orders", tt.auth, tt.proofs...)
			if status != 401 || errorOf(body) != tt.code {
				t.Fatalf("got %d %s, want 401 %s", status, body, tt.code)
			}
			if !strings.Contains(strings.Join(h.Values("WWW-Authenticate"), "\n"), `DPoP realm=`) {
				t.Fatalf("no DPoP challenge: %v", h.Values("WWW-Authenticate"))
			}
		})
	}
}

// TestDPoPGuardNonce: a guard that requires its own nonce (RFC 9449 §9).
func TestDPoPGuardNonce(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.dpopClient(nil)
	svc := newGuarded(t, ts, func(c *guard.Config) { c.DPoP.Nonce = true })
	key := newDPoPKey(t)
	tok := ts.tokenWithProofs(ccForm, id, secret, key.proof(t, "POST", ts.URL+"/oauth2/token", dpop.ProofOptions{})).str("access_token")
	status, body, h := svc.call("/", "DPoP "+tok, key.proof(t, "GET", svc.URL+"/", dpop.ProofOptions{AccessToken: tok}))
	if status != 401 || errorOf(body) != "use_dpop_nonce" || h.Get("DPoP-Nonce") == "" {
		t.Fatalf("without the nonce: %d %s", status, body)
	}
	if status, body, _ := svc.call("/", "DPoP "+tok, key.proof(t, "GET", svc.URL+"/", dpop.ProofOptions{AccessToken: tok, Nonce: h.Get("DPoP-Nonce")})); status != 200 {
		t.Fatalf("with the nonce: %d %s", status, body)
	}
}

// TestDPoPRefreshStaysBound: a refresh of a DPoP-bound family needs a
// proof of the same key and yields DPoP tokens of that key; refused
// attempts do not use the refresh token up.
func TestDPoPRefreshStaysBound(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.newUser("rita", "trader")
	id, secret := ts.dpopClient(map[string]any{"grant_types": []string{"password", "refresh_token"}})
	key, other := newDPoPKey(t), newDPoPKey(t)
	htu := ts.URL + "/oauth2/token"
	// The token is asked for Permiso's own API too, which accepts only
	// tokens naming it (the client's own audience is the trading service's).
	r := ts.tokenWithProofs(url.Values{"grant_type": {"password"}, "username": {"rita"}, "password": {userPassword},
		"resource": {serviceAudience, ts.URL}}, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{}))
	if r.Status != 200 || r.str("token_type") != "DPoP" || r.str("refresh_token") == "" {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}
	if r := ts.tokenWithProofs(refresh, id, secret); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("refresh without a proof: %d %s", r.Status, r.Body)
	}
	if r := ts.tokenWithProofs(refresh, id, secret, other.proof(t, "POST", htu, dpop.ProofOptions{})); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("refresh with another key: %d %s", r.Status, r.Body)
	}
	r = ts.tokenWithProofs(refresh, id, secret, key.proof(t, "POST", htu, dpop.ProofOptions{}))
	if r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("refresh with the key: %d %s", r.Status, r.Body)
	}
	if cnf, _ := jwtClaims(t, r.str("access_token"))["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("refreshed token bound to %v", cnf)
	}
	// The new refresh token is bound too.
	next := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}
	if r := ts.tokenWithProofs(next, id, secret); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("second refresh without a proof: %d %s", r.Status, r.Body)
	}
	in := ts.form("/oauth2/introspect", url.Values{"token": {r.str("refresh_token")}}, ts.AdminID, ts.Secret)
	if cnf, _ := in.JSON["cnf"].(map[string]any); cnf["jkt"] != key.Thumbprint() {
		t.Fatalf("introspection of the refresh token: %s", in.Body)
	}

	// Permiso's own API holds the token to its binding too.
	me := ts.jsonReq("GET", "/api/v1/users/me", r.str("access_token"), nil)
	if me.Status != 401 {
		t.Fatalf("/users/me with the DPoP token as bearer: %d %s", me.Status, me.Body)
	}
	h := http.Header{"Authorization": {"DPoP " + r.str("access_token")},
		"Dpop": {key.proof(t, "GET", ts.URL+"/api/v1/users/me", dpop.ProofOptions{AccessToken: r.str("access_token")})}}
	if me := ts.do("GET", "/api/v1/users/me", h, nil); me.Status != 200 || me.str("username") != "rita" {
		t.Fatalf("/users/me with its proof: %d %s", me.Status, me.Body)
	}
}

// TestDPoPBindsUnboundFamily: a refresh with a proof binds a family that
// was not bound; it can never go back.
func TestDPoPBindsUnboundFamily(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.newUser("sam", "trader")
	id, secret := ts.dpopClient(map[string]any{"grant_types": []string{"password", "refresh_token"}})
	key := newDPoPKey(t)
	htu := ts.URL + "/oauth2/token"
	r := ts.tokenWithProofs(url.Values{"grant_type": {"password"}, "username": {"sam"}, "password": {userPassword}}, id, secret)
	if r.Status != 200 || r.str("token_type") != "Bearer" {
		t.Fatalf("password grant: %d %s", r.Status, r.Body)
	}
	r = ts.tokenWithProofs(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, id, secret,
		key.proof(t, "POST", htu, dpop.ProofOptions{}))
	if r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("refresh with a proof: %d %s", r.Status, r.Body)
	}
	if r := ts.tokenWithProofs(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}, id, secret); r.Status != 400 {
		t.Fatalf("refresh of the now bound family without a proof: %d %s", r.Status, r.Body)
	}
}

// TestDPoPJKTAuthorizationCode: dpop_jkt binds the code (RFC 9449 §10),
// and a public client's refresh tokens are bound to its key (§5).
func TestDPoPJKTAuthorizationCode(t *testing.T) {
	ts := newTestServer(t, nil)
	cb := httptest.NewServer(http.NotFoundHandler())
	defer cb.Close()
	redirect := cb.URL + "/cb"
	clientID := ts.publicClient(redirect, "trade:read")
	ts.newUser("dana", "trader")
	key, other := newDPoPKey(t), newDPoPKey(t)
	htu := ts.URL + "/oauth2/token"
	conf := ts.oauthConfig(clientID, redirect, "trade:read")
	code := func() (string, string) {
		verifier := oauth2.GenerateVerifier()
		u := conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("dpop_jkt", key.Thumbprint()))
		q := redirectQuery(t, newBrowser(t).signIn(ts.URL, u, "dana", userPassword))
		return q.Get("code"), verifier
	}
	exchange := func(c, verifier string, proofs ...string) *response {
		return ts.tokenWithProofs(url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect},
			"client_id": {clientID}, "code_verifier": {verifier}}, "", "", proofs...)
	}
	c, v := code()
	if r := exchange(c, v, other.proof(t, "POST", htu, dpop.ProofOptions{})); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("code with a proof of another key: %d %s", r.Status, r.Body)
	}
	c, v = code()
	if r := exchange(c, v); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("code without a proof: %d %s", r.Status, r.Body)
	}
	c, v = code()
	r := exchange(c, v, key.proof(t, "POST", htu, dpop.ProofOptions{}))
	if r.Status != 200 || r.str("token_type") != "DPoP" || r.str("refresh_token") == "" {
		t.Fatalf("code with its key: %d %s", r.Status, r.Body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}, "client_id": {clientID}}
	if r := ts.tokenWithProofs(refresh, "", ""); r.Status != 400 || r.str("error") != "invalid_dpop_proof" {
		t.Fatalf("public client's refresh without its key: %d %s", r.Status, r.Body)
	}
	if r := ts.tokenWithProofs(refresh, "", "", key.proof(t, "POST", htu, dpop.ProofOptions{})); r.Status != 200 || r.str("token_type") != "DPoP" {
		t.Fatalf("public client's refresh with its key: %d %s", r.Status, r.Body)
	}
	// A malformed dpop_jkt is reported to the client.
	bad := conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("dpop_jkt", "nope"))
	if q := redirectQuery(t, newBrowser(t).get(bad)); q.Get("error") != "invalid_request" {
		t.Fatalf("bad dpop_jkt: %v", q)
	}
}

// TestBenchDPoPScenario runs `permiso bench`'s dpop scenario against a real
// server: every request gets a DPoP token, and the run is compared with the
// reference handler.
func TestBenchDPoPScenario(t *testing.T) {
	ts := newTestServer(t, nil)
	rep, err := bench.Run(context.Background(), bench.Config{Target: ts.URL, AdminClientID: ts.AdminID, AdminClientSecret: ts.Secret,
		Scenarios: []string{bench.ScenarioDPoP}, Connections: 2, Warmup: 50 * time.Millisecond, Duration: 400 * time.Millisecond,
		Rounds: 2, Reference: true, ReferenceMode: bench.ReferenceInProcess})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Scenarios[0]
	if s.Status != bench.StatusOK || s.Permiso == nil || s.Permiso.OK == 0 || s.Permiso.ErrorCount != 0 {
		t.Fatalf("dpop scenario: %+v %+v", s, s.Permiso)
	}
	if s.Reference == nil || s.Ratio == nil || *s.Ratio <= 0 {
		t.Fatalf("no ratio to the reference: %+v", s)
	}
}
