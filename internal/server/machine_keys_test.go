package server_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestPrivateKeyJWT drives private_key_jwt through the real endpoints:
// the token endpoint, introspection, revocation and the original
// /api/v1/auth/service-token, with every refusal the issue names.
func TestPrivateKeyJWT(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	key := jwttest.NewKey(t, "ES256", "bot-2026")
	r := ts.jsonReq("POST", "/api/v1/service-clients", ts.adminToken(), map[string]any{
		"name": "Keyed bot", "client_id": "keyed-bot", "token_endpoint_auth_method": "private_key_jwt",
		"jwks": jwksOf(key), "scope_ids": []string{"trade:read"}})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r.JSON["client_secret"] != nil {
		t.Fatalf("a keyed client got a secret: %s", r.Body)
	}
	iss := ts.URL
	sign := func(mutate func(c, h map[string]any)) string { return assertion(t, key, "keyed-bot", iss, mutate) }

	t.Run("token, introspection, revocation and service-token", func(t *testing.T) {
		r := ts.assertionToken(wire.AssertionTypeJWTBearer, sign(nil))
		if r.Status != 200 || r.str("access_token") == "" {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		tok := r.str("access_token")
		in := ts.withAssertion("/oauth2/introspect", wire.AssertionTypeJWTBearer, sign(nil), url.Values{"token": {tok}})
		if in.Status != 200 || in.JSON["active"] != true || in.JSON["client_id"] != "keyed-bot" {
			t.Fatalf("introspect: %d %s", in.Status, in.Body)
		}
		rv := ts.withAssertion("/oauth2/revoke", wire.AssertionTypeJWTBearer, sign(nil), url.Values{"token": {tok}})
		if rv.Status != 200 {
			t.Fatalf("revoke: %d %s", rv.Status, rv.Body)
		}
		st := ts.withAssertion("/api/v1/auth/service-token", wire.AssertionTypeJWTBearer, sign(nil), nil)
		if st.Status != 200 || st.str("access_token") == "" {
			t.Fatalf("service-token: %d %s", st.Status, st.Body)
		}
		// client_id may accompany the assertion when it names the same client.
		ok := ts.withAssertion("/oauth2/token", wire.AssertionTypeJWTBearer, sign(nil),
			url.Values{"grant_type": {"client_credentials"}, "client_id": {"keyed-bot"}})
		if ok.Status != 200 {
			t.Fatalf("with client_id: %d %s", ok.Status, ok.Body)
		}
	})

	t.Run("audience", func(t *testing.T) {
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { c["aud"] = iss + "/oauth2/token" })); r.Status != 200 {
			t.Fatalf("token endpoint URL as aud: %d %s", r.Status, r.Body)
		}
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { c["aud"] = []string{iss} })); r.Status != 200 {
			t.Fatalf("issuer as a one-element array: %d %s", r.Status, r.Body)
		}
		typed := sign(func(c, h map[string]any) { h["typ"] = wire.ClientAssertionJWTType })
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, typed); r.Status != 200 {
			t.Fatalf("explicitly typed: %d %s", r.Status, r.Body)
		}
		for name, mutate := range map[string]func(c, h map[string]any){
			"wrong aud":        func(c, h map[string]any) { c["aud"] = "https://elsewhere.example.com" },
			"no aud":           func(c, h map[string]any) { c["aud"] = nil },
			"two audiences":    func(c, h map[string]any) { c["aud"] = []string{iss, "https://other.example.com"} },
			"typed, token URL": func(c, h map[string]any) { c["aud"], h["typ"] = iss+"/oauth2/token", wire.ClientAssertionJWTType },
		} {
			wantInvalidClient(t, name, ts.assertionToken(wire.AssertionTypeJWTBearer, sign(mutate)), "aud must be "+iss)
		}
	})

	t.Run("lifetime and single use", func(t *testing.T) {
		now := time.Now()
		wantInvalidClient(t, "expired", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) {
			c["iat"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
		})), "expired")
		wantInvalidClient(t, "exp an hour ahead", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) {
			c["exp"] = now.Add(time.Hour).Unix()
		})), "at most 5m0s ahead")
		wantInvalidClient(t, "no exp", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { c["exp"] = nil })), "exp")
		wantInvalidClient(t, "no jti", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { c["jti"] = nil })), "jti")
		a := sign(nil)
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, a); r.Status != 200 {
			t.Fatalf("first use: %d %s", r.Status, r.Body)
		}
		wantInvalidClient(t, "replayed", ts.assertionToken(wire.AssertionTypeJWTBearer, a), "used before")
		ts.wantAuditReason(t, "assertion_replayed")
	})

	t.Run("keys and algorithms", func(t *testing.T) {
		other := jwttest.NewKey(t, "ES256", "bot-2026") // same kid, another key
		wantInvalidClient(t, "signed by another key", ts.assertionToken(wire.AssertionTypeJWTBearer,
			assertion(t, other, "keyed-bot", iss, nil)), "")
		ts.wantAuditReason(t, "assertion_signature")
		unknown := jwttest.NewKey(t, "ES256", "not-registered")
		wantInvalidClient(t, "unknown kid", ts.assertionToken(wire.AssertionTypeJWTBearer,
			assertion(t, unknown, "keyed-bot", iss, nil)), "")
		ts.wantAuditReason(t, "unknown_key")
		claims := map[string]any{"iss": "keyed-bot", "sub": "keyed-bot", "aud": iss, "jti": randomID(), "exp": time.Now().Add(time.Minute).Unix()}
		wantInvalidClient(t, "alg none", ts.assertionToken(wire.AssertionTypeJWTBearer, jwttest.Unsigned(t, claims)), "alg")
		pub := jwttest.JWKS(key) // the public key's bytes as an HMAC secret
		wantInvalidClient(t, "HS256", ts.assertionToken(wire.AssertionTypeJWTBearer, jwttest.HS256(t, pub, "bot-2026", claims)), "alg")
		wantInvalidClient(t, "not a JWT", ts.assertionToken(wire.AssertionTypeJWTBearer, "not-a-jwt"), "not a signed JWT")
		wantInvalidClient(t, "iss is not sub", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { c["iss"] = "someone" })), "iss and sub")
		wantInvalidClient(t, "unknown client", ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, key, "nobody", iss, nil)), "")
		wantInvalidClient(t, "wrong typ", ts.assertionToken(wire.AssertionTypeJWTBearer, sign(func(c, h map[string]any) { h["typ"] = "at+jwt" })), "typ")
		r := ts.withAssertion("/oauth2/token", "urn:example:unknown", sign(nil), url.Values{"grant_type": {"client_credentials"}})
		wantInvalidClient(t, "unknown assertion type", r, "client_assertion_type must be")
		m := ts.withAssertion("/oauth2/token", wire.AssertionTypeJWTBearer, sign(nil),
			url.Values{"grant_type": {"client_credentials"}, "client_id": {"another"}})
		wantInvalidClient(t, "client_id mismatch", m, "client_id does not match")
	})

	t.Run("a keyed client never uses a secret", func(t *testing.T) {
		id, secret := ts.createClient(map[string]any{"name": "Switcher", "client_id": "switcher"})
		ts.token(id, secret, nil) // works while it is a secret client
		admin := ts.adminToken()
		if r := ts.jsonReq("PUT", "/api/v1/service-clients/switcher", admin, map[string]any{
			"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)}); r.Status != 200 {
			t.Fatalf("switch to private_key_jwt: %d %s", r.Status, r.Body)
		}
		wantInvalidClient(t, "secret of a keyed client", ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret), "")
		ts.wantAuditReason(t, "method_mismatch")
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, key, "switcher", iss, nil)); r.Status != 200 {
			t.Fatalf("assertion after the switch: %d %s", r.Status, r.Body)
		}
		if r := ts.jsonReq("POST", "/api/v1/service-clients/switcher/rotate-secret", admin, nil); r.Status != 400 {
			t.Fatalf("rotate-secret of a keyed client: %d %s", r.Status, r.Body)
		}
		// Switching back does not revive the old secret.
		if r := ts.jsonReq("PUT", "/api/v1/service-clients/switcher", admin, map[string]any{
			"token_endpoint_auth_method": "client_secret_basic", "jwks": nil}); r.Status != 200 {
			t.Fatalf("switch back: %d %s", r.Status, r.Body)
		}
		wantInvalidClient(t, "old secret after switching back", ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret), "")
	})

	t.Run("registration rules", func(t *testing.T) {
		admin := ts.adminToken()
		for name, body := range map[string]map[string]any{
			"no keys":          {"name": "K", "token_endpoint_auth_method": "private_key_jwt"},
			"jwks and uri":     {"name": "K", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key), "jwks_uri": "https://keys.example.com/jwks"},
			"secret for keyed": {"name": "K", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key), "client_secret": "0123456789abcdef0123456789"},
			"private key":      {"name": "K", "token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "d": "AA"}}}},
			"symmetric key":    {"name": "K", "token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{map[string]any{"kty": "oct", "k": "c2VjcmV0"}}}},
			"http jwks_uri":    {"name": "K", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://keys.example.com/jwks"},
			"unknown method":   {"name": "K", "token_endpoint_auth_method": "client_secret_jwt"},
		} {
			if r := ts.jsonReq("POST", "/api/v1/service-clients", admin, body); r.Status != 422 {
				t.Errorf("%s: %d %s, want 422", name, r.Status, r.Body)
			}
		}
	})
}

