package authorize_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/internal/tokens"
)

// signIn opens authURL in browser c, fills in the login form and submits
// it; it returns the answer to the submission.
func (f *fixture) signIn(c *http.Client, authURL, username, pw string) *page {
	f.t.Helper()
	p := f.get(c, authURL)
	if p.status != http.StatusOK {
		f.t.Fatalf("GET authorize: %d %.300s", p.status, p.body)
	}
	if p.action != "/oauth2/login" {
		f.t.Fatalf("form action = %q", p.action)
	}
	p.form.Set("username", username)
	p.form.Set("password", pw)
	return f.post(c, p.action, p.form)
}

func (f *fixture) oauthConfig(redirect string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: "spa", RedirectURL: redirect, Scopes: []string{"trade:read", "market:data"},
		Endpoint: oauth2.Endpoint{AuthURL: f.srv.URL + "/oauth2/authorize", TokenURL: f.srv.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams},
	}
}

// TestCodeFlowWithXOAuth2 drives the whole flow with golang.org/x/oauth2
// as the client: PKCE S256, state, the login form, the 303 back with code,
// state and iss, and the exchange.
func TestCodeFlowWithXOAuth2(t *testing.T) {
	f := newFixture(t)
	conf := f.oauthConfig(f.callback)
	verifier := oauth2.GenerateVerifier()
	state := "st-" + tokens.NewID()
	res := f.signIn(f.browser(), conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "alice", password)
	if res.status != http.StatusSeeOther {
		t.Fatalf("login: want 303, got %d: %.300s", res.status, res.body)
	}
	loc := location(t, res)
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://127.0.0.1:9/cb" {
		t.Errorf("redirected to %s", got)
	}
	if q.Get("app") != "1" {
		t.Errorf("existing query parameter lost: %s", loc.RawQuery)
	}
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("iss") != f.srv.URL {
		t.Errorf("iss = %q, want %q", q.Get("iss"), f.srv.URL)
	}
	if !strings.HasPrefix(q.Get("code"), tokens.CodePrefix) {
		t.Fatalf("code = %q", q.Get("code"))
	}
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	claims, err := f.provider.VerifyAccess(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("verify access token: %v", err)
	}
	if claims.Subject != f.user.ID || claims.Username != "alice" || claims.ClientID != "spa" || claims.SessionID == "" {
		t.Errorf("claims = %+v", claims)
	}
	// Asked for trade:read and market:data; the trader role holds both.
	if claims.Scope != "trade:read market:data" {
		t.Errorf("scope = %q", claims.Scope)
	}
	if !claims.Audience.Contains("https://mt5.example") {
		t.Errorf("aud = %v, want the client's default audience", claims.Audience)
	}
}

// TestScopePolicy checks the two halves of the scope rule: asking for a
// scope the client may not hold is invalid_scope before sign-in; scopes the
// client holds but the user's roles do not are dropped at issue.
func TestScopePolicy(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name      string
		scope     *string
		wantError string
		wantScope string
	}{
		{name: "no scope: client's scopes the user holds", scope: nil, wantScope: "market:data trade:read"},
		{name: "subset", scope: ptr("market:data"), wantScope: "market:data"},
		{name: "client holds, user lacks: dropped", scope: ptr("trade:read admin:users"), wantScope: "trade:read"},
		{name: "client lacks: invalid_scope", scope: ptr("trade:read trade:open"), wantError: "invalid_scope"},
		{name: "malformed: invalid_scope", scope: ptr("trade:read \"x\""), wantError: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			v := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "state": {"s1"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
			if tt.scope != nil {
				v.Set("scope", *tt.scope)
			}
			c := f.browser()
			if tt.wantError != "" {
				q := location(t, f.get(c, f.authURL(v))).Query()
				if q.Get("error") != tt.wantError || q.Get("state") != "s1" || q.Get("iss") != f.srv.URL {
					t.Fatalf("redirect query = %v", q)
				}
				return
			}
			code := location(t, f.signIn(c, f.authURL(v), "alice", password)).Query().Get("code")
			tok, err := f.oauthConfig("").Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Fields(tok.Extra("scope").(string))
			want := strings.Fields(tt.wantScope)
			if strings.Join(sorted(got), " ") != strings.Join(sorted(want), " ") {
				t.Errorf("scope = %v, want %v", got, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
