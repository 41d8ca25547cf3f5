package authorize_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestAuthorizeRequestErrors checks each rule of the authorization
// request: failures about the client or redirect URI are an HTML page and
// never a redirect; the rest go back to the client with error, state and iss.
func TestAuthorizeRequestErrors(t *testing.T) {
	f := newFixture(t)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := func() url.Values {
		return url.Values{"client_id": {"spa"}, "response_type": {"code"}, "state": {"xyz"},
			"redirect_uri": {f.callback}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	}
	with := func(edit func(url.Values)) string {
		v := base()
		edit(v)
		return f.srv.URL + "/oauth2/authorize?" + v.Encode()
	}
	tests := []struct {
		name     string
		url      string
		page     int    // want an HTML page with this status (no redirect)
		redirect string // or want a redirect with this error
	}{
		{"missing client_id", with(func(v url.Values) { v.Del("client_id") }), 400, ""},
		{"unknown client", with(func(v url.Values) { v.Set("client_id", "nope") }), 400, ""},
		{"wrong redirect_uri", with(func(v url.Values) { v.Set("redirect_uri", "http://evil.example/cb") }), 400, ""},
		{"redirect_uri with extra query", with(func(v url.Values) { v.Set("redirect_uri", f.callback+"&x=1") }), 400, ""},
		{"redirect_uri prefix", with(func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:9/cb") }), 400, ""},
		{"loopback, another host", with(func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.2:9/cb?app=1") }), 400, ""},
		{"loopback, https", with(func(v url.Values) { v.Set("redirect_uri", "https://127.0.0.1:9/cb?app=1") }), 400, ""},
		{"repeated redirect_uri", with(func(v url.Values) { v.Add("redirect_uri", f.callback) }), 400, ""},
		{"omitted redirect_uri, two registered", f.srv.URL + "/oauth2/authorize?client_id=webapp&response_type=code", 400, ""},
		{"over-long client_id", with(func(v url.Values) { v.Set("client_id", strings.Repeat("a", 3000)) }), 400, ""},
		{"missing response_type", with(func(v url.Values) { v.Del("response_type") }), 0, "invalid_request"},
		{"response_type token", with(func(v url.Values) { v.Set("response_type", "token") }), 0, "unsupported_response_type"},
		{"response_mode fragment", with(func(v url.Values) { v.Set("response_mode", "fragment") }), 0, "invalid_request"},
		{"public client without PKCE", with(func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }), 0, "invalid_request"},
		{"plain method", with(func(v url.Values) { v.Set("code_challenge_method", "plain") }), 0, "invalid_request"},
		{"method omitted (means plain)", with(func(v url.Values) { v.Del("code_challenge_method") }), 0, "invalid_request"},
		{"malformed challenge", with(func(v url.Values) { v.Set("code_challenge", "short") }), 0, "invalid_request"},
		{"repeated state", with(func(v url.Values) { v.Add("state", "again") }), 0, "invalid_request"},
		{"over-long state", with(func(v url.Values) { v.Set("state", strings.Repeat("s", 3000)) }), 0, "invalid_request"},
		{"resource not allowed", with(func(v url.Values) { v.Set("resource", "https://other.example") }), 0, "invalid_target"},
		{"relative resource", with(func(v url.Values) { v.Set("resource", "/api") }), 0, "invalid_target"},
		{"too many scopes", with(func(v url.Values) { v.Set("scope", strings.Repeat("trade:read ", 65)) }), 0, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.get(f.browser(), tt.url)
			if tt.page != 0 {
				if p.status != tt.page || p.header.Get("Location") != "" {
					t.Fatalf("want page %d and no redirect, got %d Location=%q", tt.page, p.status, p.header.Get("Location"))
				}
				if !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, `<html lang="en">`) {
					t.Errorf("not an HTML page: %s %.200s", p.header.Get("Content-Type"), p.body)
				}
				if strings.Contains(p.body, "evil.example") {
					t.Error("page echoes the attacker's redirect URI")
				}
				return
			}
			loc := location(t, p)
			q := loc.Query()
			if !strings.HasPrefix(loc.String(), "http://127.0.0.1:9/cb?") || q.Get("app") != "1" {
				t.Errorf("redirected to %s", loc)
			}
			if q.Get("error") != tt.redirect {
				t.Errorf("error = %q (%s), want %q", q.Get("error"), q.Get("error_description"), tt.redirect)
			}
			if want := "xyz"; q.Get("state") != want && !strings.Contains(tt.name, "state") {
				t.Errorf("state = %q, want %q", q.Get("state"), want)
			}
			if tt.name == "over-long state" && q.Get("state") != "" {
				t.Error("an over-long state is echoed")
			}
			if q.Get("iss") != f.srv.URL {
				t.Errorf("iss = %q", q.Get("iss"))
			}
		})
	}
}

// TestAuthorizeConfidentialClient checks the rules that differ for a
// confidential client: PKCE is optional, and the only registered redirect
// URI is used when none is sent... unless it has several.
func TestAuthorizeConfidentialClient(t *testing.T) {
	f := newFixture(t)
	v := url.Values{"client_id": {"webapp"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/other"}}
	p := f.get(f.browser(), f.authURL(v))
	if p.status != http.StatusOK || p.form.Get("request") == "" || p.form.Get("csrf_token") == "" {
		t.Fatalf("confidential client without PKCE: %d %.300s", p.status, p.body)
	}
	v.Set("code_challenge", "x")
	v.Set("code_challenge_method", "plain")
	if q := location(t, f.get(f.browser(), f.authURL(v))).Query(); q.Get("error") != "invalid_request" {
		t.Errorf("plain PKCE for a confidential client: %v", q)
	}
}

// TestLoginPage checks the page's markup and headers: the fields the
// outside world relies on, accessibility basics, and its own strict CSP.
func TestLoginPage(t *testing.T) {
	f := newFixture(t)
	v := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "login_hint": {"al\"ice"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	p := f.get(f.browser(), f.authURL(v))
	if p.status != 200 {
		t.Fatalf("status %d", p.status)
	}
	for _, want := range []string{
		`<html lang="en">`, `name="username"`, `name="password"`, `autocomplete="username"`,
		`autocomplete="current-password"`, `<label for="username">`, `<label for="password">`,
		`name="viewport"`, `Trading &lt;Dashboard&gt;`, `value="al&#34;ice"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(p.body, "<script") {
		t.Error("the login page must work without JavaScript and carries none")
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self' http://127.0.0.1:9", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", p.header.Get("Cache-Control"))
	}
	css := f.get(f.browser(), f.srv.URL+"/oauth2/assets/login.css")
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, ":focus-visible") {
		t.Errorf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
	}
}

// TestLoopbackRedirectAnyPort: a native app's loopback redirect URI is
// accepted on whatever port the app listens (RFC 8252 §7.3), and the
// answer goes to that port; a redirect URI registered before the scheme
// rule held (javascript:) is never used.
func TestLoopbackRedirectAnyPort(t *testing.T) {
	f := newFixture(t)
	v := url.Values{"client_id": {"spa"}, "response_type": {"token"}, "state": {"s"},
		"redirect_uri": {"http://127.0.0.1:53124/cb?app=1"}}
	p := f.get(f.browser(), f.srv.URL+"/oauth2/authorize?"+v.Encode())
	loc := location(t, p)
	if loc.Host != "127.0.0.1:53124" || loc.Path != "/cb" || loc.Query().Get("error") != "unsupported_response_type" {
		t.Fatalf("redirected to %s", loc)
	}

	if _, err := f.db.CreateClient(context.Background(), store.Client{ClientID: "legacy", Name: "Legacy", Type: wire.ClientTypePublic,
		Active: true, GrantTypes: []string{wire.GrantAuthorizationCode}, RedirectURIs: []string{"javascript:alert(document.domain)//"}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"client_id=legacy&response_type=code", "client_id=legacy&response_type=code&redirect_uri=" +
		url.QueryEscape("javascript:alert(document.domain)//")} {
		p := f.get(f.browser(), f.srv.URL+"/oauth2/authorize?"+q)
		if p.status != 400 || p.header.Get("Location") != "" || !strings.Contains(p.body, "not allowed") {
			t.Fatalf("%s: %d Location=%q %.300s", q, p.status, p.header.Get("Location"), p.body)
		}
	}
}
