// Package gateways holds no code: its tests run the shipped proxy
// configurations (real nginx and Caddy) in front of a real upstream, with
// `permiso gateway` deciding against a real `permiso serve`.
package gateways

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/e2etest"
	"github.com/permiso-auth/permiso/sdk/dpop"
)

const (
	mt5   = "https://mt5.example.com"
	other = "https://other.example.com"
)

// identityHeaders are the names rules.yaml sets and the proxies strip.
var identityHeaders = []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scopes", "X-Auth-Token-Kind",
	"X-Auth-Actor", "X-Auth-Username", "X-Auth-Token-Id"}

// upstream is the protected service: it has no auth code and answers with
// what it received.
type upstream struct {
	srv  *httptest.Server
	hits atomic.Int64
}

type seen struct {
	Method string              `json:"method"`
	URI    string              `json:"uri"`
	Header map[string][]string `json:"header"`
}

// anonymous reports whether the upstream received no identity: each
// identity header absent (nginx drops empty ones) or present once and
// empty (Caddy and Traefik copy the decision's empty values).
func (s *seen) anonymous() bool {
	for _, v := range s.Header {
		if len(v) > 1 || len(v) == 1 && v[0] != "" {
			return false
		}
	}
	return true
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		s := seen{Method: r.Method, URI: r.RequestURI, Header: map[string][]string{}}
		for _, h := range identityHeaders {
			if v, ok := r.Header[h]; ok {
				s.Header[h] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// stack is Permiso, `permiso gateway` and the upstream, shared by the
// proxies under test.
type stack struct {
	permiso   *e2etest.Permiso
	gateway   string // host:port
	upstream  *upstream
	botSecret string
}

func newStack(t *testing.T, gatewayArgs ...string) *stack {
	s := &stack{permiso: e2etest.StartPermiso(t), upstream: newUpstream(t)}
	s.botSecret = s.permiso.Client(t, "trading-bot", false, []string{mt5, other},
		"trade:read", "trade:open", "market:data", "account:read")
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	b, err := os.ReadFile("rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s.gateway = e2etest.FreeAddr(t)
	gw := e2etest.Start(t, "permiso gateway", nil, e2etest.PermisoBinary(t), append([]string{"gateway", "--addr", s.gateway,
		"--issuer", s.permiso.URL, "--rules", rules, "--revocation-poll", "1s", "--log-level", "debug"}, gatewayArgs...)...)
	e2etest.WaitHTTP(t, "http://"+s.gateway+"/readyz", http.StatusOK, gw)
	return s
}

// localize points a shipped configuration at the test's addresses: each
// pair is a string the file must contain and its replacement.
func localize(t *testing.T, file string, pairs ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(conf, pairs[i]) {
			t.Fatalf("%s no longer contains %q; update the test", file, pairs[i])
		}
	}
	return strings.NewReplacer(pairs...).Replace(conf)
}

func (s *stack) upstreamAddr() string { return strings.TrimPrefix(s.upstream.srv.URL, "http://") }

func startNginx(t *testing.T, s *stack) string {
	bin := e2etest.Require(t, "nginx", "apt-get install nginx-light")
	dir := t.TempDir()
	// nginx's workers run as nobody when started as root.
	os.Chmod(dir, 0o755)
	for _, d := range []string{"tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"} {
		os.Mkdir(filepath.Join(dir, d), 0o777)
		os.Chmod(filepath.Join(dir, d), 0o777)
	}
	listen := e2etest.FreeAddr(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(localize(t, "nginx/nginx.conf", "127.0.0.1:9181", s.gateway,
		"127.0.0.1:8080", s.upstreamAddr(), "127.0.0.1:8000", listen)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := e2etest.Start(t, "nginx", nil, bin, "-p", dir, "-c", conf, "-e", "stderr", "-g", "daemon off;")
	e2etest.WaitHTTP(t, "http://"+listen+"/health", http.StatusOK, p)
	return listen
}

func startCaddy(t *testing.T, s *stack) string {
	bin := e2etest.Require(t, "caddy", "apt-get install caddy")
	dir := t.TempDir()
	listen := e2etest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(listen)
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(localize(t, "caddy/Caddyfile", "127.0.0.1:9181", s.gateway,
		"127.0.0.1:8080", s.upstreamAddr(), "http://:8000", "http://:"+port)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir}
	p := e2etest.Start(t, "caddy", env, bin, "run", "--config", conf, "--adapter", "caddyfile")
	e2etest.WaitHTTP(t, "http://"+listen+"/health", http.StatusOK, p)
	return listen
}

func TestGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Permiso, permiso gateway, nginx and Caddy")
	}
	s := newStack(t)
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, *stack) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			checkProxy(t, s, proxy.start(t, s))
		})
	}
	t.Run("traefik", func(t *testing.T) { checkTraefik(t, s) })
}

