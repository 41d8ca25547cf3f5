// Package e2etest starts real processes for end-to-end tests that cross
// program boundaries (gateways, the FastAPI example): the permiso binary,
// proxies and upstreams on loopback ports, and a small admin client for the
// running server. It is imported only by tests.
package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/dpop"
)

// Require returns the path of a command the test needs. In CI a missing
// command fails the test; elsewhere it skips it.
func Require(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (%s; scripts/install-deps.sh installs it)", name, install)
	}
	t.Skipf("%s not installed (%s)", name, install)
	return ""
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// PermisoBinary returns the permiso binary: $PERMISO_BIN, or one built
// once per test process.
func PermisoBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PERMISO_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "permiso-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "permiso")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/permiso")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/permiso: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreeAddr returns a loopback address with a port free at the time of the
// call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Proc is a started process whose output is kept for failure messages.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start starts bin with args (env added to the test's environment) and
// stops it when the test ends.
func Start(t testing.TB, name string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out)
		}
	})
	return p
}

// Output returns what the process wrote so far.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitHTTP polls url until it answers want, failing the test after a
// deadline or when p exits first.
func WaitHTTP(t testing.TB, url string, want int, p *Proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			t.Fatalf("%s exited:\n%s", p.Name, p.Output())
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	name, out := "", ""
	if p != nil {
		name, out = p.Name, p.Output()
	}
	t.Fatalf("%s: %s did not answer %d within 60s:\n%s", name, url, want, out)
}

// Eventually polls cond until it holds, failing after a deadline.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Permiso is a running `permiso serve` with its bootstrap admin client.
type Permiso struct {
	URL         string
	Proc        *Proc
	adminID     string
	adminSecret string
	// adminToken, when set, is the administrator's token (a tenant's
	// first administrator, signed in); otherwise the bootstrap client's.
	adminToken string
}

// StartPermiso starts `permiso serve` on a loopback port with a fresh
// SQLite data directory.
func StartPermiso(t testing.TB, args ...string) *Permiso {
	t.Helper()
	bin := PermisoBinary(t)
	addr := FreeAddr(t)
	data := filepath.Join(t.TempDir(), "data")
	p := &Permiso{URL: "http://" + addr}
	p.Proc = Start(t, "permiso", nil, bin, append([]string{"serve", "--data-dir", data, "--addr", addr,
		"--log-level", "warn"}, args...)...)
	WaitHTTP(t, p.URL+"/healthz", http.StatusOK, p.Proc)
	b, err := os.ReadFile(filepath.Join(data, "bootstrap-admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var admin struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &admin); err != nil {
		t.Fatal(err)
	}
	p.adminID, p.adminSecret = admin.ClientID, admin.ClientSecret
	return p
}

// Token gets a client-credentials token for audience ("" for the client's
// default) and scopes, failing the test on an error.
func (p *Permiso) Token(t testing.TB, id, secret, audience string, scopes ...string) string {
	t.Helper()
	return p.token(t, nil, id, secret, audience, scopes)
}

// DPoPToken is Token for a token bound to signer's key (RFC 9449): the
// request carries a DPoP proof, again with the server's nonce if it asks.
func (p *Permiso) DPoPToken(t testing.TB, signer *dpop.Signer, id, secret, audience string, scopes ...string) string {
	t.Helper()
	return p.token(t, signer, id, secret, audience, scopes)
}

func (p *Permiso) token(t testing.TB, signer *dpop.Signer, id, secret, audience string, scopes []string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if audience != "" {
		form.Set("audience", audience)
	}
	var (
		status int
		body   []byte
		nonce  string
	)
	for range 2 {
		h := http.Header{}
		if signer != nil {
			proof, err := signer.Proof(http.MethodPost, p.URL+"/oauth2/token", dpop.ProofOptions{Nonce: nonce})
			if err != nil {
				t.Fatal(err)
			}
			h.Set(dpop.HeaderProof, proof)
		}
		var resp http.Header
		status, body, resp = p.post(t, "/oauth2/token", id, secret, form, h)
		if nonce = resp.Get("DPoP-Nonce"); status != http.StatusBadRequest || nonce == "" {
			break
		}
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" ||
		(signer != nil) != strings.EqualFold(tr.TokenType, dpop.Scheme) {
		t.Fatalf("token for %s (aud %q, scopes %v): HTTP %d %s", id, audience, scopes, status, body)
	}
	return tr.AccessToken
}

// Revoke revokes token (RFC 7009) as the client that holds it.
func (p *Permiso) Revoke(t testing.TB, id, secret, token string) {
	t.Helper()
	if status, body, _ := p.post(t, "/oauth2/revoke", id, secret, url.Values{"token": {token}}, nil); status != http.StatusOK {
		t.Fatalf("revoke: HTTP %d %s", status, body)
	}
}

func (p *Permiso) post(t testing.TB, path, id, secret string, form url.Values, h http.Header) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+path, strings.NewReader(form.Encode()))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, resp.Header
}