// TestPrivateKeyJWTWithJWKSURI: keys published at a jwks_uri are fetched,
// and a rotated key is found by its new kid.
func TestPrivateKeyJWTWithJWKSURI(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) {
		allowLoopback(c)
		c.KeyRefetchInterval = 100 * time.Millisecond
	})
	k1, k2 := jwttest.NewKey(t, "EdDSA", "k1"), jwttest.NewKey(t, "RS256", "k2")
	var mu sync.Mutex
	published := jwttest.JWKS(k1)
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(published)
	}))
	defer keys.Close()
	r := ts.jsonReq("POST", "/api/v1/service-clients", ts.adminToken(), map[string]any{
		"name": "Published keys", "client_id": "published", "token_endpoint_auth_method": "private_key_jwt",
		"jwks_uri": keys.URL + "/jwks.json"})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, k1, "published", ts.URL, nil)); r.Status != 200 {
		t.Fatalf("k1: %d %s", r.Status, r.Body)
	}
	mu.Lock()
	published = jwttest.JWKS(k1, k2)
	mu.Unlock()
	// The cached set lacks k2; an unknown kid refetches once the refetch
	// interval allows, so poll until the rotation is seen.
	waitUntil(t, 10*time.Second, "rotated key k2 accepted", func() bool {
		return ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, k2, "published", ts.URL, nil)).Status == 200
	})
}

