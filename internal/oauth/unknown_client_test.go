package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func (f *fixture) attempt(id, secret string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

// TestUnknownClientCostsNoStoreCallAgain: an unknown client_id, once seen,
// is answered from memory as a wrong secret of a cached client is (the
// negative cache), with the same answer.
func TestUnknownClientCostsNoStoreCallAgain(t *testing.T) {
	f := newFixture(t)
	wrong, unknown := f.attempt(f.id, "pms_wrong"), f.attempt("no-such-client", "pms_wrong")
	if wrong.Code != http.StatusUnauthorized || unknown.Code != wrong.Code || unknown.Body.String() != wrong.Body.String() {
		t.Fatalf("wrong secret %d %s; unknown client %d %s", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
	}
	before := f.db.calls.Load()
	for range 20 {
		f.attempt(f.id, "pms_wrong")
		f.attempt("no-such-client", "pms_wrong")
	}
	if n := f.db.calls.Load() - before; n != 0 {
		t.Fatalf("%d store calls for repeated failures", n)
	}
}

// BenchmarkFailedClientAuth compares what a wrong server-generated secret
// and an unknown client_id cost the server (run with -bench and compare the
// two ns/op: the unknown id must not cost more).
func BenchmarkFailedClientAuth(b *testing.B) {
	f := newFixture(b)
	for _, tc := range []struct{ name, id string }{{"wrong-generated-secret", f.id}, {"unknown-client-id", "no-such-client"}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if w := f.attempt(tc.id, "pms_wrong"); w.Code != http.StatusUnauthorized {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
