package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/permiso-auth/permiso/sdk/dpop"
)

const (
	chromiumPath = "/usr/bin/chromium"
	audience     = "https://mt5-api.trading.local"
	password     = "Tr4der!Pass-2026"
)

// TestDashboardBrowser: a trader signs in to the dashboard through
// Permiso's login page, sees the account and positions, opens and closes a
// position, is refused what the trader role does not allow with a visible
// message, and signs out.
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts Permiso, mt5-api, the dashboard and Chromium")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		need(t, chromiumPath) // fails in CI, skips elsewhere
	}
	root, _ := filepath.Abs("../../../..")
	dist := buildDashboard(t, "..")
	for _, f := range []string{"client_secret", "pms_"} {
		if file := bundleFile(t, dist, f); file != "" {
			t.Fatalf("the bundle contains %q: %s", f, file)
		}
	}

	tmp := t.TempDir()
	permisoBin := os.Getenv("PERMISO_BIN")
	if permisoBin == "" {
		permisoBin = filepath.Join(tmp, "permiso")
		run(t, root, "go", "build", "-o", permisoBin, "./cmd/permiso")
	}
	mt5Bin := filepath.Join(tmp, "mt5-api")
	run(t, filepath.Join(root, "examples", "trading"), "go", "build", "-o", mt5Bin, "./cmd/mt5-api")

	// The dashboard's origin is fixed first: both servers must allow it.
	dashLn := freeAddr(t)
	dashOrigin := "http://" + dashLn
	permisoAddr, mt5Addr := freeAddr(t), freeAddr(t)
	issuer, mt5 := "http://"+permisoAddr, "http://"+mt5Addr
	dataDir := filepath.Join(tmp, "data")
	out := start(t, "permiso", permisoBin, "serve", "--data-dir", dataDir, "--addr", permisoAddr, "--cors-origins", dashOrigin)
	waitOK(t, issuer+"/healthz", out)
	mout := start(t, "mt5-api", mt5Bin, "--addr", mt5Addr, "--issuer", issuer, "--audience", audience, "--cors-origin", dashOrigin)
	waitOK(t, mt5+"/health", mout)

	admin := adminToken(t, issuer, dataDir)
	var created struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
		Secret string `json:"client_secret"`
	}
	if s := api(t, "POST", issuer+"/api/v1/service-clients", admin, map[string]any{
		"name": "Trading dashboard", "client_id": "trading-dashboard", "client_type": "public",
		"redirect_uris": []string{dashOrigin + "/"}, "grant_types": []string{"authorization_code", "refresh_token"},
		"scope_ids": []string{"trade:read", "trade:open", "trade:close", "account:read", "market:data", "admin:system"},
		"audiences": []string{audience}, "access_token_lifetime": 900, "dpop_bound_access_tokens": true,
	}, &created); s != 201 || created.Secret != "" {
		t.Fatalf("create public client: %d (secret %q)", s, created.Secret)
	}
	if s := api(t, "POST", issuer+"/api/v1/users", admin, map[string]any{
		"username": "tina", "email": "tina@example.com", "password": password, "role_ids": []string{"trader"},
	}, nil); s != 201 {
		t.Fatalf("create the trader: %d", s)
	}
	// An operator holds admin:system, so the dashboard offers the broker
	// statistics; mt5-api still refuses them to a user's token (trusted
	// clients only), and the page must say so.
	if s := api(t, "POST", issuer+"/api/v1/roles", admin, map[string]any{
		"name": "operator", "description": "Trading operators", "scope_ids": []string{"admin:system"},
	}, nil); s != 201 {
		t.Fatalf("create the operator role: %d", s)
	}
	if s := api(t, "POST", issuer+"/api/v1/users", admin, map[string]any{
		"username": "oscar", "email": "oscar@example.com", "password": password, "role_ids": []string{"trader", "operator"},
	}, nil); s != 201 {
		t.Fatalf("create the operator: %d", s)
	}

	dash := serveDashboard(t, dashLn, dist, map[string]any{
		"issuer": issuer, "client_id": created.Client.ClientID, "mt5_api_url": mt5, "audience": audience,
		"scopes":  []string{"trade:read", "trade:open", "trade:close", "account:read", "market:data", "admin:system"},
		"symbols": []string{"EURUSD", "GBPUSD", "USDJPY", "XAUUSD"},
	})
	drive(t, dash, mt5)
}