// admin calls the /api/v1 admin API as the bootstrap client.
func (p *Permiso) admin(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	tok := p.adminToken
	if tok == "" {
		tok = p.Token(t, p.adminID, p.adminSecret, "")
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, p.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, rb
}

// Scopes creates scopes by name (existing ones are kept).
func (p *Permiso) Scopes(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		action, resource, _ := strings.Cut(n, ":")
		status, body := p.admin(t, http.MethodPost, "/api/v1/roles/scopes",
			map[string]string{"name": n, "description": n, "resource": resource, "action": action})
		if status != http.StatusCreated && status != http.StatusOK && status != http.StatusConflict {
			t.Fatalf("create scope %s: HTTP %d %s", n, status, body)
		}
	}
}

// Client registers a confidential service client allowed scopes and
// audiences (the first is its default) and returns its secret.
func (p *Permiso) Client(t testing.TB, id string, trusted bool, audiences []string, scopes ...string) string {
	t.Helper()
	p.Scopes(t, scopes...)
	status, body := p.admin(t, http.MethodPost, "/api/v1/service-clients", map[string]any{
		"name": id, "client_id": id, "client_type": "confidential", "scope_ids": scopes,
		"audiences": audiences, "is_trusted": trusted,
	})
	var resp struct {
		ClientSecret string `json:"client_secret"`
	}
	if (status != http.StatusCreated && status != http.StatusOK) || json.Unmarshal(body, &resp) != nil || resp.ClientSecret == "" {
		t.Fatalf("create client %s: HTTP %d %s", id, status, body)
	}
	return resp.ClientSecret
}

// OperatorToken is a token of the bootstrap client with admin:tenants, for
// the operators' tenant API.
func (p *Permiso) OperatorToken(t testing.TB) string {
	t.Helper()
	return p.Token(t, p.adminID, p.adminSecret, "", "admin:tenants")
}

// Tenant creates the tenant name, hands it to a first administrator who
// sets a password and signs in, and returns the tenant as a Permiso whose
// URL is the tenant's issuer and whose Scopes and Client act as that
// administrator.
func (p *Permiso) Tenant(t testing.TB, name string) *Permiso {
	t.Helper()
	if status, body := p.admin(t, http.MethodPost, "/api/v1/tenants", map[string]string{"name": name}); status != http.StatusCreated {
		t.Fatalf("create tenant %s: HTTP %d %s", name, status, body)
	}
	status, body := p.admin(t, http.MethodPost, "/api/v1/tenants/"+name+"/administrators",
		map[string]string{"username": "admin", "email": "admin@" + name + ".example"})
	var setup struct {
		SetupToken string `json:"setup_token"`
	}
	if status != http.StatusCreated || json.Unmarshal(body, &setup) != nil || setup.SetupToken == "" {
		t.Fatalf("first administrator of %s: HTTP %d %s", name, status, body)
	}
	tn := &Permiso{URL: p.URL + "/t/" + name, Proc: p.Proc}
	const password = "Quiet!Harbor-73"
	confirm, _ := json.Marshal(map[string]string{"token": setup.SetupToken, "new_password": password})
	resp, err := http.Post(tn.URL+"/api/v1/users/password-reset/confirm", "application/json", bytes.NewReader(confirm))
	if err != nil {
		t.Fatalf("administrator of %s sets a password: %v", name, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("administrator of %s sets a password: HTTP %d %s", name, resp.StatusCode, b)
	}
	resp, err = http.PostForm(tn.URL+"/api/v1/auth/token", url.Values{"username": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatalf("administrator of %s signs in: %v", name, err)
	}
	defer resp.Body.Close()
	var login struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&login); err != nil || login.AccessToken == "" {
		t.Fatalf("administrator of %s signs in: HTTP %d", name, resp.StatusCode)
	}
	tn.adminToken = login.AccessToken
	return tn
}
