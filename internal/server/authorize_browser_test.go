package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chromedp/chromedp/kb"
	"github.com/permiso-auth/permiso/internal/browsertest"
	"golang.org/x/oauth2"
)

// newChrome and screenshot are the shared browser helpers.
func newChrome(t *testing.T) context.Context { return browsertest.New(t) }

func screenshot(t *testing.T, ctx context.Context, name string) { browsertest.Screenshot(t, ctx, name) }

// TestBrowserLogin drives the login page in a real headless Chromium: the
// app sends the browser to /oauth2/authorize with PKCE, the user mistypes
// the password, reads the error, signs in with the keyboard, the browser
// follows the redirect to the app's callback, and the app exchanges the
// code for a token with x/oauth2.
func TestBrowserLogin(t *testing.T) {
	ctx := newChrome(t)
	ts := newTestServer(t, nil)
	callbacks := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callbacks <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><title>App</title><p id="done">Signed in</p></html>`)
	}))
	defer app.Close()
	redirect := app.URL + "/callback"
	clientID := ts.publicClient(redirect, "trade:read", "market:data")
	userID := ts.newUser("grace", "trader")
	conf := ts.oauthConfig(clientID, redirect, "trade:read")
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(verifier))

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}

	step("open the login page", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("username")))
	if got := eval(`document.activeElement.id`); got != "username" {
		t.Errorf("focus starts on %v, want the username field", got)
	}
	if got := eval(`document.documentElement.lang`); got != "en" {
		t.Errorf("lang = %v", got)
	}

	step("submit a wrong password", chromedp.SendKeys(chromedp.ID("username"), "grace"),
		chromedp.SendKeys(chromedp.ID("password"), "Wrong!Pass-1"+kb.Enter), chromedp.WaitVisible(chromedp.ID("login-error")))
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("login-error")))
	if err != nil || !strings.Contains(msg, "username or password is incorrect") {
		t.Errorf("error message %q, %v", msg, err)
	}
	if got := eval(`document.getElementById("password").getAttribute("aria-describedby")`); got != "login-error" {
		t.Errorf("password aria-describedby = %v", got)
	}
	if got := eval(`document.getElementById("username").value`); got != "grace" {
		t.Errorf("username not kept: %v", got)
	}

	// Narrow screens: nothing scrolls sideways.
	step("narrow viewport", chromedp.EmulateViewport(320, 640))
	if got := eval(`document.documentElement.scrollWidth <= window.innerWidth`); got != true {
		t.Error("the login page scrolls horizontally at 320px")
	}
	step("wide viewport", chromedp.EmulateViewport(1000, 760))

	step("sign in with the keyboard", chromedp.SendKeys(chromedp.ID("password"), userPassword+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("done")))
	var q url.Values
	for q == nil {
		select {
		case v := <-callbacks:
			if v.Get("code") != "" || v.Get("error") != "" {
				q = v
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the browser never reached the callback")
		}
	}
	if q.Get("state") != "browser-state" || q.Get("iss") != ts.URL || q.Get("code") == "" {
		t.Fatalf("callback query %v", q)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, redirect+"?") {
		t.Errorf("browser ended at %s", loc)
	}
	tok, err := conf.Exchange(bg, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if c := jwtClaims(t, tok.AccessToken); c["sub"] != userID || c["username"] != "grace" || c["scope"] != "trade:read" {
		t.Errorf("claims %v", c)
	}
}