// TestPrivateKeyJWTReplayAcrossReplicas: on PostgreSQL an assertion used
// at one replica is refused at the other, and of the same assertion sent
// to both at once exactly one is accepted.
func TestPrivateKeyJWTReplayAcrossReplicas(t *testing.T) {
	a, b, _ := haPair(t)
	key := jwttest.NewKey(t, "PS256", "ha")
	r := a.jsonReq("POST", "/api/v1/service-clients", a.adminToken(), map[string]any{
		"name": "Replicated keys", "client_id": "ha-keyed", "token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)})
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	iss := a.URL // the replicas share A's issuer
	one := assertion(t, key, "ha-keyed", iss, nil)
	if r := a.assertionToken(wire.AssertionTypeJWTBearer, one); r.Status != 200 {
		t.Fatalf("A, first use: %d %s", r.Status, r.Body)
	}
	wantInvalidClient(t, "B, the same assertion", b.assertionToken(wire.AssertionTypeJWTBearer, one), "used before")
	two := assertion(t, key, "ha-keyed", iss, nil)
	if r := b.assertionToken(wire.AssertionTypeJWTBearer, two); r.Status != 200 {
		t.Fatalf("B, first use: %d %s", r.Status, r.Body)
	}
	wantInvalidClient(t, "A, B's assertion", a.assertionToken(wire.AssertionTypeJWTBearer, two), "used before")

	for round := range 5 {
		same := assertion(t, key, "ha-keyed", iss, nil)
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i, ts := range []*testServer{a, b, a, b} {
			wg.Go(func() { statuses[i] = ts.assertionToken(wire.AssertionTypeJWTBearer, same).Status })
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == 200 {
				ok++
			} else if s != 401 {
				t.Fatalf("round %d: status %d", round, s)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 4 concurrent uses accepted (%v), want 1", round, ok, statuses)
		}
	}
}

// TestPrivateKeyJWTInternalJWKSURI: a jwks_uri is judged by the address
// Permiso actually dials: a name that resolves to loopback is refused, and
// so is a redirect from an allowed address to one that is not, before any
// request reaches it. The caller reads only that authentication failed;
// the audit event says why.
func TestPrivateKeyJWTInternalJWKSURI(t *testing.T) {
	key := jwttest.NewKey(t, "ES256", "k1")
	var internalFetches atomic.Int32
	internal := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalFetches.Add(1)
		w.Write(jwttest.JWKS(key))
	}))
	ln, err := net.Listen("tcp", "127.0.0.2:0") // stands for an internal address
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	internal.Listener = ln
	internal.Start()
	defer internal.Close()
	var redirects atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, internal.URL+"/jwks.json", http.StatusFound)
	}))
	defer redirector.Close()

	for _, tc := range []struct {
		name, jwksURI string
		allow         []netip.Prefix
		redirected    bool // the allowed first address was asked
	}{
		// The name passes registration; its address is checked at dial time.
		{"a name resolving to loopback", "https://localhost:" + strconv.Itoa(redirector.Listener.Addr().(*net.TCPAddr).Port) + "/jwks.json", nil, false},
		{"a redirect to an address not allowed", redirector.URL + "/jwks.json", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) { c.OutboundAllow = tc.allow })
			ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Internal keys", "client_id": "internal-keys",
				"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": tc.jwksURI}, 201)
			wantInvalidClient(t, tc.name, ts.assertionToken(wire.AssertionTypeJWTBearer, assertion(t, key, "internal-keys", ts.URL, nil)), "")
			e := ts.wantAuditReason(t, "keys_unavailable")
			if d, _ := e["details"].(map[string]any); !strings.Contains(fmt.Sprint(d["keys_error"]), "internal") {
				t.Fatalf("audit details %v do not say the address was internal", d)
			}
			if got := redirects.Swap(0) > 0; got != tc.redirected {
				t.Fatalf("the allowed address was asked: %v, want %v", got, tc.redirected)
			}
		})
	}
	if n := internalFetches.Load(); n != 0 {
		t.Fatalf("the internal address was fetched %d times", n)
	}
}