// drive is the trader's session in the browser.
func drive(t *testing.T, dash, mt5 string) {
	ctx := newChrome(t)
	// A tap on the wire: the first call the page makes to mt5-api.
	var (
		tapMu     sync.Mutex
		tapAuth   string
		tapProof  string
		tapTarget string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Request.Method != "GET" || !strings.HasPrefix(e.Request.URL, mt5+"/api/v1/account") {
			return
		}
		tapMu.Lock()
		defer tapMu.Unlock()
		if tapAuth == "" {
			tapAuth, _ = e.Request.Headers["Authorization"].(string)
			tapProof, _ = e.Request.Headers["DPoP"].(string)
			tapTarget = e.Request.URL
		}
	}); err != nil {
		t.Fatal(err)
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
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
	waitFor := func(name, expr string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	step("open the dashboard", chromedp.Navigate(dash), chromedp.WaitVisible(chromedp.ID("sign-in")))
	screenshot(t, ctx, "dashboard-signin.png")
	step("go to Permiso's login page", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("username")))
	step("sign in", chromedp.SendKeys(chromedp.ID("username"), "tina"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter), chromedp.WaitVisible(chromedp.ID("account")))
	if got := text("#username"); got != "tina" {
		t.Errorf("signed in as %q", got)
	}
	if got := text("#account"); !strings.Contains(got, "Balance") || !strings.Contains(got, "$10,000.00") {
		t.Errorf("account figures: %q", got)
	}
	stolenTokenRefused(t, &tapMu, &tapAuth, &tapProof, &tapTarget)
	// The page's DPoP key signs, but cannot be read: not even by a script
	// running in the page.
	extractable, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise((resolve) => {
		const open = indexedDB.open("permiso-dashboard", 1);
		open.onsuccess = () => {
			const get = open.result.transaction("dpop").objectStore("dpop").get("key-pair");
			get.onsuccess = () => crypto.subtle.exportKey("jwk", get.result.privateKey)
				.then(() => resolve("exported"), () => resolve(String(get.result.privateKey.extractable)));
		};
		open.onerror = () => resolve("no database");
	})`, chromedp.EvalAwaitPromise))
	if err != nil || extractable != "false" {
		t.Errorf("the DPoP private key: %q (%v), want it unexportable", extractable, err)
	}
	waitFor("quotes", `document.querySelector("#quotes tbody tr td").textContent !== "—"`)
	if got := text("#positions"); !strings.Contains(got, "No open positions") {
		t.Errorf("positions before trading: %q", got)
	}

	step("buy", chromedp.SetValue(chromedp.CSS("#open-form select"), "GBPUSD"), chromedp.Click(chromedp.ID("buy")),
		chromedp.WaitVisible(chromedp.ID("action-message")))
	if got := text("#action-message"); !strings.Contains(got, "Opened buy") {
		t.Fatalf("after buying: %q", got)
	}
	waitFor("position listed", `document.querySelectorAll("#positions tr[data-ticket]").length === 1`)
	if got := text("#positions"); !strings.Contains(got, "GBPUSD") {
		t.Errorf("positions after buying: %q", got)
	}
	screenshot(t, ctx, "dashboard.png")

	step("close it", chromedp.Click(chromedp.CSS("#positions button.close")))
	waitFor("closed", `document.getElementById("action-message")?.textContent.startsWith("Closed ticket")`)
	waitFor("position gone", `document.querySelectorAll("#positions tr[data-ticket]").length === 0`)

	// The trader role has no admin:system: the button says so and stays shut.
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("load-stats").disabled`))
	if err != nil || !disabled {
		t.Errorf("statistics button enabled for a trader (%v)", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("load-stats").title`))
	if err != nil || !strings.Contains(title, "admin:system") {
		t.Errorf("tooltip %q (%v)", title, err)
	}
	if got := text("#admin-h + p + .scoped .missing-scope"); got != "Missing scope: admin:system" {
		t.Errorf("visible refusal %q", got)
	}

	step("narrow viewport", chromedp.EmulateViewport(380, 800))
	screenshot(t, ctx, "dashboard-narrow.png")
	step("wide viewport", chromedp.EmulateViewport(1100, 900))

	step("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("sign-in")))
	if got := text("main h1"); got != "You are signed out" {
		t.Errorf("after signing out: %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`localStorage.length + sessionStorage.length`)); n != 0 {
		t.Errorf("%v items left in web storage", n)
	}

	step("sign in as an operator", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "oscar"),
		chromedp.SendKeys(chromedp.ID("password"), password+kb.Enter), chromedp.WaitVisible(chromedp.ID("account")))
	if disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("load-stats").disabled`)); err != nil || disabled {
		t.Fatalf("statistics button disabled for an operator (%v)", err)
	}
	step("ask for the broker statistics", chromedp.Click(chromedp.ID("load-stats")), chromedp.WaitVisible(chromedp.CSS(".notice.error")))
	if got := text(".notice.error p"); !strings.Contains(got, "Trusted client required") {
		t.Errorf("refusal shown as %q", got)
	}
	screenshot(t, ctx, "dashboard-refused.png")
	step("sign the operator out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("sign-in")))
}

// serveDashboard serves dist/ on addr with a generated /config.json.
func serveDashboard(t *testing.T, addr, dist string, cfg map[string]any) string {
	t.Helper()
	files := http.FileServer(http.Dir(dist))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(cfg)
			return
		}
		files.ServeHTTP(w, r)
	}))
	ln, err := netListen(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// adminToken gets a token for the bootstrap admin client.
func adminToken(t *testing.T, issuer, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "bootstrap-admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(b, &creds)
	res, err := http.PostForm(issuer+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {creds.ID}, "client_secret": {creds.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(res.Body).Decode(&tok)
	if tok.AccessToken == "" {
		t.Fatalf("admin token: HTTP %d", res.StatusCode)
	}
	return tok.AccessToken
}

// stolenTokenRefused replays the token the tap saw: as a bearer token, with
// a proof of another key, and with the captured proof again. mt5-api must
// refuse each with 401.
func stolenTokenRefused(t *testing.T, mu *sync.Mutex, auth, proof, target *string) {
	t.Helper()
	mu.Lock()
	a, p, u := *auth, *proof, *target
	mu.Unlock()
	tok, ok := strings.CutPrefix(a, "DPoP ")
	if !ok || p == "" {
		t.Fatalf("the dashboard called mt5-api with %q and proof %q, want a DPoP token and proof", a, p)
	}
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	thiefSigner, err := dpop.NewSigner(thief)
	if err != nil {
		t.Fatal(err)
	}
	thiefProof, err := thiefSigner.Proof("GET", u, dpop.ProofOptions{AccessToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]map[string]string{
		"as a bearer token":             {"Authorization": "Bearer " + tok},
		"with a proof of another key":   {"Authorization": "DPoP " + tok, "DPoP": thiefProof},
		"with the captured proof again": {"Authorization": "DPoP " + tok, "DPoP": p},
	} {
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("token copied off the wire, %s: %d, want 401", name, res.StatusCode)
		}
	}
}
