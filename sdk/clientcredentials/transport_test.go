package clientcredentials

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
)

// rejectingAPI answers 401 invalid_token to the first token it sees and 200
// (echoing the body) to any later one.
type rejectingAPI struct {
	mu     sync.Mutex
	seen   []string
	header string
}

func (a *rejectingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	first := len(a.seen) == 1
	a.mu.Unlock()
	if first {
		w.Header().Set("WWW-Authenticate", a.header)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	_, _ = w.Write(body)
}

func TestTransportRetriesOnInvalidToken(t *testing.T) {
	tests := []struct {
		name       string
		challenge  string
		body       func() io.Reader
		wantStatus int
		wantCalls  int
	}{
		{"no body", `Bearer realm="api", error="invalid_token"`, nil, 200, 2},
		{"replayable body", `Bearer error="invalid_token", error_description="expired"`,
			func() io.Reader { return strings.NewReader("payload") }, 200, 2},
		{"unquoted error", `Bearer error=invalid_token`, nil, 200, 2},
		{"body cannot be replayed", `Bearer error="invalid_token"`,
			func() io.Reader { return io.NopCloser(bytes.NewBufferString("payload")) }, 401, 1},
		{"other 401", `Bearer realm="api"`, nil, 401, 1},
		{"other scheme", `Basic error="invalid_token"`, nil, 401, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss, cfg := newIssuer(t, testissuer.Client{})
			api := &rejectingAPI{header: tt.challenge}
			srv := httptest.NewServer(api)
			defer srv.Close()
			src := cfg.TokenSource(context.Background())
			defer src.Close()
			hc := &http.Client{Transport: src.Transport(nil)}
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || len(api.seen) != tt.wantCalls {
				t.Fatalf("status %d after %d calls, want %d after %d", resp.StatusCode, len(api.seen), tt.wantStatus, tt.wantCalls)
			}
			if tt.wantCalls == 2 {
				if api.seen[0] == api.seen[1] || !strings.HasPrefix(api.seen[1], "Bearer ") {
					t.Fatalf("retry used %q after %q", api.seen[1], api.seen[0])
				}
				if tt.body != nil && string(got) != "payload" {
					t.Fatalf("replayed body = %q", got)
				}
				if n := iss.TokenRequests.Load(); n != 2 {
					t.Fatalf("token requests = %d, want 2", n)
				}
			}
		})
	}
}

func TestAuthParam(t *testing.T) {
	tests := []struct{ params, want string }{
		{`realm="a,b", error="invalid_token"`, "invalid_token"},
		{`error="inv\"alid"`, `inv"alid`},
		{`realm=x, error=insufficient_scope, scope="a b"`, "insufficient_scope"},
		{`realm="x"`, ""},
	}
	for _, tt := range tests {
		if got, _ := authParam(tt.params, "error"); got != tt.want {
			t.Errorf("authParam(%q) = %q, want %q", tt.params, got, tt.want)
		}
	}
}

func BenchmarkTokenCacheHit(b *testing.B) {
	_, cfg := newIssuer(b, testissuer.Client{})
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	if _, err := src.Token(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Token(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenCacheHitParallel(b *testing.B) {
	_, cfg := newIssuer(b, testissuer.Client{})
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	if _, err := src.Token(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.Token(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
