package authorize_test

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

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// newChrome and screenshot are the shared browser helpers.
func newChrome(t *testing.T) context.Context { return browsertest.New(t) }

func screenshot(t *testing.T, ctx context.Context, name string) { browsertest.Screenshot(t, ctx, name) }

// TestBrowserLoginPage drives the login page in a real headless Chromium:
// focus, the error path, narrow screens, keyboard submission, and the
// redirect to the app's callback, which browsers let through only because
// the page's form-action names the redirect origin.
func TestBrowserLoginPage(t *testing.T) {
	ctx := newChrome(t)
	f := newFixture(t)
	callbacks := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callbacks <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html lang="en"><title>App</title><p id="done">Signed in</p></html>`)
	}))
	defer app.Close()
	redirect := app.URL + "/callback"
	if _, err := f.db.CreateClient(context.Background(), store.Client{ClientID: "dash", Name: "Trading dashboard",
		Type: wire.ClientTypePublic, Active: true, GrantTypes: []string{wire.GrantAuthorizationCode},
		ScopeIDs: f.scopeIDs("trade:read", "market:data"), RedirectURIs: []string{redirect}}); err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "dash", RedirectURL: redirect, Scopes: []string{"trade:read", "market:data"},
		Endpoint: oauth2.Endpoint{AuthURL: f.srv.URL + "/oauth2/authorize", TokenURL: f.srv.URL + "/oauth2/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()

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

	step("open", chromedp.Navigate(conf.AuthCodeURL("page-state", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("username")))
	if got := eval(`document.activeElement.id`); got != "username" {
		t.Errorf("focus starts on %v, want username", got)
	}
	if got := eval(`getComputedStyle(document.querySelector("button.primary")).backgroundColor`); got == "rgba(0, 0, 0, 0)" {
		t.Error("the stylesheet did not load (CSP or path)")
	}
	screenshot(t, ctx, "login.png")

	step("wrong password", chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "wrong"+kb.Enter), chromedp.WaitVisible(chromedp.ID("login-error")))
	if got := eval(`document.getElementById("login-error").textContent`); got != "The username or password is incorrect." {
		t.Errorf("error text %q", got)
	}
	if got := eval(`document.activeElement.id`); got != "password" {
		t.Errorf("after an error focus is on %v, want password", got)
	}
	step("narrow", chromedp.EmulateViewport(320, 640))
	if got := eval(`document.documentElement.scrollWidth <= window.innerWidth`); got != true {
		t.Error("the page scrolls sideways at 320px")
	}
	screenshot(t, ctx, "login-error-narrow.png")
	step("wide", chromedp.EmulateViewport(1000, 760))

	step("sign in", chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter), chromedp.WaitVisible(chromedp.ID("done")))
	var q url.Values
	select {
	case q = <-callbacks:
	case <-time.After(15 * time.Second):
		t.Fatal("the callback was never called")
	}
	if q.Get("state") != "page-state" || q.Get("iss") != f.srv.URL || !strings.HasPrefix(q.Get("code"), "pmc_") {
		t.Fatalf("callback query %v", q)
	}
	tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if claims, err := f.provider.VerifyAccess(context.Background(), tok.AccessToken); err != nil || claims.Username != "alice" {
		t.Errorf("token: %+v %v", claims, err)
	}
}
