package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/dpop"
)

// serve runs one request through h and decodes a JSON answer into out.
func serve(b *testing.B, h http.Handler, r *http.Request, want int, out any) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", r.Method, r.URL.Path, w.Code, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			b.Fatal(err)
		}
	}
}

func tokenRequest(id, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r
}

// benchClient starts a server in this process and creates a client with
// generous rate limits; it returns the handler and the client's
// credentials.
func benchClient(b *testing.B, issuer string) (http.Handler, string, string) {
	dir := filepath.Join(b.TempDir(), "d")
	srv, err := server.New(context.Background(), server.Config{DataDir: dir, Addr: "127.0.0.1:0", Issuer: issuer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	raw, err := os.ReadFile(filepath.Join(dir, server.BootstrapFile))
	if err != nil {
		b.Fatal(err)
	}
	var admin struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(raw, &admin)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	serve(b, h, tokenRequest(admin.ID, admin.Secret), 200, &tok)
	create := httptest.NewRequest(http.MethodPost, "/api/v1/service-clients", strings.NewReader(
		`{"name":"bench","scope_ids":["trade:read"],"rate_limit_per_minute":1000000,"rate_limit_per_hour":60000000}`))
	create.Header.Set("Content-Type", "application/json")
	create.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	var created struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	serve(b, h, create, 201, &created)
	return h, created.Client.ClientID, created.Secret
}

// BenchmarkTokenEndpoint measures a client_credentials request through the
// whole server handler: every middleware, the rate limiter, metrics, the
// cache, the secret check, signing and the JSON answer.
func BenchmarkTokenEndpoint(b *testing.B) {
	h, id, secret := benchClient(b, "http://127.0.0.1:1")
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, tokenRequest(id, secret), 200, nil)
	}
}

// BenchmarkTokenEndpointDPoP is BenchmarkTokenEndpoint with a fresh DPoP
// proof on every request (made before the timer runs): the extra cost is
// the proof's verification and its single-use record.
func BenchmarkTokenEndpointDPoP(b *testing.B) {
	const issuer = "http://127.0.0.1:1"
	h, id, secret := benchClient(b, issuer)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := dpop.NewSigner(k)
	b.ReportAllocs()
	proofs := make([]string, 0, 256)
	for i := 0; i < b.N; i++ {
		if len(proofs) == 0 {
			b.StopTimer()
			for range cap(proofs) {
				p, _ := key.Proof("POST", issuer+"/oauth2/token", dpop.ProofOptions{})
				proofs = append(proofs, p)
			}
			b.StartTimer()
		}
		r := tokenRequest(id, secret)
		r.Header.Set("DPoP", proofs[len(proofs)-1])
		proofs = proofs[:len(proofs)-1]
		serve(b, h, r, 200, nil)
	}
}
