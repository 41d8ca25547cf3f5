package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// testServer is a real Permiso on a loopback port with its own data dir.
type testServer struct {
	URL     string
	Addr    string // the listener, which URL names unless the issuer is another URL
	DataDir string
	AdminID string
	Secret  string
	// Clock is the server's clock: real time plus what the test advanced.
	Clock *testClock
	t     *testing.T
	// client, when set, sends the requests (an HTTPS client, say).
	client *http.Client
}

// testClock follows real time, shifted by what Advance added: a server on
// it behaves as on time.Now until a test moves it forward, and then a token
// expires or a lockout ends at once, without sleeping.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newTestServer starts a server; mutate adjusts its Config first.
func newTestServer(t *testing.T, mutate func(*server.Config)) *testServer {
	t.Helper()
	addr := freeAddr(t)
	cfg := server.Config{
		DataDir: filepath.Join(t.TempDir(), "data"), Addr: addr, Issuer: "http://" + addr,
		Environment: "test", Version: "test", SigningAlg: "ES256",
		KeyPublishDelay: 10 * time.Minute, KeyRetention: 25 * time.Hour,
		// Argon2id under -race on a loaded machine can outlast seconds: a
		// write timeout would close the connection (EOF), not test anything.
		// net/http's Shutdown waits up to 5 s for a connection that was
		// opened but has sent no request yet (a client's spare dial): a 5 s
		// shutdown timeout raced it.
		ShutdownTimeout: 15 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute,
		IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10, SecretGrace: 24 * time.Hour, CacheTTL: 30 * time.Second,
	}
	clock := &testClock{}
	cfg.Now = clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(a string) { ready <- a }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server stopped: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server.Run: %v", err)
		}
	})
	ts := &testServer{URL: cfg.Issuer, Addr: cfg.Addr, DataDir: cfg.DataDir, Clock: clock, t: t}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, server.BootstrapFile))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ ClientID, ClientSecret string }
	if err := json.Unmarshal(b, &struct {
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
	}{&creds.ClientID, &creds.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	ts.AdminID, ts.Secret = creds.ClientID, creds.ClientSecret
	return ts
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (r *response) str(key string) string {
	s, _ := r.JSON[key].(string)
	return s
}

func (ts *testServer) do(method, path string, header http.Header, body io.Reader) *response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, body)
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	c := ts.client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &response{Status: res.StatusCode, Header: res.Header, Body: b}
	json.Unmarshal(b, &out.JSON)
	return out
}

// form posts url-encoded values, with Basic auth when id is not empty.
func (ts *testServer) form(path string, v url.Values, id, secret string) *response {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if id != "" {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	return ts.do("POST", path, h, strings.NewReader(v.Encode()))
}

// jsonReq sends a JSON body with a bearer token.
func (ts *testServer) jsonReq(method, path, token string, body any) *response {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	return ts.do(method, path, h, r)
}

// token gets a client_credentials token or fails the test.
func (ts *testServer) token(id, secret string, extra url.Values) string {
	ts.t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}}
	for k, vv := range extra {
		v[k] = vv
	}
	r := ts.form("/oauth2/token", v, id, secret)
	if r.Status != 200 {
		ts.t.Fatalf("token for %s: %d %s", id, r.Status, r.Body)
	}
	return r.str("access_token")
}

func (ts *testServer) adminToken() string { return ts.token(ts.AdminID, ts.Secret, nil) }

// createClient creates a client through the admin API and returns its id and secret.
func (ts *testServer) createClient(body map[string]any) (string, string) {
	ts.t.Helper()
	r := ts.jsonReq("POST", "/api/v1/service-clients", ts.adminToken(), body)
	if r.Status != 201 {
		ts.t.Fatalf("create client: %d %s", r.Status, r.Body)
	}
	c, _ := r.JSON["client"].(map[string]any)
	id, _ := c["client_id"].(string)
	return id, r.str("client_secret")
}

type serverConfig = *server.Config

// parseHeader returns the kid of a JWT's header.
func parseHeader(tok string) (string, error) {
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", err
	}
	var v struct {
		Kid string `json:"kid"`
	}
	err = json.Unmarshal(b, &v)
	return v.Kid, err
}
