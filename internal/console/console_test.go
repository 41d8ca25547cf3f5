package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// memStore is the console's own client record, in memory.
type memStore struct {
	client  *store.Client
	secrets []store.ClientSecret
}

func (m *memStore) GetClient(_ context.Context, id string) (store.Client, error) {
	if m.client == nil || m.client.ClientID != id {
		return store.Client{}, store.ErrNotFound
	}
	return *m.client, nil
}
func (m *memStore) CreateClient(_ context.Context, c store.Client) (store.Client, error) {
	c.ID = "uuid-console"
	m.client = &c
	return c, nil
}
func (m *memStore) UpdateClient(_ context.Context, _ string, fn func(store.Client) (store.Client, error)) (store.Client, error) {
	c, err := fn(*m.client)
	m.client = &c
	return c, err
}
func (m *memStore) AddClientSecret(_ context.Context, s store.ClientSecret) (store.ClientSecret, error) {
	m.secrets = append(m.secrets, s)
	return s, nil
}
func (m *memStore) ListClientSecrets(context.Context, string, time.Time) ([]store.ClientSecret, error) {
	return m.secrets, nil
}
func (m *memStore) ListScopes(context.Context, store.ScopeFilter) ([]store.Scope, int, error) {
	return []store.Scope{{ID: "id-admin:users", Name: "admin:users"}}, 1, nil
}
func (m *memStore) Lock(ctx context.Context, _ string, fn func(context.Context) error) error {
	return fn(ctx)
}

type plainHasher struct{}

func (plainHasher) Import(s string) ([]byte, error) { return []byte("h:" + s), nil }
func (plainHasher) Match(s string, h []byte) bool   { return string(h) == "h:"+s }

