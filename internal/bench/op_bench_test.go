package bench

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkClientOp measures what one load request costs the generator
// and a trivial server together, so the generator's share of the machine
// can be kept small.
func BenchmarkClientOp(b *testing.B) {
	body := []byte(`{"access_token":"x.y.z","token_type":"Bearer","expires_in":3600}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Write(body)
	}))
	defer srv.Close()
	op := okOp(formRequest(srv.URL, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "id", "secret"), checkToken)
	c := newClient(1, false)
	defer c.CloseIdleConnections()
	var buf bytes.Buffer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := op(ctx, c, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