// response is what a client got through the proxy.
type response struct {
	status int
	header http.Header
	body   []byte
	seen   *seen // what the upstream received, when it was reached
}

// send writes a raw HTTP/1.1 request to the proxy, so the request-target
// reaches it byte for byte (Go's client would clean some paths).
func send(t *testing.T, addr, method, target string, header ...string) response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n", method, target)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	if method == "POST" {
		b.WriteString("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	} else {
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, body: body}
	var sn seen
	if json.Unmarshal(body, &sn) == nil && sn.Method != "" {
		r.seen = &sn
	}
	return r
}

func checkProxy(t *testing.T, s *stack, proxy string) {
	tokRead := s.permiso.Token(t, "trading-bot", s.botSecret, mt5, "trade:read")
	tokOther := s.permiso.Token(t, "trading-bot", s.botSecret, other, "trade:read")
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	spoof := []string{"X-Auth-Subject", "admin", "X-Auth-Scopes", "admin:system", "X-Auth-Token-Kind", "user",
		"X-Forwarded-Uri", "/health", "X-Forwarded-Method", "GET", "X-Forwarded-Host", "reports.example.com"}

	t.Run("public, no token, no identity", func(t *testing.T) {
		r := send(t, proxy, "GET", "/health")
		if r.status != 200 || r.seen == nil || !r.seen.anonymous() {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("spoofed identity on a public route never reaches the upstream", func(t *testing.T) {
		r := send(t, proxy, "GET", "/health", spoof...)
		if r.status != 200 || r.seen == nil || !r.seen.anonymous() {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("allowed, with the decision's identity", func(t *testing.T) {
		r := send(t, proxy, "GET", "/api/v1/trades?limit=5", bearer(tokRead)...)
		if r.status != 200 || r.seen == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		want := map[string]string{"X-Auth-Subject": "trading-bot", "X-Auth-Client-Id": "trading-bot",
			"X-Auth-Scopes": "trade:read", "X-Auth-Token-Kind": "service"}
		for h, v := range want {
			if got := r.seen.Header[h]; len(got) != 1 || got[0] != v {
				t.Errorf("upstream saw %s = %q, want %q", h, got, v)
			}
		}
		if got := r.seen.Header["X-Auth-Token-Id"]; len(got) != 1 || got[0] == "" {
			t.Errorf("upstream saw X-Auth-Token-Id = %q", got)
		}
		if r.seen.URI != "/api/v1/trades?limit=5" {
			t.Errorf("upstream saw %q", r.seen.URI)
		}
	})
	t.Run("spoofed identity and forwarded headers are replaced", func(t *testing.T) {
		// The spoofed X-Forwarded-* would describe a public request; the
		// proxy must describe the real one.
		r := send(t, proxy, "GET", "/api/v1/admin/stats", append(spoof, bearer(tokRead)...)...)
		if r.status != 403 || r.seen != nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		r = send(t, proxy, "GET", "/api/v1/trades", append(spoof, bearer(tokRead)...)...)
		if r.status != 200 || r.seen == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		if got := r.seen.Header["X-Auth-Subject"]; len(got) != 1 || got[0] != "trading-bot" {
			t.Errorf("upstream saw X-Auth-Subject %q", got)
		}
		if got := r.seen.Header["X-Auth-Scopes"]; len(got) != 1 || got[0] != "trade:read" {
			t.Errorf("upstream saw X-Auth-Scopes %q", got)
		}
		if got := r.seen.Header["X-Auth-Token-Kind"]; len(got) != 1 || got[0] != "service" {
			t.Errorf("upstream saw X-Auth-Token-Kind %q", got)
		}
		if got := r.seen.Header["X-Auth-Actor"]; len(got) > 1 || len(got) == 1 && got[0] != "" {
			t.Errorf("upstream saw X-Auth-Actor %q", got)
		}
	})
	t.Run("no token is 401 with a challenge", func(t *testing.T) {
		r := send(t, proxy, "GET", "/api/v1/trades")
		if r.status != 401 || r.seen != nil || len(r.header.Values("WWW-Authenticate")) != 1 ||
			!strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="https://mt5.example.com"`) {
			t.Fatalf("got %d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("missing scope is 403 insufficient_scope naming it", func(t *testing.T) {
		r := send(t, proxy, "POST", "/api/v1/trades", bearer(tokRead)...)
		var body struct{ Error, ErrorDescription string }
		json.Unmarshal(r.body, &struct {
			Error *string `json:"error"`
			Desc  *string `json:"error_description"`
		}{&body.Error, &body.ErrorDescription})
		ch := r.header.Get("WWW-Authenticate")
		if r.status != 403 || r.seen != nil || body.Error != "insufficient_scope" || !strings.Contains(body.ErrorDescription, "trade:open") ||
			!strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="trade:open"`) {
			t.Fatalf("got %d %q %s", r.status, ch, r.body)
		}
	})
	t.Run("wrong audience is 401 invalid_token", func(t *testing.T) {
		r := send(t, proxy, "GET", "/api/v1/trades", bearer(tokOther)...)
		if r.status != 401 || r.seen != nil || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("got %d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("no rule is 403", func(t *testing.T) {
		r := send(t, proxy, "GET", "/internal/metrics", bearer(tokRead)...)
		if r.status != 403 || r.seen != nil || !strings.Contains(string(r.body), "access_denied") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("paths the upstream could read otherwise never reach it", func(t *testing.T) {
		for _, target := range []string{
			"/health/../api/v1/admin/stats",
			"/health/%2e%2e/api/v1/admin/stats",
			"/health/%2E%2E/api/v1/admin/stats",
			"/health/..%2Fapi/v1/admin/stats",
			"/api/v1/trades/1%2F..%2F..%2Fadmin%2Fstats",
			"//api/v1/admin/stats",
			"/health/./../api/v1/admin/stats",
			`/health/..\api/v1/admin/stats`,
		} {
			before := s.upstream.hits.Load()
			r := send(t, proxy, "GET", target)
			if (r.status != 400 && r.status != 403) || s.upstream.hits.Load() != before {
				t.Errorf("%s: got %d, upstream hits %d -> %d: %s", target, r.status, before, s.upstream.hits.Load(), r.body)
			}
		}
	})
	t.Run("the query string cannot pick a rule", func(t *testing.T) {
		r := send(t, proxy, "GET", "/health?next=/api/v1/admin/stats&x=/../")
		if r.status != 200 || r.seen == nil || !strings.HasPrefix(r.seen.URI, "/health?") || !r.seen.anonymous() {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		r = send(t, proxy, "GET", "/api/v1/admin/stats?/health")
		if r.status != 401 || r.seen != nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("percent-encoded letters match after decoding", func(t *testing.T) {
		r := send(t, proxy, "GET", "/%68ealth")
		if r.status != 200 || r.seen == nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		r = send(t, proxy, "GET", "/api/v1/%61dmin/stats", bearer(tokRead)...)
		if r.status != 403 || r.seen != nil {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("DPoP-bound token with its proof for the URL the client called", func(t *testing.T) {
		checkDPoP(t, s, proxy)
	})
	t.Run("revoked token is refused within the feed's delay", func(t *testing.T) {
		tok := s.permiso.Token(t, "trading-bot", s.botSecret, mt5, "trade:read")
		if r := send(t, proxy, "GET", "/api/v1/trades", bearer(tok)...); r.status != 200 {
			t.Fatalf("before revocation: %d %s", r.status, r.body)
		}
		s.permiso.Revoke(t, "trading-bot", s.botSecret, tok)
		e2etest.Eventually(t, "the revoked token refused", 20*time.Second, func() bool {
			return send(t, proxy, "GET", "/api/v1/trades", bearer(tok)...).status == 401
		})
	})
}

// TestGatewayDPoPNonce: with a gateway that requires its nonce in DPoP
// proofs, the proxy hands the client the nonce the refusal names, and a
// proof carrying it passes.
func TestGatewayDPoPNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Permiso, permiso gateway, nginx and Caddy")
	}
	s := newStack(t, "--dpop-nonce")
	signer := newDPoPSigner(t)
	tok := s.permiso.DPoPToken(t, signer, "trading-bot", s.botSecret, mt5, "trade:read")
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, *stack) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			addr := proxy.start(t, s)
			call := func(nonce string) response {
				p, err := signer.Proof("GET", "http://api.example.com/api/v1/trades", dpop.ProofOptions{AccessToken: tok, Nonce: nonce})
				if err != nil {
					t.Fatal(err)
				}
				return send(t, addr, "GET", "/api/v1/trades", "Authorization", "DPoP "+tok, "DPoP", p)
			}
			r := call("")
			nonce := r.header.Get("DPoP-Nonce")
			if r.status != 401 || r.seen != nil || nonce == "" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
				t.Fatalf("without a nonce: %d %v %s", r.status, r.header, r.body)
			}
			r = call(nonce)
			if r.status != 200 || r.seen == nil {
				t.Fatalf("with the nonce: %d %v %s", r.status, r.header, r.body)
			}
			// nginx also passes on the fresh nonce of an allowed request;
			// Caddy's forward_auth copies the decision's headers onto the
			// upstream request only, so its clients learn a new nonce from
			// the next refusal.
			if proxy.name == "nginx" && r.header.Get("DPoP-Nonce") == "" {
				t.Errorf("allowed, without the fresh nonce: %v", r.header)
			}
			if r := call("not-the-nonce"); r.status != 401 || r.header.Get("DPoP-Nonce") == "" {
				t.Fatalf("with another nonce: %d %v %s", r.status, r.header, r.body)
			}
		})
	}
}

func newDPoPSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := dpop.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// checkDPoP sends a DPoP-bound token through the proxy, as a client that
// addressed it as http://api.example.com (send's Host) does: the proof
// names that URL, and the decision must rebuild it from what the proxy
// forwards.
func checkDPoP(t *testing.T, s *stack, proxy string) {
	signer := newDPoPSigner(t)
	tok := s.permiso.DPoPToken(t, signer, "trading-bot", s.botSecret, mt5, "trade:read")
	proof := func(method, uri string) string {
		p, err := signer.Proof(method, uri, dpop.ProofOptions{AccessToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const htu = "http://api.example.com/api/v1/trades"
	r := send(t, proxy, "GET", "/api/v1/trades?limit=5", "Authorization", "DPoP "+tok, "DPoP", proof("GET", htu))
	if r.status != 200 || r.seen == nil {
		t.Fatalf("with its proof: %d %v %s", r.status, r.header, r.body)
	}
	if got := r.seen.Header["X-Auth-Subject"]; len(got) != 1 || got[0] != "trading-bot" {
		t.Errorf("upstream saw X-Auth-Subject %q", got)
	}
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"presented as a bearer token", []string{"Authorization", "Bearer " + tok}},
		{"without a proof", []string{"Authorization", "DPoP " + tok}},
		{"a proof for another URL", []string{"Authorization", "DPoP " + tok, "DPoP", proof("GET", "http://api.example.com/api/v1/positions")}},
		{"a proof for another method", []string{"Authorization", "DPoP " + tok, "DPoP", proof("POST", htu)}},
		{"a proof for another port", []string{"Authorization", "DPoP " + tok, "DPoP", proof("GET", "http://api.example.com:8443/api/v1/trades")}},
	} {
		if r := send(t, proxy, "GET", "/api/v1/trades", tc.header...); r.status != 401 || r.seen != nil ||
			!strings.Contains(r.header.Get("WWW-Authenticate"), "DPoP") {
			t.Errorf("%s: got %d %v %s", tc.name, r.status, r.header, r.body)
		}
	}
}

// TestGatewayFeedCredentials runs the gateway against a Permiso whose
// revocation feed requires client authentication: without credentials it
// says why it is not ready; with them it follows the feed and refuses a
// revoked token.
func TestGatewayFeedCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Permiso and two gateways")
	}
	p := e2etest.StartPermiso(t, "--revocation-feed-auth")
	botSecret := p.Client(t, "trading-bot", false, []string{mt5}, "trade:read")
	gwSecret := p.Client(t, "edge-gateway", false, []string{other}, "trade:read")

	without := e2etest.FreeAddr(t)
	gw := e2etest.Start(t, "permiso gateway", nil, e2etest.PermisoBinary(t), "gateway", "--addr", without,
		"--issuer", p.URL, "--rules", "rules.yaml", "--revocation-poll", "1s")
	e2etest.Eventually(t, "the gateway without credentials to explain its readiness", 60*time.Second, func() bool {
		resp, err := http.Get("http://" + without + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("ready without the feed's credentials: %s", gw.Output())
		}
		return strings.Contains(string(b), "requires client authentication")
	})

	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(gwSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	with := e2etest.FreeAddr(t)
	gw2 := e2etest.Start(t, "permiso gateway", []string{"PERMISO_GATEWAY_CLIENT_ID=edge-gateway"}, e2etest.PermisoBinary(t),
		"gateway", "--addr", with, "--issuer", p.URL, "--rules", "rules.yaml", "--revocation-poll", "1s",
		"--client-secret-file", secretFile)
	e2etest.WaitHTTP(t, "http://"+with+"/readyz", http.StatusOK, gw2)
	if strings.Contains(gw2.Output(), gwSecret) {
		t.Fatal("the gateway logged its secret")
	}

	tok := p.Token(t, "trading-bot", botSecret, mt5, "trade:read")
	decide := func() int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+with+"/forward-auth", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Host", "api.example.com")
		req.Header.Set("X-Forwarded-Uri", "/api/v1/trades")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := decide(); got != http.StatusOK {
		t.Fatalf("a valid token: decision %d", got)
	}
	p.Revoke(t, "trading-bot", botSecret, tok)
	e2etest.Eventually(t, "the revoked token to be refused through the authenticated feed", 30*time.Second, func() bool {
		return decide() == http.StatusUnauthorized
	})
}
