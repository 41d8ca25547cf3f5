package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
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

// BenchmarkTokenEndpoint measures a client_credentials request through the
// whole server handler: every middleware, the rate limiter, metrics, the
// cache, the secret check, signing and the JSON answer.
func BenchmarkTokenEndpoint(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "d")
	srv, err := server.New(context.Background(), server.Config{DataDir: dir, Addr: "127.0.0.1:0", Issuer: "http://127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
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
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, tokenRequest(created.Client.ClientID, created.Secret), 200, nil)
	}
}
