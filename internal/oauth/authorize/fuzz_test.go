package authorize_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzAuthorizeRequest sends arbitrary queries to the authorization
// endpoint: it must never fail with a 5xx and never redirect anywhere but
// the client's registered redirect URI.
func FuzzAuthorizeRequest(f *testing.F) {
	for _, seed := range []string{
		"client_id=spa&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCQaoWC3OvwrC2aoMT8OtxjY&code_challenge_method=S256",
		"client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb%3Fapp%3D1&response_type=token&state=%00",
		"client_id=spa&redirect_uri=http://evil.example/&response_type=code",
		"client_id=spa&client_id=webapp&scope=a%20b%20c&resource=x&resource=y",
		"client_id=webapp&response_type=code&redirect_uri=https://app.example/cb&scope=trade:read%20%22",
		"%zz&client_id=spa",
	} {
		f.Add(seed)
	}
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, query string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/oauth2/authorize", nil)
		req.URL.RawQuery = query
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("bad Location %q", loc)
			}
			base := u.Scheme + "://" + u.Host + u.Path
			if base != "http://127.0.0.1:9/cb" && base != "https://app.example/cb" && base != "https://app.example/other" {
				t.Fatalf("redirected to %q for %q", loc, query)
			}
			if rec.Code != http.StatusFound || !strings.Contains(u.RawQuery, "iss=") {
				t.Fatalf("redirect %d %q", rec.Code, loc)
			}
		}
	})
}
