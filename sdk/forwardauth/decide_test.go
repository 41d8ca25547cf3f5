package forwardauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/certtest"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const mt5 = "https://mt5.example.com"

type fixture struct {
	iss *testissuer.Issuer
	svc *Service
	srv *httptest.Server
	now atomic.Pointer[time.Time]
}

// newFixture starts an issuer, a Service with testRules (or the rules file
// at path) and an HTTP server for its endpoints, and waits until it is
// ready.
func newFixture(t testing.TB, rulesFile string, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{iss: testissuer.New()}
	t.Cleanup(f.iss.Close)
	cfg := Config{
		Guard:     guard.Config{Issuer: f.iss.URL, RevocationPoll: time.Second, Now: f.clock},
		RulesFile: rulesFile,
	}
	if rulesFile == "" {
		cfg.Table = mustParse(t, testRules)
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(svc.Close)
	f.svc = svc
	mux := http.NewServeMux()
	svc.Mount(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	eventually(t, "service ready", svc.Ready)
	return f
}

func (f *fixture) clock() time.Time {
	if p := f.now.Load(); p != nil {
		return *p
	}
	return time.Now()
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forward asks the decision about a request as a proxy would.
func (f *fixture) forward(t testing.TB, method, host, uri, token string, extra ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+PathForwardAuth, nil)
	req.Header.Set("X-Forwarded-Method", method)
	req.Header.Set("X-Forwarded-Proto", "https")
	if host != "" {
		req.Header.Set("X-Forwarded-Host", host)
	}
	req.Header.Set("X-Forwarded-Uri", uri)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Add(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (f *fixture) token(aud string, edit func(*wire.Claims), scopes ...string) string {
	c := f.iss.Claims("trading-bot", aud, scopes...)
	if edit != nil {
		edit(&c)
	}
	return f.iss.Mint(c)
}

func TestDecisions(t *testing.T) {
	f := newFixture(t, "", nil)
	read := f.token(mt5, nil, "trade:read")
	admin := f.token(mt5, nil, "admin:system", "read:system")
	adminTrusted := f.token(mt5, func(c *wire.Claims) { yes := true; c.IsTrusted = &yes }, "admin:system")
	closer := f.token(mt5, nil, "admin:trades")
	other := f.token("https://other.example.com", nil, "trade:read")
	user := f.token(mt5, func(c *wire.Claims) {
		c.Subject, c.Type, c.Username = "0b9c2a6e-8d3f-4e1a-9a57-1c2d3e4f5a6b", "access", "alice"
	}, "trade:read")
	delegated := f.token(mt5, func(c *wire.Claims) { c.Act = &wire.Actor{Subject: "dashboard"} }, "trade:read")
	bound := f.token(mt5, func(c *wire.Claims) { c.Cnf = &wire.Confirmation{JKT: "abc"} }, "trade:read")

	for _, tc := range []struct {
		name              string
		method, host, uri string
		token             string
		status            int
		code, challenge   string
		identity          map[string]string
		extra             []string
	}{
		{name: "public without token", method: "GET", uri: "/health", status: 200, identity: map[string]string{}},
		{name: "public ignores a spoofed token", method: "GET", uri: "/health", token: "garbage", status: 200, identity: map[string]string{}},
		{name: "allowed", method: "GET", uri: "/api/v1/trades?limit=5", token: read, status: 200,
			identity: map[string]string{"X-User": "trading-bot", "X-Client-Id": "trading-bot", "X-Scopes": "trade:read",
				"X-Token-Kind": "service", "X-Actor": ""}},
		{name: "user token", method: "GET", uri: "/api/v1/trades", token: user, status: 200,
			identity: map[string]string{"X-User": "0b9c2a6e-8d3f-4e1a-9a57-1c2d3e4f5a6b", "X-Token-Kind": "user"}},
		{name: "delegated token names its actor", method: "GET", uri: "/api/v1/trades", token: delegated, status: 200,
			identity: map[string]string{"X-Actor": "dashboard", "X-Token-Kind": "delegated"}},
		{name: "implied scope", method: "GET", uri: "/api/v1/trades", token: admin, status: 403, code: "insufficient_scope"},
		{name: "no token", method: "GET", uri: "/api/v1/trades", status: 401, code: "unauthorized",
			challenge: `Bearer realm="https://mt5.example.com"`},
		{name: "garbage token", method: "GET", uri: "/api/v1/trades", token: "not.a.jwt", status: 401, code: "invalid_token",
			challenge: `Bearer realm="https://mt5.example.com", error="invalid_token"`},
		{name: "wrong audience", method: "GET", uri: "/api/v1/trades", token: other, status: 401, code: "invalid_token"},
		{name: "missing scope", method: "POST", uri: "/api/v1/trades", token: read, status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://mt5.example.com", error="insufficient_scope", scope="trade:open"`},
		{name: "any of", method: "DELETE", uri: "/api/v1/trades/7", token: closer, status: 200},
		{name: "any of missing", method: "DELETE", uri: "/api/v1/trades/7", token: read, status: 403, code: "insufficient_scope",
			challenge: `Bearer realm="https://mt5.example.com", error="insufficient_scope", scope="trade:close admin:trades"`},
		{name: "trusted required", method: "GET", uri: "/api/v1/admin/stats", token: admin, status: 403, code: "forbidden"},
		{name: "trusted", method: "GET", uri: "/api/v1/admin/stats", token: adminTrusted, status: 200},
		{name: "no rule", method: "GET", uri: "/api/v1/unknown", token: read, status: 403, code: "access_denied"},
		{name: "method without rule", method: "PUT", uri: "/api/v1/trades", token: read, status: 403, code: "access_denied"},
		{name: "query cannot reach another rule", method: "GET", uri: "/health?/api/v1/admin/stats", status: 200},
		{name: "dot segments refused", method: "GET", uri: "/health/../api/v1/admin/stats", status: 403, code: "invalid_request"},
		{name: "encoded dot segments refused", method: "GET", uri: "/health/%2e%2e/api/v1/admin/stats", status: 403, code: "invalid_request"},
		{name: "encoded slash refused", method: "GET", uri: "/api/v1/trades/1%2F..%2F..%2Fadmin", token: closer, status: 403, code: "invalid_request"},
		{name: "double slash refused", method: "GET", uri: "//health", status: 403, code: "invalid_request"},
		{name: "encoded letters match", method: "GET", uri: "/%68ealth", status: 200},
		{name: "host rule", method: "GET", host: "reports.example.com", uri: "/x", token: read, status: 401, code: "invalid_token"},
		{name: "forwarded host list refused", method: "GET", host: "reports.example.com, api.example.com", uri: "/health", status: 403, code: "invalid_request"},
		{name: "bound token without a binding checker", method: "GET", uri: "/api/v1/trades", token: bound, status: 401, code: "invalid_token"},
		{name: "two forwarded URIs", method: "GET", uri: "/health", extra: []string{"X-Forwarded-Uri", "/api/v1/admin/stats"}, status: 403, code: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.forward(t, tc.method, tc.host, tc.uri, tc.token, tc.extra...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s: %s)", resp.StatusCode, tc.status, resp.Header.Get(HeaderError), resp.Header.Get(HeaderErrorDescription))
			}
			if got := resp.Header.Get(HeaderError); got != tc.code {
				t.Errorf("%s = %q, want %q", HeaderError, got, tc.code)
			}
			if tc.challenge != "" && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tc.challenge+", DPoP realm=") {
				t.Errorf("WWW-Authenticate = %q, want %q", resp.Header.Get("WWW-Authenticate"), tc.challenge)
			}
			for k, v := range tc.identity {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.identity != nil && len(tc.identity) == 0 {
				for _, h := range f.svc.Table().Headers().Names() {
					if v := resp.Header.Get(h); v != "" {
						t.Errorf("public request got identity header %s: %q", h, v)
					}
				}
			}
			if resp.StatusCode != 200 {
				for _, h := range f.svc.Table().Headers().Names() {
					if v := resp.Header.Get(h); v != "" {
						t.Errorf("refused request got identity header %s: %q", h, v)
					}
				}
			}
		})
	}
}

func TestInsufficientScopeBody(t *testing.T) {
	f := newFixture(t, "", nil)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+PathForwardAuth, nil)
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Uri", "/api/v1/trades")
	req.Header.Set("Authorization", "Bearer "+f.token(mt5, nil, "trade:read"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body refusal
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 403 || body.Error != "insufficient_scope" || strings.Join(body.MissingScopes, ",") != "trade:open" ||
		!strings.Contains(body.Description, "trade:open") {
		t.Fatalf("got %d %+v", resp.StatusCode, body)
	}
}

func TestExpiryFollowsTheInjectedClock(t *testing.T) {
	f := newFixture(t, "", nil)
	tok := f.token(mt5, nil, "trade:read")
	if resp := f.forward(t, "GET", "", "/api/v1/trades", tok); resp.StatusCode != 200 {
		t.Fatalf("fresh token: %d", resp.StatusCode)
	}
	later := time.Now().Add(2 * time.Hour)
	f.now.Store(&later)
	// The token is in the verified cache, which must expire it too.
	if resp := f.forward(t, "GET", "", "/api/v1/trades", tok); resp.StatusCode != 401 {
		t.Fatalf("expired token: %d, want 401", resp.StatusCode)
	}
}

func TestRevokedTokenRefusedWithinAPoll(t *testing.T) {
	f := newFixture(t, "", nil)
	c := f.iss.Claims("trading-bot", mt5, "trade:read")
	tok := f.iss.Mint(c)
	if resp := f.forward(t, "GET", "", "/api/v1/trades", tok); resp.StatusCode != 200 {
		t.Fatalf("before revocation: %d", resp.StatusCode)
	}
	f.iss.Revoke(c.ID, c.Expiry)
	eventually(t, "revoked token refused", func() bool {
		return f.forward(t, "GET", "", "/api/v1/trades", tok).StatusCode == 401
	})
}

// TestBinding: forward-auth enforces what a guard does for bound tokens
// (RFC 9449 §7, RFC 8705 §3) from what the proxy forwards: the client's
// DPoP header, scheme, host and URI, and its certificate in a header set by
// a trusted proxy.
func TestBinding(t *testing.T) {
	ca := certtest.NewCA(t, "clients")
	mine, theirs := ca.Issue(t, "bot"), ca.Issue(t, "thief")
	f := newFixture(t, "", func(c *Config) {
		c.Guard.ClientCertificate = clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	})
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := dpop.NewSigner(k)
	bound := f.token(mt5, func(c *wire.Claims) { c.Cnf = &wire.Confirmation{JKT: key.Thumbprint()} }, "trade:read")
	certBound := f.token(mt5, func(c *wire.Claims) {
		c.Cnf = &wire.Confirmation{X5TS256: clientcert.Thumbprint(mine.Cert)}
	}, "trade:read")
	proof := func(method, uri, tok string) string {
		p, err := key.Proof(method, uri, dpop.ProofOptions{AccessToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ask := func(auth string, extra ...string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+PathForwardAuth, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "api.example.com")
		req.Header.Set("X-Forwarded-Uri", "/api/v1/trades?page=2")
		req.Header.Set("Authorization", auth)
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Add(extra[i], extra[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp, resp.Header.Get(HeaderError)
	}
	const htu = "https://api.example.com/api/v1/trades"
	tests := []struct {
		name   string
		auth   string
		extra  []string
		status int
		code   string
	}{
		{"DPoP token with its proof", "DPoP " + bound, []string{"DPoP", proof("GET", htu, bound)}, 200, ""},
		{"X-Forwarded-Port names the port", "DPoP " + bound, []string{"X-Forwarded-Port", "8443",
			"DPoP", proof("GET", "https://api.example.com:8443/api/v1/trades", bound)}, 200, ""},
		{"X-Forwarded-Port 443 is the default", "DPoP " + bound, []string{"X-Forwarded-Port", "443",
			"DPoP", proof("GET", htu, bound)}, 200, ""},
		{"proof without the forwarded port", "DPoP " + bound, []string{"X-Forwarded-Port", "8443",
			"DPoP", proof("GET", htu, bound)}, 401, "invalid_dpop_proof"},
		{"DPoP token as bearer", "Bearer " + bound, nil, 401, "invalid_token"},
		{"DPoP token without proof", "DPoP " + bound, nil, 401, "invalid_dpop_proof"},
		{"proof for another URL", "DPoP " + bound, []string{"DPoP", proof("GET", "https://api.example.com/api/v1/orders", bound)}, 401, "invalid_dpop_proof"},
		{"proof for another method", "DPoP " + bound, []string{"DPoP", proof("POST", htu, bound)}, 401, "invalid_dpop_proof"},
		{"certificate-bound token with its certificate", "Bearer " + certBound, []string{"X-Client-Cert", mine.Escaped()}, 200, ""},
		{"certificate-bound token with another", "Bearer " + certBound, []string{"X-Client-Cert", theirs.Escaped()}, 401, "invalid_token"},
		{"certificate-bound token without one", "Bearer " + certBound, nil, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, code := ask(tt.auth, tt.extra...)
			if resp.StatusCode != tt.status || code != tt.code {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, code, tt.status, tt.code)
			}
			if tt.code == "invalid_dpop_proof" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `DPoP realm="https://mt5.example.com", error="invalid_dpop_proof", algs="`) {
				t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestEnvoyHTTPMode(t *testing.T) {
	f := newFixture(t, "", nil)
	do := func(method, host, path, token string) *http.Response {
		req, _ := http.NewRequest(method, f.srv.URL+PathEnvoy+path, nil)
		req.Host = host
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	tok := f.token(mt5, nil, "trade:read")
	if r := do("GET", "api.example.com", "/api/v1/trades?x=1", tok); r.StatusCode != 200 || r.Header.Get("X-User") != "trading-bot" {
		t.Fatalf("allowed: %d %v", r.StatusCode, r.Header)
	}
	if r := do("POST", "api.example.com", "/api/v1/trades", tok); r.StatusCode != 403 {
		t.Fatalf("POST: %d", r.StatusCode)
	}
	if r := do("GET", "reports.example.com", "/health", ""); r.StatusCode != 401 {
		t.Fatalf("host rule: %d", r.StatusCode)
	}
	if r := do("GET", "api.example.com", "/health", ""); r.StatusCode != 200 {
		t.Fatalf("public: %d", r.StatusCode)
	}
}

func TestRulesReloadOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	write := func(src string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("rules:\n  - path: /a\n    public: true\n")
	f := newFixture(t, path, func(c *Config) { c.ReloadInterval = 10 * time.Millisecond })

	// Requests keep flowing during the reloads: none may fail.
	stop := make(chan struct{})
	failures := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r := f.forward(t, "GET", "", "/a", ""); r.StatusCode != 200 {
				select {
				case failures <- r.Status:
				default:
				}
			}
		}
	}()
	defer func() { close(stop); <-done }()

	if r := f.forward(t, "GET", "", "/b", ""); r.StatusCode != 403 {
		t.Fatalf("/b before reload: %d", r.StatusCode)
	}
	write("rules:\n  - path: /a\n    public: true\n  - path: /b\n    public: true\n")
	eventually(t, "/b allowed after reload", func() bool { return f.forward(t, "GET", "", "/b", "").StatusCode == 200 })

	// An invalid file keeps the rules in force and says why.
	write("rules:\n  - path: /a\n    public: true\n  - path: c\n")
	eventually(t, "reload error reported", func() bool { return f.svc.ReloadError() != nil })
	if err := f.svc.ReloadError(); !strings.Contains(err.Error(), `path "c" must start with /`) {
		t.Fatalf("ReloadError = %v", err)
	}
	if r := f.forward(t, "GET", "", "/b", ""); r.StatusCode != 200 {
		t.Fatalf("/b after an invalid file: %d", r.StatusCode)
	}
	write("rules:\n  - path: /a\n    public: true\n")
	eventually(t, "/b refused after reload", func() bool { return f.forward(t, "GET", "", "/b", "").StatusCode == 403 })
	if err := f.svc.ReloadError(); err != nil {
		t.Fatalf("ReloadError after a valid file = %v", err)
	}
	select {
	case s := <-failures:
		t.Fatalf("a request failed during reloads: %s", s)
	default:
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - path: x\n  - path: /y\n"), 0o600)
	for name, cfg := range map[string]Config{
		"no rules":     {Guard: guard.Config{Issuer: "https://i"}},
		"missing file": {Guard: guard.Config{Issuer: "https://i"}, RulesFile: filepath.Join(dir, "none.yaml")},
		"invalid file": {Guard: guard.Config{Issuer: "https://i"}, RulesFile: bad},
		"audience set": {Guard: guard.Config{Issuer: "https://i", Audience: "a"}, Table: mustParse(t, testRules)},
		"no issuer":    {Table: mustParse(t, testRules)},
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := New(context.Background(), cfg); err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}
