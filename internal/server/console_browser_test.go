package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsoleBrowser drives the admin console in headless Chromium: an
// administrator signs in through Permiso's login page, creates a client
// (whose secret then gets a token), rotates its secret, disables it (after
// which it gets no token), finds each action in the audit log page, and
// signs out.
func TestConsoleBrowser(t *testing.T) {
	ctx := newChrome(t)
	ts := newTestServer(t, nil)
	// ada administers and trades: she grants only scopes she holds.
	adaID := ts.newUser("ada", "admin")
	if r := ts.jsonReq("POST", "/api/v1/users/"+adaID+"/roles", ts.adminToken(), map[string]any{"role_name": "trader"}); r.Status != 200 {
		t.Fatalf("add trader role: %d %s", r.Status, r.Body)
	}

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\n%s", name, err, html)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	value := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("value of %s: %v", id, err)
		}
		return v
	}
	tokenStatus := func(id, secret string) int {
		t.Helper()
		return ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status
	}

	step("open the console: Permiso's login page", chromedp.Navigate(ts.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.ID("username")))
	step("sign in", chromedp.SendKeys(chromedp.ID("username"), "ada"),
		chromedp.SendKeys(chromedp.ID("password"), userPassword+kb.Enter), chromedp.WaitVisible(chromedp.ID("clients-table")))
	if got := text("#signed-in-user"); got != "ada" {
		t.Errorf("signed in as %q", got)
	}
	if got := text("a.skip"); got != "Skip to content" {
		t.Errorf("skip link %q", got)
	}

	step("create a client", chromedp.SendKeys(chromedp.ID("c-name"), "Reporting job"),
		chromedp.SendKeys(chromedp.ID("c-id"), "reporting-job"), chromedp.SendKeys(chromedp.ID("c-scopes"), "market:data"),
		chromedp.Click(chromedp.CSS("#create-client button[type=submit]")), chromedp.WaitVisible(chromedp.ID("new-secret")))
	first := value("new-secret")
	if !strings.HasPrefix(first, "pms_") {
		t.Fatalf("secret shown: %q", first)
	}
	screenshot(t, ctx, "console-client-created.png")
	if s := tokenStatus("reporting-job", first); s != 200 {
		t.Fatalf("the new client's secret got %d from the token endpoint", s)
	}

	step("rotate its secret, revoking the old one at once", chromedp.SetValue(chromedp.ID("grace"), "0"),
		chromedp.Click(chromedp.ID("rotate-secret")), chromedp.WaitVisible(chromedp.ID("new-secret")))
	// The page before the rotation showed a secret too: wait for the new one.
	second := value("new-secret")
	for deadline := time.Now().Add(10 * time.Second); second == first && time.Now().Before(deadline); second = value("new-secret") {
		time.Sleep(50 * time.Millisecond)
	}
	if second == first || !strings.HasPrefix(second, "pms_") {
		t.Fatalf("rotation showed %q", second)
	}
	if s := tokenStatus("reporting-job", first); s != 401 {
		t.Errorf("old secret after rotation: %d, want 401", s)
	}
	if s := tokenStatus("reporting-job", second); s != 200 {
		t.Errorf("new secret: %d, want 200", s)
	}

	step("disable it", chromedp.Click(chromedp.ID("disable-client")), chromedp.WaitVisible(chromedp.ID("enable-client")))
	if got := text("#client-status"); !strings.Contains(got, "disabled") {
		t.Errorf("status after disabling: %q", got)
	}
	screenshot(t, ctx, "console-client-disabled.png")
	if s := tokenStatus("reporting-job", second); s != 401 {
		t.Errorf("disabled client got %d from the token endpoint, want 401", s)
	}

	// Audit events are written in batches: look until all three are there.
	want := []string{"client.created", "client.secret_rotated", "client.updated"}
	step("open the audit log", chromedp.Navigate(ts.URL+"/admin/audit"), chromedp.WaitVisible(chromedp.ID("f-target")))
	deadline := time.Now().Add(20 * time.Second)
	for {
		step("filter by target", chromedp.SetValue(chromedp.ID("f-target"), "reporting-job"),
			chromedp.Submit(chromedp.ID("f-target")), chromedp.WaitVisible(chromedp.ID("audit-table")))
		body := text("#audit-table")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			if !strings.Contains(body, "user") || strings.Contains(body, second) || strings.Contains(body, first) {
				t.Errorf("audit rows should name the user as actor and never a secret:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit log page lacks %s:\n%s", missing, body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	screenshot(t, ctx, "console-audit.png")

	step("clients list", chromedp.Navigate(ts.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.ID("clients-table")))
	screenshot(t, ctx, "console-clients.png")
	step("signing keys", chromedp.Navigate(ts.URL+"/admin/keys"), chromedp.WaitVisible(chromedp.ID("keys-table")))
	screenshot(t, ctx, "console-keys.png")
	step("overview", chromedp.Navigate(ts.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("counts-h")))
	screenshot(t, ctx, "console-overview.png")

	step("narrow viewport", chromedp.EmulateViewport(360, 740), chromedp.Navigate(ts.URL+"/admin/clients/reporting-job"),
		chromedp.WaitVisible(chromedp.ID("client-id")))
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !v {
		t.Errorf("the client page scrolls sideways at 360px (%v)", err)
	}
	screenshot(t, ctx, "console-narrow.png")
	step("wide viewport", chromedp.EmulateViewport(1000, 760))

	step("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	step("the console asks to sign in again", chromedp.Navigate(ts.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("username")))
}
