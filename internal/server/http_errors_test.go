package server_test

import (
	"net/url"
	"testing"
)

// Errors reach the client over HTTP as the handlers mean them: a known
// path with the wrong method is 405 with Allow, and each description is
// the one its handler wrote.
func TestHTTPErrorsAsMeant(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/oauth2/token", 405, "POST"},
		{"DELETE", "/oauth2/introspect", 405, "POST"},
		{"POST", "/.well-known/jwks.json", 405, "GET, HEAD"},
		{"GET", "/oauth2/nothing", 404, ""},
	} {
		r := ts.do(tc.method, tc.path, nil, nil)
		if r.Status != tc.status || r.Header.Get("Allow") != tc.allow || r.str("error") == "" || r.str("error_description") == "" {
			t.Errorf("%s %s: %d Allow=%q %s", tc.method, tc.path, r.Status, r.Header.Get("Allow"), r.Body)
		}
	}

	r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "", "")
	if r.Status != 401 || r.str("error") != "invalid_client" || r.str("error_description") != "Client authentication is required" ||
		r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("token request without a client: %d %v %s", r.Status, r.Header, r.Body)
	}
}
