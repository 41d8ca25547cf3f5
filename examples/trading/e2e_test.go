package trading_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// The end-to-end test builds Permiso (or uses $PERMISO_BIN) and the
// example's commands, starts
// them as real processes on loopback ports and drives them over HTTP.

const (
	audience     = "https://mt5-api.trading.local"
	riskAudience = "https://risk.trading.local"
)

// proc is a started process whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
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

func start(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.out)
		}
	})
	return p
}

// run runs a command to completion and returns its combined output.
func run(t *testing.T, env []string, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitOK(t *testing.T, url string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if p.cmd.ProcessState != nil {
			t.Fatalf("%s exited:\n%s", p.name, p.out)
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not healthy at %s after 60s:\n%s", p.name, url, p.out)
}

func build(t *testing.T, dir, out string, pkgs ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-o", out}, pkgs...)...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v in %s: %v\n%s", pkgs, dir, err, b)
	}
}

// call sends a request with a bearer token and returns status, headers and body.
func call(t *testing.T, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	return callWith(t, http.DefaultClient, method, url, func(r *http.Request) {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}, body)
}

// callDPoP sends a request with a DPoP-bound token and a fresh proof of
// key for it.
func callDPoP(t *testing.T, key *dpop.Signer, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	return callWith(t, http.DefaultClient, method, url, func(r *http.Request) {
		p, err := key.Proof(method, url, dpop.ProofOptions{AccessToken: token})
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", p)
	}, body)
}

