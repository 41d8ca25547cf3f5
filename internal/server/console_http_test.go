package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestConsoleWithoutSession checks what a browser without a console
// session gets: a redirect to sign-in that remembers the page, a PKCE
// authorization request for the console's own client, a refusal of a
// callback that this browser did not start, and strict headers throughout.
func TestConsoleWithoutSession(t *testing.T) {
	ts := newTestServer(t, nil)
	b := newBrowser(t)

	t.Run("pages redirect to sign-in", func(t *testing.T) {
		p := b.get(ts.URL + "/admin/clients?search=bot")
		if p.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", p.Status)
		}
		if got, want := p.Header.Get("Location"), "/admin/signin?return="+url.QueryEscape("/admin/clients?search=bot"); got != want {
			t.Fatalf("Location %q, want %q", got, want)
		}
	})

	t.Run("sign-in is an authorization request with PKCE", func(t *testing.T) {
		p := b.get(ts.URL + "/admin/signin?return=/admin/keys")
		if p.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", p.Status)
		}
		u, err := url.Parse(p.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Scheme+"://"+u.Host+u.Path != ts.URL+"/oauth2/authorize" {
			t.Errorf("authorize URL %s", u)
		}
		for k, want := range map[string]string{"response_type": "code", "client_id": "permiso-console",
			"redirect_uri": ts.URL + "/admin/callback", "code_challenge_method": "S256",
			"resource": ts.URL} { // a token for Permiso's own API, whatever the client's audiences
			if q.Get(k) != want {
				t.Errorf("%s = %q, want %q", k, q.Get(k), want)
			}
		}
		if len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 {
			t.Errorf("challenge %q, state %q", q.Get("code_challenge"), q.Get("state"))
		}
		c := findCookie(p.Header, "permiso_console_signin")
		if c == nil || !c.HttpOnly || c.Path != "/admin" || c.SameSite != http.SameSiteLaxMode || c.Value != q.Get("state") {
			t.Errorf("pending cookie %+v", c)
		}
		// The authorization endpoint knows the console's client.
		if a := b.get(u.String()); a.Status != http.StatusOK || !strings.Contains(a.Body, `name="password"`) {
			t.Errorf("authorize answered %d: %.300s", a.Status, a.Body)
		}
	})

	t.Run("a callback this browser did not start is refused", func(t *testing.T) {
		other := newBrowser(t)
		p := other.get(ts.URL + "/admin/callback?code=planted&state=someone-elses")
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "does not belong to this browser") {
			t.Fatalf("status %d: %.300s", p.Status, p.Body)
		}
		if findCookie(p.Header, "permiso_console") != nil && findCookie(p.Header, "permiso_console").MaxAge >= 0 {
			t.Fatal("a session cookie was set")
		}
	})

	t.Run("headers", func(t *testing.T) {
		p := b.get(ts.URL + "/admin/signed-out")
		csp := p.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") {
			t.Error("inline script or style on a console page")
		}
		if p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", p.Header.Get("Cache-Control"))
		}
		css := b.get(ts.URL + "/admin/assets/console.css")
		if css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
			t.Errorf("stylesheet: %d %s", css.Status, css.Header.Get("Content-Type"))
		}
	})

	t.Run("forms without a session or from another origin do nothing", func(t *testing.T) {
		p := b.post(ts.URL+"/admin/clients/permiso-admin/status", url.Values{"active": {"0"}})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/admin/signin") {
			t.Fatalf("status %d Location %q", p.Status, p.Header.Get("Location"))
		}
		req, _ := http.NewRequest("POST", ts.URL+"/admin/signout", strings.NewReader("csrf=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("cross-site POST: %d, want 403", res.StatusCode)
		}
	})
}

func findCookie(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
