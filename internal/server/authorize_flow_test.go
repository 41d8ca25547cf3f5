package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestAuthorizationCodeFlow is the browser login for apps end to end:
// a public client registered through the API, a user registered through
// the API, x/oauth2 with PKCE, the login form posted with its CSRF token,
// the 303 back with code, state and iss, the exchange, a user token, and
// a refresh with the rotating refresh token.
func TestAuthorizationCodeFlow(t *testing.T) {
	ts := newTestServer(t, nil)
	cb := httptest.NewServer(http.NotFoundHandler()) // only its address is used
	defer cb.Close()
	redirect := cb.URL + "/cb"
	clientID := ts.publicClient(redirect, "trade:read", "market:data", "account:read")
	userID := ts.newUser("dana", "trader")

	conf := ts.oauthConfig(clientID, redirect, "trade:read", "market:data")
	verifier := oauth2.GenerateVerifier()
	state := "state-" + strings.Repeat("x", 20)
	b := newBrowser(t)
	res := b.signIn(ts.URL, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "dana", userPassword)
	if res.Status != http.StatusSeeOther {
		t.Fatalf("login: want 303, got %d: %.300s", res.Status, res.Body)
	}
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("redirected to %s", loc)
	}
	q := redirectQuery(t, res)
	if q.Get("state") != state || q.Get("iss") != ts.URL || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}

	tok, err := conf.Exchange(bg, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	c := jwtClaims(t, tok.AccessToken)
	if c["sub"] != userID || c["username"] != "dana" || c["client_id"] != clientID || c["iss"] != ts.URL {
		t.Errorf("claims %v", c)
	}
	if c["scope"] != "trade:read market:data" {
		t.Errorf("scope = %v", c["scope"])
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for a client that lists refresh_token")
	}
	me := ts.jsonReq("GET", "/api/v1/users/me", tok.AccessToken, nil)
	if me.Status != 200 || me.str("username") != "dana" {
		t.Errorf("/users/me with the token: %d %s", me.Status, me.Body)
	}

	// Refresh: x/oauth2 refreshes an expired token with the refresh token,
	// and Permiso rotates it.
	old := *tok
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(bg, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == old.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == old.RefreshToken {
		t.Errorf("refresh did not rotate: %+v", fresh)
	}
	if got := jwtClaims(t, fresh.AccessToken); got["sub"] != userID || got["scope"] != "trade:read market:data" {
		t.Errorf("refreshed claims %v", got)
	}
	// The used refresh token is spent.
	r := ts.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.RefreshToken},
		"client_id": {clientID}}, "", "")
	if r.Status != 400 || r.str("error") != "invalid_grant" {
		t.Errorf("reused refresh token: %d %s", r.Status, r.Body)
	}
}

// TestAuthorizationCodeFlowErrors covers the failures an outside client
// can cause, through the real server.
func TestAuthorizationCodeFlowErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	redirect := "http://127.0.0.1:9/cb"
	clientID := ts.publicClient(redirect, "trade:read")
	ts.newUser("erin", "trader")
	conf := ts.oauthConfig(clientID, redirect)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	codeFor := func(t *testing.T) string {
		q := redirectQuery(t, newBrowser(t).signIn(ts.URL, authURL, "erin", userPassword))
		return q.Get("code")
	}

	t.Run("wrong redirect_uri is an HTML page, never a redirect", func(t *testing.T) {
		u := strings.Replace(authURL, url.QueryEscape(redirect), url.QueryEscape("http://evil.example/cb"), 1)
		p := newBrowser(t).get(u)
		if p.Status != 400 || p.Header.Get("Location") != "" || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%d Location=%q %s", p.Status, p.Header.Get("Location"), p.Header.Get("Content-Type"))
		}
	})
	t.Run("missing PKCE for a public client", func(t *testing.T) {
		q := redirectQuery(t, newBrowser(t).get(conf.AuthCodeURL("st")))
		if q.Get("error") != "invalid_request" || q.Get("state") != "st" || q.Get("iss") != ts.URL {
			t.Errorf("%v", q)
		}
	})
	t.Run("plain PKCE method", func(t *testing.T) {
		u := conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", verifier),
			oauth2.SetAuthURLParam("code_challenge_method", "plain"))
		if q := redirectQuery(t, newBrowser(t).get(u)); q.Get("error") != "invalid_request" {
			t.Errorf("%v", q)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		_, err := conf.Exchange(bg, codeFor(t), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("code reuse", func(t *testing.T) {
		code := codeFor(t)
		tok, err := conf.Exchange(bg, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conf.Exchange(bg, code, oauth2.VerifierOption(verifier))
		if re, ok := err.(*oauth2.RetrieveError); !ok || re.ErrorCode != "invalid_grant" {
			t.Errorf("second exchange err = %v", err)
		}
		// The tokens of the first exchange die with the session.
		if r := ts.jsonReq("GET", "/api/v1/users/me", tok.AccessToken, nil); r.Status != 401 {
			t.Errorf("access token after code reuse: %d", r.Status)
		}
		r := ts.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_id": {clientID}}, "", "")
		if r.Status != 400 {
			t.Errorf("refresh token after code reuse: %d %s", r.Status, r.Body)
		}
	})
	t.Run("CSRF token missing or wrong", func(t *testing.T) {
		for _, token := range []string{"", strings.Repeat("A", 43)} {
			b := newBrowser(t)
			p := b.get(authURL)
			p.Form.Set("username", "erin")
			p.Form.Set("password", userPassword)
			p.Form.Set("csrf_token", token)
			if got := b.post(ts.URL+p.Action, p.Form); got.Status != 403 || got.Header.Get("Location") != "" {
				t.Errorf("csrf_token %q: %d", token, got.Status)
			}
		}
	})
	t.Run("wrong password shows the form again", func(t *testing.T) {
		p := newBrowser(t).signIn(ts.URL, authURL, "erin", "Wrong!Pass-1")
		if p.Status != 200 || !strings.Contains(p.Body, "username or password is incorrect") || p.Form.Get("csrf_token") == "" {
			t.Errorf("%d %.300s", p.Status, p.Body)
		}
	})
	t.Run("metadata lists the endpoint", func(t *testing.T) {
		m := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
		if m.str("authorization_endpoint") != ts.URL+"/oauth2/authorize" || m.JSON["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("%s", m.Body)
		}
	})
}
