package authorize_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/oauth/authorize"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// clock is a settable time source shared by the handler and the provider.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accounts stands in for the account service: it checks the password
// against the stored Argon2id hash and answers with the same error codes.
type accounts struct{ db *sqlstore.Tenant }

func (a accounts) Authenticate(ctx context.Context, login, password, ip, ua string) (*store.User, error) {
	u, err := a.db.GetUserByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return nil, web.Errorf(http.StatusUnauthorized, wire.ErrInvalidGrant, "Invalid username or password")
	}
	if err != nil {
		return nil, err
	}
	if !account.VerifyPassword(password, u.PasswordHash) {
		return nil, web.Errorf(http.StatusUnauthorized, wire.ErrInvalidGrant, "Invalid username or password")
	}
	if u.LockedUntil != nil && u.LockedUntil.After(time.Now()) {
		return nil, web.Errorf(http.StatusLocked, wire.ErrAccountLocked, "Account locked").With("locked_until", *u.LockedUntil)
	}
	if !u.Active {
		return nil, web.Errorf(http.StatusForbidden, wire.ErrAccountDisabled, "Account disabled")
	}
	return &u, nil
}

func (a accounts) StartSession(ctx context.Context, u *store.User, clientID, ip, ua string) (store.Session, error) {
	return a.db.CreateSession(ctx, store.Session{UserID: u.ID, ClientID: clientID, IP: ip, UserAgent: ua,
		ExpiresAt: time.Now().Add(time.Hour)})
}

// issuer stands in for oauth.UserTokens.IssueUserTokens: a user access
// token with the claims the grant decided.
type issuer struct{ m oauth.Minter }

func (i issuer) IssueUserTokens(ctx context.Context, u *store.User, sid string, c *store.Client, scopes []string, aud wire.Audience, withRefresh bool, cnf *wire.Confirmation) (*oauth.TokenResult, error) {
	return i.m.Issue(wire.Claims{Subject: u.ID, Audience: aud, ClientID: c.ClientID, Scope: strings.Join(scopes, " "),
		Scopes: scopes, Type: wire.ClaimTypeAccess, Username: u.Username, SessionID: sid, Cnf: cnf}, time.Minute)
}

const password = "correct horse battery staple 9"

type fixture struct {
	t        testing.TB
	srv      *httptest.Server
	handler  http.Handler
	db       *sqlstore.Tenant
	provider *oauth.Provider
	clock    *clock
	callback string
	public   store.Client
	conf     store.Client
	confSec  string
	user     store.User
}

