package clientcredentials

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func dpopKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func cnfOf(t *testing.T, raw string) *wire.Confirmation {
	t.Helper()
	tok, err := jwt.ParseUnverified(raw)
	if err != nil {
		t.Fatal(err)
	}
	var c wire.Claims
	if err := tok.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c.Cnf
}

func TestDPoPTokenRequest(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	cfg.DPoPKey = dpopKey(t)
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != wire.TokenTypeDPoP {
		t.Fatalf("token type %q", tok.TokenType)
	}
	if cnf := cnfOf(t, tok.AccessToken); cnf == nil || cnf.JKT != src.DPoP().Thumbprint() {
		t.Fatalf("cnf = %+v, want jkt %s", cnf, src.DPoP().Thumbprint())
	}
	if n := iss.TokenRequests.Load(); n != 1 {
		t.Fatalf("%d token requests", n)
	}
}

// TestDPoPTokenRequestNonce: RFC 9449 §8, use_dpop_nonce is retried once
// with the server's nonce.
func TestDPoPTokenRequestNonce(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	iss.RequireDPoPNonce()
	cfg.DPoPKey = dpopKey(t)
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	tok, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != wire.TokenTypeDPoP || iss.TokenRequests.Load() != 2 {
		t.Fatalf("token type %q after %d requests", tok.TokenType, iss.TokenRequests.Load())
	}
	// The nonce is remembered: the next request needs no retry.
	if _, err := src.TokenFor(context.Background(), aud, "market:data"); err != nil {
		t.Fatal(err)
	}
	if n := iss.TokenRequests.Load(); n != 3 {
		t.Fatalf("%d token requests, want 3", n)
	}
}

// TestDPoPRefusesBearerAnswer: a server that ignores the proof is not
// silently used as a bearer-token server.
func TestDPoPRefusesBearerAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(wire.TokenResponse{AccessToken: "x", TokenType: "Bearer", ExpiresIn: 60})
	}))
	defer srv.Close()
	cfg := Config{TokenURL: srv.URL, ClientID: "bot", ClientSecret: "s", DPoPKey: dpopKey(t)}
	_, err := cfg.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not issue DPoP tokens") {
		t.Fatalf("err = %v", err)
	}
}

// guarded starts a service behind a guard for the issuer and counts its
// requests.
func guarded(t *testing.T, iss *testissuer.Issuer, edit func(*guard.Config)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	gc := guard.Config{Issuer: iss.URL, Audience: aud}
	if edit != nil {
		edit(&gc)
	}
	g, err := guard.New(context.Background(), gc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	var calls atomic.Int64
	h := g.Require(guard.AllOf("trade:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, string(guard.BindingFrom(r.Context()))+" "+string(body))
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// TestDPoPTransport: the Transport signs a proof per request (htm, htu,
// ath) and the guard lets it through as DPoP; with the guard's nonce on,
// the first request is retried once with the nonce, the next need none.
func TestDPoPTransport(t *testing.T) {
	for _, nonce := range []bool{false, true} {
		t.Run(map[bool]string{false: "no nonce", true: "guard nonce"}[nonce], func(t *testing.T) {
			iss, cfg := newIssuer(t, testissuer.Client{})
			cfg.DPoPKey = dpopKey(t)
			srv, calls := guarded(t, iss, func(c *guard.Config) { c.DPoP.Nonce = nonce })
			client := cfg.Client(context.Background())
			for i, want := range map[bool][]int64{false: {1, 2, 3}, true: {2, 3, 4}}[nonce] {
				resp, err := client.Post(srv.URL+"/orders?i=1", "text/plain", strings.NewReader("order"))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "dpop order" {
					t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
				}
				if calls.Load() != want {
					t.Fatalf("request %d: %d calls to the service, want %d", i, calls.Load(), want)
				}
			}
		})
	}
}

// TestDPoPTransportConcurrent: proofs are unique per request, so
// concurrent requests never trip the replay cache.
func TestDPoPTransportConcurrent(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	cfg.DPoPKey = dpopKey(t)
	srv, _ := guarded(t, iss, nil)
	client := cfg.Client(context.Background())
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			resp, err := client.Get(srv.URL + "/orders")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
}

// TestStolenDPoPTokenIsUseless: a token copied off the wire fails as a
// bearer token and with a proof of another key.
func TestStolenDPoPTokenIsUseless(t *testing.T) {
	iss, cfg := newIssuer(t, testissuer.Client{})
	cfg.DPoPKey = dpopKey(t)
	srv, _ := guarded(t, iss, nil)
	var stolen string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		stolen = strings.TrimPrefix(r.Header.Get("Authorization"), "DPoP ")
		return http.DefaultTransport.RoundTrip(r)
	})
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	resp, err := (&http.Client{Transport: src.Transport(base)}).Get(srv.URL + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || stolen == "" {
		t.Fatalf("legitimate request: %d", resp.StatusCode)
	}
	thief, _ := dpop.NewSigner(dpopKey(t))
	for name, set := range map[string]func(*http.Request){
		"as bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+stolen) },
		"with another key": func(r *http.Request) {
			p, _ := thief.Proof("GET", srv.URL+"/orders", dpop.ProofOptions{AccessToken: stolen})
			r.Header.Set("Authorization", "DPoP "+stolen)
			r.Header.Set("DPoP", p)
		},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/orders", nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("stolen token %s: %d, want 401", name, resp.StatusCode)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDPoPKeyValidated(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{IssuerURL: "http://127.0.0.1:1", ClientID: "a", ClientSecret: "b", DPoPKey: small}
	if _, err := cfg.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "DPoPKey") {
		t.Fatalf("err = %v", err)
	}
}
