package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

func TestStartWithNothing(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, name := range []string{"permiso.db", "master.key", server.BootstrapFile} {
		fi, err := os.Stat(filepath.Join(ts.DataDir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if name != "permiso.db" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if r := ts.do("GET", "/healthz", nil, nil); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	if r := ts.do("GET", "/readyz", nil, nil); r.Status != 200 {
		t.Fatalf("readyz %d %s", r.Status, r.Body)
	}
	r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, ts.AdminID, ts.Secret)
	if r.Status != 200 {
		t.Fatalf("admin token: %d %s", r.Status, r.Body)
	}
	granted := strings.Fields(r.str("scope"))
	for _, want := range []string{"admin:users", "admin:clients", "admin:roles", "admin:sessions", "admin:tokens", "admin:audit", "admin:system"} {
		if !slices.Contains(granted, want) {
			t.Errorf("bootstrap admin lacks %s (got %v)", want, granted)
		}
	}
}

func TestRestartKeepsStateAndDoesNotReprintCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var first strings.Builder
	ts := newTestServer(t, func(c *server.Config) { c.DataDir = dir; c.Out = &first })
	if !strings.Contains(first.String(), ts.Secret) {
		t.Fatal("first start did not print the bootstrap secret")
	}
	tok := ts.adminToken()
	_ = tok
	// A second server on the same data directory (after the first stops
	// would be cleaner, but SQLite WAL allows a reader-writer overlap here).
	var second strings.Builder
	ts2 := newTestServer(t, func(c *server.Config) { c.DataDir = dir; c.Out = &second })
	if second.Len() != 0 {
		t.Fatalf("second start printed credentials again: %q", second.String())
	}
	ts2.token(ts.AdminID, ts.Secret, nil)
}

func TestTokenEndpoint(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{
		"name": "svc", "scope_ids": []string{"trade:read", "market:data"},
		"audiences": []string{"https://mt5.example", "https://other.example"}, "access_token_lifetime": 600,
	})
	noAud, noAudSecret := ts.createClient(map[string]any{"name": "plain", "scope_ids": []string{"trade:read"}})
	disabled, disabledSecret := ts.createClient(map[string]any{"name": "off", "scope_ids": []string{"trade:read"}, "is_active": false})

	basic := func(v url.Values) *response { return ts.form("/oauth2/token", v, id, secret) }
	cc := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name      string
		res       *response
		status    int
		errCode   string
		scope     string
		aud       []string
		expiresIn float64
		wwwAuth   bool
	}{
		{name: "basic auth, all scopes", res: basic(cc()), status: 200, scope: "market:data trade:read", aud: []string{"https://mt5.example"}, expiresIn: 600},
		{name: "post auth", res: ts.form("/oauth2/token", cc("client_id", id, "client_secret", secret), "", ""), status: 200, scope: "market:data trade:read"},
		{name: "scope subset", res: basic(cc("scope", "market:data")), status: 200, scope: "market:data"},
		{name: "scope not held", res: basic(cc("scope", "trade:read admin:users")), status: 400, errCode: "invalid_scope"},
		{name: "resource selects aud", res: basic(cc("resource", "https://other.example")), status: 200, aud: []string{"https://other.example"}},
		{name: "audience alias", res: basic(cc("audience", "https://other.example")), status: 200, aud: []string{"https://other.example"}},
		{name: "resource not allowed", res: basic(cc("resource", "https://evil.example")), status: 400, errCode: "invalid_target"},
		{name: "relative resource", res: basic(cc("resource", "/api")), status: 400, errCode: "invalid_target"},
		{name: "no audiences: issuer", res: ts.form("/oauth2/token", cc(), noAud, noAudSecret), status: 200, aud: []string{ts.URL}},
		{name: "wrong secret", res: ts.form("/oauth2/token", cc(), id, "pms_wrong"), status: 401, errCode: "invalid_client", wwwAuth: true},
		{name: "unknown client", res: ts.form("/oauth2/token", cc(), "nobody", "pms_x"), status: 401, errCode: "invalid_client", wwwAuth: true},
		{name: "disabled client", res: ts.form("/oauth2/token", cc(), disabled, disabledSecret), status: 401, errCode: "invalid_client", wwwAuth: true},
		{name: "no client auth", res: ts.form("/oauth2/token", cc(), "", ""), status: 401, errCode: "invalid_client", wwwAuth: true},
		{name: "unsupported grant", res: basic(url.Values{"grant_type": {"urn:magic"}}), status: 400, errCode: "unsupported_grant_type"},
		{name: "missing grant_type", res: basic(url.Values{}), status: 400, errCode: "invalid_request"},
		{name: "two auth methods", res: ts.form("/oauth2/token", cc("client_secret", secret), id, secret), status: 400, errCode: "invalid_request"},
		{name: "repeated parameter", res: basic(url.Values{"grant_type": {"client_credentials", "client_credentials"}}), status: 400, errCode: "invalid_request"},
		{name: "json body", res: ts.jsonReq("POST", "/oauth2/token", "", map[string]string{"grant_type": "client_credentials"}), status: 400, errCode: "invalid_request"},
	}
	var failMsg string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.res
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			if tt.errCode != "" {
				if got := r.str("error"); got != tt.errCode {
					t.Errorf("error %q, want %q", got, tt.errCode)
				}
				if strings.Contains(string(r.Body), "sql") || strings.Contains(string(r.Body), "goroutine") {
					t.Errorf("error body leaks internals: %s", r.Body)
				}
				if tt.wwwAuth && r.Header.Get("WWW-Authenticate") == "" {
					t.Error("missing WWW-Authenticate")
				}
				if tt.errCode == "invalid_client" {
					if failMsg == "" {
						failMsg = r.str("error_description")
					} else if r.str("error_description") != failMsg && tt.name != "no client auth" {
						t.Errorf("invalid_client message %q differs from %q", r.str("error_description"), failMsg)
					}
				}
				return
			}
			if r.Header.Get("Pragma") != "no-cache" {
				t.Error("missing Pragma: no-cache")
			}
			if r.str("token_type") != "Bearer" || r.str("access_token") == "" {
				t.Fatalf("bad token response %s", r.Body)
			}
			if tt.scope != "" && r.str("scope") != tt.scope {
				t.Errorf("scope %q, want %q", r.str("scope"), tt.scope)
			}
			if tt.expiresIn != 0 && r.JSON["expires_in"] != tt.expiresIn {
				t.Errorf("expires_in %v, want %v", r.JSON["expires_in"], tt.expiresIn)
			}
			claims := decodeClaims(t, r.str("access_token"))
			if tt.aud != nil {
				if got := audList(claims["aud"]); strings.Join(got, " ") != strings.Join(tt.aud, " ") {
					t.Errorf("aud %v, want %v", got, tt.aud)
				}
			}
		})
	}
}