// callWith sends a request through c, set up by prepare, and returns
// status, headers and body.
func callWith(t *testing.T, c *http.Client, method, url string, prepare func(*http.Request), body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(req)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and starts processes")
	}
	tmp := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	permisoBin := os.Getenv("PERMISO_BIN") // a prebuilt server, e.g. in CI
	if permisoBin == "" {
		permisoBin = filepath.Join(tmp, "permiso")
		build(t, root, permisoBin, "github.com/permiso-auth/permiso/cmd/permiso")
	}
	build(t, ".", tmp+string(filepath.Separator), "./cmd/mt5-api", "./cmd/trading-bot", "./cmd/setup", "./cmd/risk")

	permisoAddr, mt5Addr, riskAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	issuer, mt5, riskURL := "http://"+permisoAddr, "http://"+mt5Addr, "http://"+riskAddr
	dataDir := filepath.Join(tmp, "data")
	permiso := start(t, "permiso", nil, permisoBin, "serve", "--data-dir", dataDir, "--addr", permisoAddr)
	waitOK(t, issuer+"/healthz", permiso)

	bootstrap := filepath.Join(dataDir, "bootstrap-admin.json")
	secrets := filepath.Join(tmp, "secrets.json")
	botKey := filepath.Join(tmp, "trading-bot.key.pem")
	for i := range 2 { // the second run proves setup is idempotent (and keeps the bot's key)
		out, err := run(t, nil, filepath.Join(tmp, "setup"), "--permiso-url", issuer, "--bootstrap-file", bootstrap,
			"--mt5-audience", audience, "--risk-audience", riskAudience, "--secrets-out", secrets, "--bot-key-out", botKey)
		if err != nil {
			t.Fatalf("setup run %d: %v\n%s", i+1, err, out)
		}
		if !strings.Contains(out, "auth=private_key_jwt") {
			t.Fatalf("setup run %d did not register the bot with a key:\n%s", i+1, out)
		}
	}
	if fi, err := os.Stat(botKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("bot key file: %v %v", fi, err)
	}
	var sf struct {
		Clients map[string]struct {
			ClientSecret string `json:"client_secret"`
		} `json:"clients"`
	}
	if b, err := os.ReadFile(secrets); err != nil || json.Unmarshal(b, &sf) != nil {
		t.Fatalf("secrets file: %v", err)
	}
	if fi, err := os.Stat(secrets); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode: %v %v", fi.Mode(), err)
	}
	// The bot is secretless: setup registered its public key, and the
	// only secret it wrote is mt5-api-service's.
	if s := sf.Clients["trading-bot"].ClientSecret; s != "" {
		t.Fatalf("setup gave trading-bot a secret")
	}
	if sf.Clients["mt5-api-service"].ClientSecret == "" {
		t.Fatalf("no mt5-api-service secret in %s", secrets)
	}

	// mt5-api asks the risk service before every position, on the
	// caller's behalf, with its own credentials for the token exchange.
	mt5Secret := sf.Clients["mt5-api-service"].ClientSecret
	riskProc := start(t, "risk", nil, filepath.Join(tmp, "risk"), "--addr", riskAddr, "--issuer", issuer,
		"--audience", riskAudience, "--revocation-poll", "1s")
	waitOK(t, riskURL+"/health", riskProc)
	api := start(t, "mt5-api", []string{"MT5_API_CLIENT_ID=mt5-api-service", "MT5_API_CLIENT_SECRET=" + mt5Secret},
		filepath.Join(tmp, "mt5-api"), "--addr", mt5Addr, "--issuer", issuer, "--audience", audience,
		"--risk-url", riskURL, "--risk-audience", riskAudience, "--revocation-poll", "1s")
	waitOK(t, mt5+"/health", api)

	ctx := context.Background()
	// setup registers the bot with dpop_bound_access_tokens: its tokens are
	// bound to this key, and mt5-api accepts no other kind.
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bot := clientcredentials.Config{IssuerURL: issuer, ClientID: "trading-bot", PrivateKeyFile: botKey, Audience: audience, DPoPKey: dpopKey}
	signer, err := dpop.NewSigner(dpopKey)
	if err != nil {
		t.Fatal(err)
	}
	token := func(t *testing.T, cfg clientcredentials.Config, scopes ...string) string {
		t.Helper()
		cfg.Scopes = scopes
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("token for %s %v: %v", cfg.ClientID, scopes, err)
		}
		return tok.AccessToken
	}
	// client is an HTTP client whose requests carry the bot's DPoP tokens
	// with scopes, and a proof for each request.
	client := func(scopes ...string) *http.Client {
		cfg := bot
		cfg.Scopes = scopes
		src := cfg.TokenSource(ctx)
		t.Cleanup(src.Close)
		return &http.Client{Transport: src.Transport(nil)}
	}

	t.Run("bot trades", func(t *testing.T) {
		out, err := run(t, []string{"PERMISO_CLIENT_ID=trading-bot"},
			filepath.Join(tmp, "trading-bot"), "--issuer", issuer, "--mt5-url", mt5, "--audience", audience,
			"--private-key-file", botKey, "--iterations", "3", "--interval", "200ms", "--hold", "1")
		if err != nil {
			t.Fatalf("trading-bot: %v\n%s", err, out)
		}
		for _, want := range []string{"market data", "position opened", "position closed"} {
			if !strings.Contains(out, want) {
				t.Errorf("bot output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("allowed calls succeed", func(t *testing.T) {
		c := client("market:data", "trade:read", "trade:open", "trade:close", "account:read")
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/market/EURUSD"}, {"GET", "/api/v1/trades"}, {"GET", "/api/v1/account"},
		} {
			if st, _, b := callWith(t, c, r.method, mt5+r.path, nil, nil); st != http.StatusOK {
				t.Errorf("%s %s = %d %s", r.method, r.path, st, b)
			}
		}
		st, _, b := callWith(t, c, "POST", mt5+"/api/v1/trades", nil, map[string]any{"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
		var tr struct{ ID int64 }
		if st != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.ID == 0 {
			t.Fatalf("open trade = %d %s", st, b)
		}
		if st, _, b := callWith(t, c, "DELETE", fmt.Sprintf("%s/api/v1/trades/%d", mt5, tr.ID), nil, nil); st != http.StatusOK {
			t.Fatalf("close trade = %d %s", st, b)
		}
		if st, _, b := callWith(t, c, "POST", mt5+"/api/v1/trades", nil, map[string]any{"symbol": "EURUSD", "volume": 500, "trade_type": "buy"}); st != http.StatusBadRequest {
			t.Fatalf("invalid trade = %d %s", st, b)
		}
	})

	t.Run("a token copied off the wire is refused", func(t *testing.T) {
		// A tap on the bot's connection sees its token and proof.
		var stolenAuth, stolenProof string
		cfg := bot
		cfg.Scopes = []string{"market:data"}
		src := cfg.TokenSource(ctx)
		defer src.Close()
		tap := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			stolenAuth, stolenProof = r.Header.Get("Authorization"), r.Header.Get("DPoP")
			return http.DefaultTransport.RoundTrip(r)
		})
		if st, _, b := callWith(t, &http.Client{Transport: src.Transport(tap)}, "GET", mt5+"/api/v1/market/EURUSD", nil, nil); st != http.StatusOK {
			t.Fatalf("the bot's own call = %d %s", st, b)
		}
		tok, ok := strings.CutPrefix(stolenAuth, "DPoP ")
		if !ok || stolenProof == "" {
			t.Fatalf("the bot did not send a DPoP token: %q", stolenAuth)
		}
		thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		thiefSigner, _ := dpop.NewSigner(thief)
		url := mt5 + "/api/v1/market/EURUSD"
		for name, prepare := range map[string]func(*http.Request){
			"as a bearer token": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
			"with the thief's own key": func(r *http.Request) {
				p, _ := thiefSigner.Proof("GET", url, dpop.ProofOptions{AccessToken: tok})
				r.Header.Set("Authorization", "DPoP "+tok)
				r.Header.Set("DPoP", p)
			},
			"with the captured proof again": func(r *http.Request) {
				r.Header.Set("Authorization", "DPoP "+tok)
				r.Header.Set("DPoP", stolenProof)
			},
		} {
			if st, _, b := callWith(t, http.DefaultClient, "GET", url, prepare, nil); st != http.StatusUnauthorized {
				t.Errorf("stolen token %s = %d %s, want 401", name, st, b)
			}
		}
	})

	t.Run("bearer tokens are refused", func(t *testing.T) {
		// mt5-api requires bound tokens: the bot cannot even get a bearer
		// one (dpop_bound_access_tokens), and another client's is refused.
		plain := bot
		plain.DPoPKey = nil
		var we *wire.Error
		if _, err := plain.Token(ctx); !errors.As(err, &we) || we.Code != wire.ErrInvalidDPoPProof {
			t.Fatalf("bearer token for the bot: %v", err)
		}
	})

	t.Run("missing scope is 403", func(t *testing.T) {
		tok := token(t, bot, "market:data")
		st, h, b := callDPoP(t, signer, "POST", mt5+"/api/v1/trades", tok, map[string]any{"symbol": "EURUSD", "volume": 0.1, "trade_type": "buy"})
		var body struct {
			Error   string   `json:"error"`
			Missing []string `json:"missing_scopes"`
		}
		if st != http.StatusForbidden || json.Unmarshal(b, &body) != nil || body.Error != "insufficient_scope" ||
			len(body.Missing) != 1 || body.Missing[0] != "trade:open" {
			t.Fatalf("POST /api/v1/trades = %d %s", st, b)
		}
		// The challenge of the scheme the request used names the scope.
		if ch := strings.Join(h.Values("WWW-Authenticate"), "\n"); !strings.Contains(ch, `DPoP realm="https://mt5-api.trading.local", error="insufficient_scope", scope="trade:open"`) {
			t.Errorf("WWW-Authenticate = %q", ch)
		}
		if st, _, b := callDPoP(t, signer, "GET", mt5+"/api/v1/admin/stats", tok, nil); st != http.StatusForbidden {
			t.Fatalf("admin stats = %d %s", st, b)
		}
	})

	t.Run("token for another audience is 401", func(t *testing.T) {
		admin := readAdmin(t, bootstrap, issuer)
		tok := token(t, admin)
		st, h, _ := call(t, "GET", mt5+"/api/v1/market/EURUSD", tok, nil)
		if st != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("foreign-audience token = %d %q", st, h.Get("WWW-Authenticate"))
		}
	})

	t.Run("revoked token is refused within seconds", func(t *testing.T) {
		tok := token(t, bot, "market:data")
		if st, _, b := callDPoP(t, signer, "GET", mt5+"/api/v1/market/EURUSD", tok, nil); st != http.StatusOK {
			t.Fatalf("before revocation = %d %s", st, b)
		}
		// An administrator (admin:tokens) revokes it: the bot has no secret
		// to send, and the SDK has no revocation call.
		admin := readAdmin(t, bootstrap, issuer)
		req, _ := http.NewRequest("POST", issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(admin.ClientID), url.QueryEscape(admin.ClientSecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke = %d", resp.StatusCode)
		}
		revoked := time.Now()
		for {
			st, _, _ := callDPoP(t, signer, "GET", mt5+"/api/v1/market/EURUSD", tok, nil)
			if st == http.StatusUnauthorized {
				t.Logf("revoked token refused after %v", time.Since(revoked).Round(10*time.Millisecond))
				break
			}
			if time.Since(revoked) > 30*time.Second { // a bound; the guard polls every 2s
				t.Fatalf("revoked token still accepted after 30s (status %d)", st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a trader's call crosses three services on the trader's behalf", func(t *testing.T) {
		delegatedTrading(t, delegationWorld{issuer: issuer, mt5: mt5, risk: riskURL, admin: readAdmin(t, bootstrap, issuer),
			mt5Secret: mt5Secret})
	})

	t.Run("disabled client gets no tokens", func(t *testing.T) {
		admin := readAdmin(t, bootstrap, issuer)
		adminTok := token(t, admin)
		st, _, body := call(t, "PUT", issuer+"/api/v1/service-clients/trading-bot", adminTok, map[string]any{"is_active": false})
		if st != http.StatusOK {
			t.Fatalf("disable client = %d %s", st, body)
		}
		_, err := bot.Token(ctx)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != wire.ErrInvalidClient || we.Status != http.StatusUnauthorized {
			t.Fatalf("token for a disabled client: %v", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// readAdmin returns a client-credentials Config for the bootstrap admin.
func readAdmin(t *testing.T, path, issuer string) clientcredentials.Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var admin struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &admin); err != nil || admin.ClientID == "" {
		t.Fatalf("bootstrap file %s: %v", path, err)
	}
	return clientcredentials.Config{IssuerURL: issuer, ClientID: admin.ClientID, ClientSecret: admin.ClientSecret}
}