// TestPrivateKeyJWTKeyFetchBounds: a jwks_uri is cached for its
// Cache-Control max-age within [1 minute, 24 hours], and assertions with
// invented kids cause at most one refetch a minute, so they cannot make
// Permiso hammer the client's server.
func TestPrivateKeyJWTKeyFetchBounds(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	k1 := jwttest.NewKey(t, "ES256", "k1")
	var mu sync.Mutex
	var fetches int
	cacheControl := "max-age=0"
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		w.Header().Set("Cache-Control", cacheControl)
		w.Write(jwttest.JWKS(k1))
	}))
	defer keys.Close()
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Fetched keys", "client_id": "fetched",
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": keys.URL + "/jwks.json"}, 201)
	// Assertions on the server's clock, which the test moves.
	sign := func(k *jwttest.Key) string {
		return assertion(t, k, "fetched", ts.URL, func(c, h map[string]any) {
			now := ts.Clock.Now()
			c["iat"], c["exp"] = now.Unix(), now.Add(time.Minute).Unix()
		})
	}
	wantFetches := func(what string, want int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if fetches != want {
			t.Fatalf("%s: %d fetches, want %d", what, fetches, want)
		}
	}
	ok := func(what string) {
		t.Helper()
		if r := ts.assertionToken(wire.AssertionTypeJWTBearer, sign(k1)); r.Status != 200 {
			t.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
	}
	invented := func(n int) {
		t.Helper()
		for i := range n {
			wantInvalidClient(t, "invented kid", ts.assertionToken(wire.AssertionTypeJWTBearer,
				sign(jwttest.NewKey(t, "ES256", "invented-"+strconv.Itoa(i)))), "")
		}
	}

	ok("first use")
	wantFetches("first use", 1)
	invented(10)
	wantFetches("invented kids right after a fetch", 1)
	ok("max-age=0 is held for the minimum of a minute")
	wantFetches("within the minimum", 1)

	ts.Clock.Advance(61 * time.Second)
	ok("after the minimum")
	wantFetches("after the minimum", 2)
	ts.Clock.Advance(61 * time.Second)
	invented(10)
	wantFetches("invented kids a minute later: one refetch", 3)

	mu.Lock()
	cacheControl = "max-age=31536000" // a year, held for at most a day
	mu.Unlock()
	ts.Clock.Advance(2 * time.Minute)
	ok("after a max-age=0 set expired")
	wantFetches("a year's max-age fetched", 4)
	ts.Clock.Advance(23 * time.Hour)
	ok("within a day")
	wantFetches("within a day", 4)
	ts.Clock.Advance(2 * time.Hour)
	ok("after a day")
	wantFetches("after a day", 5)
}
