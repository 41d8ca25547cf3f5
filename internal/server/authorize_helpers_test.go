package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// userPassword satisfies the original's password policy.
const userPassword = "Tr4der!Pass-2026"

// publicClient registers a public client through the admin API, as the
// trading dashboard does, and returns its client_id.
func (ts *testServer) publicClient(redirect string, scopes ...string) string {
	ts.t.Helper()
	id, secret := ts.createClient(map[string]any{
		"name": "Trading dashboard", "client_type": "public", "redirect_uris": []string{redirect},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scope_ids": scopes,
	})
	if secret != "" {
		ts.t.Fatalf("a public client got a secret")
	}
	return id
}

// newUser registers a user through the API and gives them role (as an
// administrator); it returns the user's id.
func (ts *testServer) newUser(username, role string) string {
	ts.t.Helper()
	r := ts.jsonReq("POST", "/api/v1/users/register", "", map[string]any{
		"username": username, "email": username + "@example.com", "password": userPassword})
	if r.Status != 201 {
		ts.t.Fatalf("register %s: %d %s", username, r.Status, r.Body)
	}
	id := r.str("id")
	admin := ts.adminToken()
	roles := ts.jsonReq("GET", "/api/v1/roles/?per_page=100", admin, nil)
	var list struct {
		Roles []struct{ ID, Name string } `json:"roles"`
	}
	json.Unmarshal(roles.Body, &list)
	roleID := ""
	for _, x := range list.Roles {
		if x.Name == role {
			roleID = x.ID
		}
	}
	if roleID == "" {
		ts.t.Fatalf("role %s not found: %d %s", role, roles.Status, roles.Body)
	}
	if r := ts.jsonReq("PUT", "/api/v1/users/"+id+"/roles", admin, map[string]any{"role_ids": []string{roleID}}); r.Status != 200 {
		ts.t.Fatalf("assign role: %d %s", r.Status, r.Body)
	}
	return id
}

func (ts *testServer) oauthConfig(clientID, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: ts.URL + "/oauth2/authorize", TokenURL: ts.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

// browser is an HTTP client that keeps cookies and stops at redirects, so
// a test sees each step of the flow.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type htmlPage struct {
	Status int
	Header http.Header
	Body   string
	Action string
	Form   url.Values
}

var (
	inputTag  = regexp.MustCompile(`(?s)<input\s[^>]*>`)
	attribute = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)
	formTag   = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)
)

func (b *browser) read(res *http.Response, err error) *htmlPage {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := &htmlPage{Status: res.StatusCode, Header: res.Header, Body: string(body), Form: url.Values{}}
	if m := formTag.FindStringSubmatch(p.Body); m != nil {
		p.Action = html.UnescapeString(m[1])
	}
	for _, in := range inputTag.FindAllString(p.Body, -1) {
		attrs := map[string]string{}
		for _, m := range attribute.FindAllStringSubmatch(in, -1) {
			attrs[m[1]] = html.UnescapeString(m[2])
		}
		if attrs["name"] != "" {
			p.Form.Set(attrs["name"], attrs["value"])
		}
	}
	return p
}

func (b *browser) get(u string) *htmlPage { return b.read(b.c.Get(u)) }

func (b *browser) post(u string, form url.Values) *htmlPage { return b.read(b.c.PostForm(u, form)) }

// signIn loads authURL, fills the login form and submits it.
func (b *browser) signIn(base, authURL, username, password string) *htmlPage {
	b.t.Helper()
	p := b.get(authURL)
	if p.Status != 200 || p.Action == "" {
		b.t.Fatalf("login page: %d %.300s", p.Status, p.Body)
	}
	p.Form.Set("username", username)
	p.Form.Set("password", password)
	return b.post(base+p.Action, p.Form)
}

// redirectQuery returns the query of a redirect answer.
func redirectQuery(t *testing.T, p *htmlPage) url.Values {
	t.Helper()
	if p.Status != http.StatusSeeOther && p.Status != http.StatusFound {
		t.Fatalf("want a redirect, got %d: %.300s", p.Status, p.Body)
	}
	u, err := url.Parse(p.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// jwtClaims decodes a JWT's payload without verifying it (the server
// verifies it when the token is used).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.40s", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

var bg = context.Background()