// newFixture assembles the authorize handler with a real SQLite store,
// real keys, tokens and provider, on an httptest server.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db := root.ForTenant(store.DefaultTenant)
	if err := rbac.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(keys.Config{Store: db, MasterKey: []byte(strings.Repeat("m", 32))})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, clock: &clock{t: time.Now()}}
	mux := http.NewServeMux()
	f.handler = web.RequestIDs(mux)
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)
	secrets := oauth.NewSecrets([]byte(strings.Repeat("p", 32)), nil)
	tok := tokens.New(tokens.Config{Keys: km, Issuer: f.srv.URL})
	minter := oauth.Minter{Issuer: f.srv.URL, Tokens: tok}
	h, err := authorize.New(authorize.Config{Minter: minter, Store: db, Accounts: accounts{db}, Tokens: issuer{minter},
		Key: []byte(strings.Repeat("k", 32)), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.provider = oauth.New(oauth.Config{Issuer: f.srv.URL, Store: db, Tokens: tok, Keys: km, Secrets: secrets,
		Revocations: tokens.NewRevocationList(tokens.RevocationConfig{Store: db}), Now: f.clock.Now,
		Grants: []oauth.GrantType{h.Grant()}, AuthorizationEndpoint: true})
	f.provider.Mount(mux)
	h.Mount(mux)

	f.callback = "http://127.0.0.1:9/cb?app=1"
	scopeIDs := f.scopeIDs("trade:read", "market:data", "admin:users")
	f.public, err = db.CreateClient(ctx, store.Client{ClientID: "spa", Name: "Trading <Dashboard>", Type: wire.ClientTypePublic,
		Active: true, GrantTypes: []string{wire.GrantAuthorizationCode, wire.GrantRefreshToken}, ScopeIDs: scopeIDs,
		RedirectURIs: []string{f.callback}, Audiences: []string{"https://mt5.example"}})
	if err != nil {
		t.Fatal(err)
	}
	f.conf, err = db.CreateClient(ctx, store.Client{ClientID: "webapp", Name: "Web app", Type: "confidential", Active: true,
		GrantTypes: []string{wire.GrantAuthorizationCode}, ScopeIDs: scopeIDs,
		RedirectURIs: []string{"https://app.example/cb", "https://app.example/other"}})
	if err != nil {
		t.Fatal(err)
	}
	sec, hash := secrets.Generate()
	if _, err := db.AddClientSecret(ctx, store.ClientSecret{ClientID: f.conf.ID, Hash: hash}); err != nil {
		t.Fatal(err)
	}
	f.confSec = sec
	f.user = f.createUser("alice", true)
	return f
}

func (f *fixture) scopeIDs(names ...string) []string {
	var ids []string
	for _, n := range names {
		s, err := f.db.GetScopeByName(context.Background(), n)
		if err != nil {
			f.t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	return ids
}

func (f *fixture) createUser(name string, active bool) store.User {
	f.t.Helper()
	ctx := context.Background()
	role, err := f.db.GetRoleByName(ctx, "trader")
	if err != nil {
		f.t.Fatal(err)
	}
	hash, err := account.HashPassword(password, account.HashParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	if err != nil {
		f.t.Fatal(err)
	}
	u, err := f.db.CreateUser(ctx, store.User{Username: name, Email: name + "@example.com", PasswordHash: hash,
		Active: active, RoleIDs: []string{role.ID}})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// browser is a cookie-keeping client that does not follow redirects.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status int
	header http.Header
	body   string
	form   url.Values // hidden and text inputs of the first form
	action string
}

func (f *fixture) get(c *http.Client, u string) *page {
	f.t.Helper()
	res, err := c.Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	return readPage(f.t, res)
}

func (f *fixture) post(c *http.Client, path string, v url.Values) *page {
	f.t.Helper()
	res, err := c.PostForm(f.srv.URL+path, v)
	if err != nil {
		f.t.Fatal(err)
	}
	return readPage(f.t, res)
}

func readPage(t testing.TB, res *http.Response) *page {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	p := &page{status: res.StatusCode, header: res.Header, body: string(b), form: url.Values{}}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		parseForm(t, p)
	}
	return p
}

var (
	inputRE  = regexp.MustCompile(`(?s)<input\s[^>]*>`)
	attrRE   = regexp.MustCompile(`([a-zA-Z-]+)="([^"]*)"`)
	actionRE = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)
)

// parseForm reads the form's action and input values from the HTML, as a
// browser would submit them.
func parseForm(t testing.TB, p *page) {
	if m := actionRE.FindStringSubmatch(p.body); m != nil {
		p.action = html.UnescapeString(m[1])
	}
	for _, in := range inputRE.FindAllString(p.body, -1) {
		attr := map[string]string{}
		for _, m := range attrRE.FindAllStringSubmatch(in, -1) {
			attr[m[1]] = html.UnescapeString(m[2])
		}
		if attr["name"] != "" {
			p.form.Set(attr["name"], attr["value"])
		}
	}
}

// authURL builds an authorization request to the fixture.
func (f *fixture) authURL(v url.Values) string {
	return f.srv.URL + "/oauth2/authorize?" + v.Encode()
}

// location parses a redirect's Location.
func location(t testing.TB, p *page) *url.URL {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d: %.400s", p.status, p.body)
	}
	u, err := url.Parse(p.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }
