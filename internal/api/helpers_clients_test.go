package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/permiso-auth/permiso/internal/api"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
)

// adminFixture is the real protocol and API stack over a SQLite store,
// served by httptest: what internal/server assembles, minus operations.
type adminFixture struct {
	t     *testing.T
	URL   string
	Store store.Store
	Audit *auditLog
	// Tokens mints with the server's key, for tokens no grant would issue.
	Tokens *tokens.Service
	// Admin holds every scope, as the bootstrap client does; Other holds
	// only admin:users.
	Admin, Other credentials
}

type credentials struct{ ID, Secret string }

// auditLog is an audit.Recorder that keeps every event for inspection.
type auditLog struct {
	mu     sync.Mutex
	events []store.AuditEvent
}

func (l *auditLog) Record(_ context.Context, e store.AuditEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *auditLog) all() []store.AuditEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]store.AuditEvent(nil), l.events...)
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: sqltest.SQLiteURL(t)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db := root.ForTenant(store.DefaultTenant)
	cache := store.NewCache(db, store.CacheConfig{})
	if err := rbac.Seed(ctx, cache); err != nil {
		t.Fatalf("seed: %v", err)
	}
	km, err := keys.New(keys.Config{Store: db, MasterKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	const issuer = "https://permiso.test"
	secrets := oauth.NewSecrets([]byte(strings.Repeat("p", 32)), nil)
	revoked := tokens.NewRevocationList(tokens.RevocationConfig{Store: db})
	log := &auditLog{}
	tok := tokens.New(tokens.Config{Keys: km, Issuer: issuer})
	provider := oauth.New(oauth.Config{Issuer: issuer, Store: cache, Tokens: tok,
		Revocations: revoked, Keys: km, Secrets: secrets, Audit: log})
	a := api.New(api.Config{Audiences: []string{issuer}, Store: cache, OAuth: provider, Tokens: tok, Keys: km, Revocations: revoked, Secrets: secrets, Audit: log})
	mux := http.NewServeMux()
	provider.Mount(mux)
	a.Mount(mux)
	mux.Handle("/", web.NotFoundHandler(mux))
	srv := httptest.NewServer(web.RequestIDs(web.IPResolver{}.ClientIPs(mux)))
	t.Cleanup(srv.Close)

	f := &adminFixture{t: t, URL: srv.URL, Store: cache, Audit: log, Tokens: tok}
	all, _, err := cache.ListScopes(ctx, store.ScopeFilter{Page: store.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	var every []string
	for _, s := range all {
		every = append(every, s.Name)
	}
	f.Admin = f.seedClient("test-admin", every, secrets)
	f.Other = f.seedClient("test-users-admin", []string{"admin:users"}, secrets)
	return f
}

// seedClient creates a confidential client directly in the store.
func (f *adminFixture) seedClient(id string, scopes []string, secrets *oauth.Secrets) credentials {
	f.t.Helper()
	ctx := context.Background()
	var ids []string
	for _, n := range scopes {
		s, err := f.Store.GetScopeByName(ctx, n)
		if err != nil {
			f.t.Fatalf("scope %s: %v", n, err)
		}
		ids = append(ids, s.ID)
	}
	c, err := f.Store.CreateClient(ctx, store.Client{ClientID: id, Name: id, Type: "confidential", Active: true,
		GrantTypes: []string{"client_credentials"}, ScopeIDs: ids, AccessTokenLifetime: 3600})
	if err != nil {
		f.t.Fatal(err)
	}
	secret, hash := secrets.Generate()
	if _, err := f.Store.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: hash}); err != nil {
		f.t.Fatal(err)
	}
	return credentials{id, secret}
}

type response struct {
	Status int
	Header http.Header
	Body   string
	JSON   map[string]any
}

// str returns a string field of the JSON body, following dotted paths
// through objects ("client.client_id").
func (r *response) str(path string) string {
	v, _ := r.field(path).(string)
	return v
}

func (r *response) field(path string) any {
	var cur any = r.JSON
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// list returns a JSON array field as a slice of objects.
func (r *response) list(key string) []map[string]any {
	raw, _ := r.field(key).([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// do sends a request with an optional bearer token and JSON body (a string
// is sent verbatim).
func (f *adminFixture) do(method, path, token string, body any) *response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, f.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	_ = json.Unmarshal(b, &out.JSON) // 204 and errors outside the API have no JSON
	return out
}

// tokenRequest asks /oauth2/token for a client_credentials token.
func (f *adminFixture) tokenRequest(c credentials, extra url.Values) *response {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest("POST", f.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &response{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	_ = json.Unmarshal(b, &out.JSON)
	return out
}

// token returns an access token for c or fails the test.
func (f *adminFixture) token(c credentials) string {
	f.t.Helper()
	r := f.tokenRequest(c, nil)
	if r.Status != http.StatusOK {
		f.t.Fatalf("token for %s: %d %s", c.ID, r.Status, r.Body)
	}
	return r.str("access_token")
}

// createClient creates a client through the API and returns its credentials.
func (f *adminFixture) createClient(token string, body map[string]any) credentials {
	f.t.Helper()
	r := f.do("POST", "/api/v1/service-clients", token, body)
	if r.Status != http.StatusCreated {
		f.t.Fatalf("create client: %d %s", r.Status, r.Body)
	}
	return credentials{r.str("client.client_id"), r.str("client_secret")}
}

// expect checks status and, when want is not empty, that the body holds
// each of want's substrings.
func expect(t *testing.T, r *response, status int, want ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Body)
	}
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Errorf("body %s does not contain %q", r.Body, w)
		}
	}
}

// scopeID returns the id of a seeded scope.
func (f *adminFixture) scopeID(name string) string {
	f.t.Helper()
	s, err := f.Store.GetScopeByName(context.Background(), name)
	if err != nil {
		f.t.Fatalf("scope %s: %v", name, err)
	}
	return s.ID
}

func names(items []map[string]any, key string) []string {
	var out []string
	for _, m := range items {
		out = append(out, fmt.Sprint(m[key]))
	}
	return out
}
