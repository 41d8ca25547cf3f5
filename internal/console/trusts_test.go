package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// browser is a signed-in console session against a fake server.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.http.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if m := csrfField.FindStringSubmatch(string(body)); m != nil {
		b.csrf = m[1]
	}
	return res, string(body)
}

func (b *browser) post(path string, v url.Values) *http.Response {
	b.t.Helper()
	v.Set("csrf", b.csrf)
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// signIn starts a console over api (with fakeServer's token endpoint and
// pages behind it) and signs in.
func signIn(t *testing.T, api *http.ServeMux) *browser {
	const secret = "pms_console"
	api.Handle("/", fakeServer(t, secret))
	var c *Console
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	c, err = New(context.Background(), Config{Issuer: srv.URL, Handler: api, Store: &memStore{}, Hasher: plainHasher{}, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	res, _ := b.get("/admin/signin?return=/admin/")
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res, body := b.get("/admin/callback?code=c&state=" + url.QueryEscape(loc.Query().Get("state")) + "&iss=" + url.QueryEscape(srv.URL)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", res.StatusCode, body)
	}
	return b
}

const trustJSON = `{"id":"t1","name":"prod-k8s","issuer":"https://k8s.example","key_source":"oidc","audience":"https://permiso.example",
"max_token_age":3600,"is_active":true,"bindings":[{"id":"b1","trust":"prod-k8s","client_id":"bot","subject":"system:serviceaccount:trading:bot",
"conditions":{"kubernetes.io.namespace":["trading"]}}]}`

func TestTrustPages(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	bodies := map[string]map[string]any{}
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path)
		if r.Body != nil {
			var m map[string]any
			if json.NewDecoder(r.Body).Decode(&m) == nil {
				bodies[r.Method+" "+r.URL.Path] = m
			}
		}
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/trusts", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"trusts":[`+trustJSON+`],"total":1}`)
	})
	api.HandleFunc("POST /api/v1/trusts", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		w.WriteHeader(201)
		io.WriteString(w, trustJSON)
	})
	api.HandleFunc("GET /api/v1/trusts/prod-k8s", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, trustJSON) })
	api.HandleFunc("GET /api/v1/trusts/prod-k8s/keys", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		io.WriteString(w, `{"trust":"prod-k8s","kids":["k8s-1","k8s-2"]}`)
	})
	for _, route := range []string{"PUT /api/v1/trusts/prod-k8s", "POST /api/v1/trusts/prod-k8s/bindings",
		"DELETE /api/v1/trusts/prod-k8s/bindings/b1", "DELETE /api/v1/trusts/prod-k8s", "PUT /api/v1/service-clients/bot"} {
		api.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			record(r)
			if strings.HasSuffix(r.URL.Path, "/bindings") {
				w.WriteHeader(201)
				io.WriteString(w, `{}`)
				return
			}
			if r.Method == "PUT" && strings.Contains(r.URL.Path, "service-clients") {
				io.WriteString(w, `{}`)
				return
			}
			w.WriteHeader(204)
		})
	}
	api.HandleFunc("GET /api/v1/service-clients/bot", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"client_id":"bot","name":"Bot","client_type":"confidential","is_active":true,"token_endpoint_auth_method":"federated_jwt"}`)
	})
	api.HandleFunc("GET /api/v1/service-clients/keyed", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"client_id":"keyed","name":"Keyed","client_type":"confidential","is_active":true,"token_endpoint_auth_method":"private_key_jwt",
"jwks":{"keys":[{"kty":"EC","crv":"P-256","kid":"bot-2026","x":"x","y":"y"}]}}`)
	})
	b := signIn(t, api)

	res, body := b.get("/admin/trusts")
	if res.StatusCode != 200 || !strings.Contains(body, `href="/admin/trusts/prod-k8s"`) || !strings.Contains(body, "<caption>1 trust</caption>") ||
		!strings.Contains(body, `aria-current="page">Trusts<`) {
		t.Fatalf("trusts page: %d %s", res.StatusCode, body)
	}
	res = b.post("/admin/trusts", url.Values{"name": {"prod-k8s"}, "key_source": {"oidc"}, "issuer": {"https://k8s.example"},
		"jwks_uri": {"https://ignored.example"}, "max_token_age": {"600"}})
	if res.Header.Get("Location") != "/admin/trusts/prod-k8s" {
		t.Fatalf("create: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	want := map[string]any{"name": "prod-k8s", "key_source": "oidc", "issuer": "https://k8s.example", "description": "", "max_token_age": float64(600)}
	if got := bodies["POST /api/v1/trusts"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("create body (fields of other sources must not be sent):\n got %v\nwant %v", got, want)
	}
	// Bad JSON in a static key set is caught before the API.
	if res := b.post("/admin/trusts", url.Values{"name": {"x"}, "key_source": {"jwks"}, "issuer": {"https://i"}, "jwks": {"{nope"}}); res.Header.Get("Location") != "/admin/trusts" {
		t.Fatal(res.Header.Get("Location"))
	}
	if _, body := b.get("/admin/trusts"); !strings.Contains(body, "The JWK Set is not valid JSON.") {
		t.Fatalf("bad JWKS not reported: %s", body)
	}

	_, body = b.get("/admin/trusts/prod-k8s")
	for _, want := range []string{"system:serviceaccount:trading:bot", "kubernetes.io.namespace = trading", `id="check-keys"`, `value="oidc" selected`} {
		if !strings.Contains(body, want) {
			t.Errorf("trust page lacks %q:\n%s", want, body)
		}
	}
	if slices.Contains(calls, "GET /api/v1/trusts/prod-k8s/keys") {
		t.Fatal("the trust page fetched keys unasked")
	}
	if _, body = b.get("/admin/trusts/prod-k8s?check=keys"); !strings.Contains(body, "Permiso fetched 2 keys: <code>k8s-1, k8s-2</code>") {
		t.Fatalf("key check: %s", body)
	}

	b.post("/admin/trusts/prod-k8s/bindings", url.Values{"client_id": {"bot"}, "subject": {"system:serviceaccount:trading:bot"},
		"conditions": {"kubernetes.io.namespace = trading\nkubernetes.io.serviceaccount.name = bot, pricer\n"}})
	wantB := map[string]any{"client_id": "bot", "subject": "system:serviceaccount:trading:bot", "conditions": map[string]any{
		"kubernetes.io.namespace": []any{"trading"}, "kubernetes.io.serviceaccount.name": []any{"bot", "pricer"}}}
	if got := bodies["POST /api/v1/trusts/prod-k8s/bindings"]; !reflect.DeepEqual(got, wantB) {
		t.Fatalf("binding body:\n got %v\nwant %v", got, wantB)
	}
	b.post("/admin/trusts/prod-k8s/bindings", url.Values{"client_id": {"bot"}, "subject": {"s"}, "conditions": {"no equals sign"}})
	if _, body := b.get("/admin/trusts/prod-k8s"); !strings.Contains(body, "Condition on line 1 must read claim = value") {
		t.Fatalf("bad condition not reported: %s", body)
	}
	b.post("/admin/trusts/prod-k8s/bindings/b1/delete", url.Values{})
	b.post("/admin/trusts/prod-k8s/status", url.Values{"active": {"0"}})
	if got := bodies["PUT /api/v1/trusts/prod-k8s"]; !reflect.DeepEqual(got, map[string]any{"is_active": false}) {
		t.Fatalf("disable body: %v", got)
	}
	b.post("/admin/trusts/prod-k8s", url.Values{"key_source": {"oidc"}, "issuer": {"https://k8s2.example"}, "audience": {"https://permiso.example"}, "max_token_age": {"3600"}})
	if got := bodies["PUT /api/v1/trusts/prod-k8s"]; got["issuer"] != "https://k8s2.example" || got["jwks_uri"] != nil {
		t.Fatalf("update body: %v", got)
	}
	if res := b.post("/admin/trusts/prod-k8s/delete", url.Values{}); res.Header.Get("Location") != "/admin/trusts/prod-k8s" {
		t.Fatal("deleted without confirmation")
	}
	if res := b.post("/admin/trusts/prod-k8s/delete", url.Values{"confirm": {"1"}}); res.Header.Get("Location") != "/admin/trusts" {
		t.Fatal(res.Header.Get("Location"))
	}
	for _, c := range []string{"DELETE /api/v1/trusts/prod-k8s/bindings/b1", "DELETE /api/v1/trusts/prod-k8s"} {
		if !slices.Contains(calls, c) {
			t.Errorf("no call %s in %v", c, calls)
		}
	}

	// A federated client's page lists the identities it is bound to and
	// offers no secret rotation; a keyed client's page names its keys.
	_, body = b.get("/admin/clients/bot")
	if !strings.Contains(body, `<a href="/admin/trusts/prod-k8s">prod-k8s</a>: <code>system:serviceaccount:trading:bot</code>`) ||
		strings.Contains(body, "rotate-secret") || !strings.Contains(body, `id="client-auth-method">federated_jwt<`) {
		t.Fatalf("federated client page: %s", body)
	}
	if _, body = b.get("/admin/clients/keyed"); !strings.Contains(body, `id="client-keys">bot-2026 (EC)<`) || strings.Contains(body, "rotate-secret") {
		t.Fatalf("keyed client page: %s", body)
	}
	b.post("/admin/clients/bot/credentials", url.Values{"auth_method": {"tls_client_auth"}, "tls_field": {"san_dns"}, "tls_value": {"bot.example"}})
	wantC := map[string]any{"token_endpoint_auth_method": "tls_client_auth", "jwks": nil, "jwks_uri": "",
		"tls_client_auth_subject_dn": "", "tls_client_auth_san_dns": "bot.example", "tls_client_auth_san_uri": "",
		"tls_client_auth_san_ip": "", "tls_client_auth_san_email": ""}
	if got := bodies["PUT /api/v1/service-clients/bot"]; !reflect.DeepEqual(got, wantC) {
		t.Fatalf("credentials body:\n got %v\nwant %v", got, wantC)
	}
}

func TestParseConditions(t *testing.T) {
	got, bad := parseConditions("repository = acme/bot\n\n ref = refs/heads/main, refs/tags/v1 \r\nworkflow = CI build")
	want := map[string][]string{"repository": {"acme/bot"}, "ref": {"refs/heads/main", "refs/tags/v1"}, "workflow": {"CI build"}}
	if bad != "" || !reflect.DeepEqual(got, want) {
		t.Fatalf("%v %q", got, bad)
	}
	if got, bad := parseConditions("  \n"); got != nil || bad != "" {
		t.Fatalf("empty: %v %q", got, bad)
	}
	for _, s := range []string{"repository", "= x", "ref ="} {
		if _, bad := parseConditions(s); bad == "" {
			t.Errorf("%q accepted", s)
		}
	}
	if s := formatConditions(want); s != "ref = refs/heads/main, refs/tags/v1; repository = acme/bot; workflow = CI build" {
		t.Fatal(s)
	}
}