func audList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, len(v))
		for i, s := range v {
			out[i], _ = s.(string)
		}
		return out
	}
	return nil
}

func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAccessTokenIsRFC9068AndVerifiesAgainstJWKS(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "svc", "scope_ids": []string{"trade:read"},
		"audiences": []string{"https://mt5.example"}, "is_trusted": true})
	tok := ts.token(id, secret, nil)

	jwksRes := ts.do("GET", "/.well-known/jwks.json", nil, nil)
	if jwksRes.Status != 200 || !strings.Contains(jwksRes.Header.Get("Cache-Control"), "max-age") || jwksRes.Header.Get("ETag") == "" {
		t.Fatalf("jwks: %d %v", jwksRes.Status, jwksRes.Header)
	}
	if r := ts.do("GET", "/.well-known/jwks.json", http.Header{"If-None-Match": {jwksRes.Header.Get("ETag")}}, nil); r.Status != 304 {
		t.Errorf("conditional JWKS: %d, want 304", r.Status)
	}
	// Verify as a resource server would: the published JWKS, typ at+jwt.
	set, err := jwt.ParseJWKS(jwksRes.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{"at+jwt"}, Algorithms: []string{jwt.ES256},
		Issuer: ts.URL, Audience: []string{"https://mt5.example"}})
	if err != nil {
		t.Fatal(err)
	}
	verified, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if h := verified.Header; h.Type != "at+jwt" || h.KeyID == "" || h.Algorithm != "ES256" || verified.Key.Algorithm != "ES256" {
		t.Fatalf("header %+v", h)
	}
	var c map[string]any
	if err := verified.Decode(&c); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "scopes", "type", "is_trusted"} {
		if _, ok := c[k]; !ok {
			t.Errorf("claim %s missing", k)
		}
	}
	if c["iss"] != ts.URL || c["sub"] != id || c["client_id"] != id || c["type"] != "service" || c["is_trusted"] != true {
		t.Errorf("claims %v", c)
	}
}

func TestGolangOAuth2ClientCredentials(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "svc", "scope_ids": []string{"trade:read", "market:data"}})
	for _, style := range []struct {
		name string
		opt  func(*clientcredentials.Config)
	}{
		{"header", func(c *clientcredentials.Config) { c.AuthStyle = 2 }},
		{"params", func(c *clientcredentials.Config) { c.AuthStyle = 1 }},
	} {
		t.Run(style.name, func(t *testing.T) {
			cfg := &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: ts.URL + "/oauth2/token", Scopes: []string{"market:data"}}
			style.opt(cfg)
			tok, err := cfg.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.Type() != "Bearer" || tok.Expiry.IsZero() {
				t.Fatalf("token %+v", tok)
			}
			if got := tok.Extra("scope"); got != "market:data" {
				t.Errorf("scope %v", got)
			}
		})
	}
}