// fakeServer stands in for Permiso's mux: a token endpoint that checks the
// console's credentials and PKCE verifier, and a few API routes.
func fakeServer(t *testing.T, secret string) http.Handler {
	mux := http.NewServeMux()
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u-1","username":"ada","scope":"admin:clients"}`))
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, _ := r.BasicAuth()
		if id != ClientID || sec != secret {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		r.ParseForm()
		if r.PostForm.Get("grant_type") == "authorization_code" && len(r.PostForm.Get("code_verifier")) != 43 {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "h." + payload + ".s", "refresh_token": "pmr_x",
			"expires_in": 900, "scope": "admin:clients"})
	})
	mux.HandleFunc("GET /api/v1/service-clients", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"clients":[{"client_id":"bot","name":"Bot","client_type":"confidential","is_active":true,"scopes":[{"id":"1","name":"market:data"}]}],"total":1,"page":1,"per_page":25,"pages":1}`)
	})
	mux.HandleFunc("POST /api/v1/service-clients", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		io.WriteString(w, `{"client":{"client_id":"new-one","name":"New","is_active":true},"client_secret":"pms_SECRET"}`)
	})
	mux.HandleFunc("GET /api/v1/service-clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"client_id":"new-one","name":"New","client_type":"confidential","is_active":true,"allowed_ips":["10.0.0.0/8"]}`)
	})
	for path, body := range map[string]string{
		"/api/v1/admin/dashboard/stats": `{"users":{"total":3,"active":2,"locked":1},"service_clients":{"total":4,"active":3},"roles_and_permissions":{"total_roles":4,"total_scopes":20},"authentication":{"total_logins_today":5,"failed_logins_today":1,"active_sessions":2}}`,
		"/api/v1/admin/audit/events":    `{"events":[{"id":"e1","time":"2026-11-29T10:00:00Z","type":"login.failure","outcome":"failure","actor_type":"anonymous","target":"ada","ip":"10.1.1.1","details":{"reason":"bad password"}}],"total":1,"page":1,"per_page":50,"pages":3}`,
		"/api/v1/users":                 `{"users":[{"id":"u-1","username":"ada","email":"ada@example.com","is_active":true,"roles":[{"id":"r1","name":"admin"}]}],"total":1,"page":1,"per_page":25,"pages":1}`,
		"/api/v1/users/u-1":             `{"id":"u-1","username":"ada","email":"ada@example.com","is_active":true,"is_locked":true,"locked_until":"2999-01-01T00:00:00Z","lockouts":[{"source":"203.0.113.9","locked_until":"2999-01-01T00:00:00Z"}],"roles":[{"id":"r1","name":"admin"}]}`,
		"/api/v1/roles":                 `{"roles":[{"id":"r1","name":"admin","description":"Administrators","scopes":[{"id":"s1","name":"admin:users"}],"user_count":1}],"total":1,"page":1,"per_page":100,"pages":1}`,
		"/api/v1/roles/scopes":          `{"scopes":[{"id":"s1","name":"admin:users","description":"Manage users","role_count":1},{"id":"s2","name":"market:data"}],"total":2}`,
		"/api/v1/sessions":              `{"sessions":[{"session_id":"se1","ip_address":"10.1.1.1","user_agent":"Chromium","created_at":"2026-11-29T10:00:00Z","expires_at":"2026-11-29T11:00:00Z"}],"total":1}`,
		"/api/v1/sessions/stats":        `{"active_sessions":1,"sessions_created_today":1,"expired_sessions":0,"total_sessions":1}`,
	} {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	}
	mux.HandleFunc("GET /api/v1/admin/keys", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		io.WriteString(w, `{"error":"insufficient_scope","error_description":"This request requires the admin:system scope"}`)
	})
	return mux
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestSignInPagesAndActions(t *testing.T) {
	var c *Console
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.ServeHTTP(w, r) }))
	defer srv.Close()
	const secret = "pms_console"
	var err error
	c, err = New(context.Background(), Config{Issuer: srv.URL, Handler: fakeServer(t, secret), Store: &memStore{},
		Hasher: plainHasher{}, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	res, _ := get("/admin/signin?return=/admin/clients")
	loc, _ := url.Parse(res.Header.Get("Location"))
	state := loc.Query().Get("state")
	res, body := get("/admin/callback?code=c&state=" + url.QueryEscape(state) + "&iss=" + url.QueryEscape(srv.URL))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/clients" {
		t.Fatalf("callback: %d %s %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if c.cfg.Store.(*memStore).client.RedirectURIs[0] != srv.URL+"/admin/callback" || len(c.cfg.Store.(*memStore).secrets) != 1 {
		t.Fatalf("console client not ensured: %+v", c.cfg.Store.(*memStore))
	}

	res, body = get("/admin/clients")
	if res.StatusCode != 200 || !strings.Contains(body, ">bot</a>") || !strings.Contains(body, "market:data") || !strings.Contains(body, `id="signed-in-user">ada<`) {
		t.Fatalf("clients page: %d %s", res.StatusCode, body)
	}
	csrf := csrfField.FindStringSubmatch(body)[1]

	for path, want := range map[string]string{
		"/admin/":          "login.failure",
		"/admin/users":     "ada@example.com",
		"/admin/users/u-1": "locked until 2999-01-01 00:00:00 UTC</span> <small class=\"lockout\">from 203.0.113.9 until 2999-01-01 00:00:00 UTC",
		"/admin/roles":     `value="s1" checked`,
		"/admin/sessions":  "Chromium",
		"/admin/audit?outcome=failure&since=2026-11-29T09:00": "reason=bad password",
	} {
		res, body := get(path)
		if res.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want %q in\n%s", path, res.StatusCode, want, body)
		}
	}
	// Counts are pluralised: one user is "1 user", never "1 users" or "user(s)".
	for path, want := range map[string]string{"/admin/users": "<caption>1 user</caption>", "/admin/roles": "(1 scope, 1 user)"} {
		if _, body := get(path); !strings.Contains(body, want) {
			t.Errorf("%s: want %q in\n%s", path, want, body)
		}
	}
	if res, body := get("/admin/audit?since=yesterday"); res.StatusCode != 200 || !strings.Contains(body, "Times are written like") {
		t.Errorf("bad time filter: %d %s", res.StatusCode, body)
	}

	res, body = get("/admin/keys")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Permission denied: This request requires the admin:system scope.") {
		t.Fatalf("refused page: %d %s", res.StatusCode, body)
	}

	post := func(path string, v url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post("/admin/clients", url.Values{"name": {"New"}, "csrf": {"wrong"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong CSRF token: %d", res.StatusCode)
	}
	res = post("/admin/clients", url.Values{"name": {"New"}, "csrf": {csrf}})
	if res.Header.Get("Location") != "/admin/clients/new-one" {
		t.Fatalf("create: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	_, body = get("/admin/clients/new-one")
	if !strings.Contains(body, `value="pms_SECRET"`) || !strings.Contains(body, `value="10.0.0.0/8"`) {
		t.Fatalf("secret not shown after create: %s", body)
	}
	if _, body = get("/admin/clients/new-one"); strings.Contains(body, "pms_SECRET") {
		t.Fatal("the secret was shown twice")
	}
}
