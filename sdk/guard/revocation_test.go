package guard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestRevocationList(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.RevocationPoll = time.Second })
	waitReady(t, g)
	ctx := context.Background()
	c := iss.Claims("svc", testAudience, "trade:read")
	tok := iss.Mint(c)
	if _, err := g.Verify(ctx, tok); err != nil {
		t.Fatalf("Verify before revocation: %v", err)
	}
	iss.Revoke(c.ID, c.Expiry)
	deadline := time.Now().Add(15 * time.Second) // a bound, not the expectation (one poll, 1s)
	for {
		_, err := g.Verify(ctx, tok)
		if errors.Is(err, ErrInvalidToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked token still accepted after 15s (err %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	other := iss.Mint(iss.Claims("svc", testAudience))
	if _, err := g.Verify(ctx, other); err != nil {
		t.Fatalf("unrevoked token refused: %v", err)
	}
	if st := g.Status(); !st.Ready || !st.Revocations.Following || !st.Revocations.Synced || st.Revocations.Entries != 1 || st.Revocations.Error != "" {
		t.Fatalf("status %+v", st)
	}
}

// pollingGuard is a guard whose feed the test polls by hand.
func pollingGuard(t *testing.T, iss *testissuer.Issuer, edit func(*Config)) *Guard {
	t.Helper()
	cfg := Config{Issuer: iss.URL, Audience: testAudience, RevocationPoll: time.Hour}
	if edit != nil {
		edit(&cfg)
	}
	cfg, err := cfg.defaults()
	if err != nil {
		t.Fatal(err)
	}
	return &Guard{cfg: cfg, log: cfg.Logger}
}

func jti(id string) *wire.Claims { return &wire.Claims{ID: id} }

// TestRevocationSnapshotPaged syncs a snapshot of many pages, then deltas,
// and enforces every known kind.
func TestRevocationSnapshotPaged(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	iss.SetFeed(7, false)
	exp := time.Now().Add(time.Hour).Unix()
	for i := range 50 {
		iss.Revoke("j"+strconv.Itoa(i), exp)
	}
	iss.RevokeEntry(wire.RevokeSession, "sess-1", exp)
	iss.RevokeEntry(wire.RevokeRoot, "root-1", exp)
	iss.RevokeEntry("tenant", "r1", exp) // a kind this guard does not know
	iss.Revoke("expired", time.Now().Add(-time.Hour).Unix())
	g := pollingGuard(t, iss, nil)
	ctx := context.Background()
	if err := g.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if !g.revs.revoked(jti("j" + strconv.Itoa(i))) {
			t.Fatalf("j%d not revoked after the paged snapshot", i)
		}
	}
	if !g.revs.revoked(&wire.Claims{ID: "x", SessionID: "sess-1"}) || g.revs.revoked(&wire.Claims{ID: "x", SessionID: "sess-2"}) {
		t.Fatal("session entries not enforced")
	}
	if !g.revs.revoked(&wire.Claims{ID: "x", RootID: "root-1"}) || g.revs.revoked(&wire.Claims{ID: "root-2", RootID: "root-2"}) {
		t.Fatal("root_jti entries not enforced on derived tokens")
	}
	if g.revs.revoked(jti("root-1")) {
		t.Fatal("a root_jti entry revoked the root token itself (its own jti entry does that)")
	}
	if g.revs.revoked(jti("r1")) || g.revs.revoked(jti("expired")) {
		t.Fatal("an unknown kind or an expired entry decides")
	}
	if st := g.revs.statusCopy(); len(st.UnknownKinds) != 1 || st.UnknownKinds[0] != "tenant" {
		t.Fatalf("unknown kinds %v", st.UnknownKinds)
	}
	iss.Revoke("late", exp)
	if err := g.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !g.revs.revoked(jti("late")) || !g.revs.revoked(jti("j0")) {
		t.Fatal("delta not applied on top of the snapshot")
	}
}

// feedServer is an issuer whose feed the test scripts page by page.
func feedServer(t *testing.T, feed http.HandlerFunc) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":"%s/jwks","revocation_list_endpoint":"%s/feed"}`, srv.URL, srv.URL, srv.URL)
	})
	mux.HandleFunc("GET /feed", feed)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestRevocationSnapshotAside: a snapshot that fails on its second page
// leaves the last complete list in force, then replaces it whole.
func TestRevocationSnapshotAside(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	var failPage2 atomic.Bool
	var srv *httptest.Server
	srv = feedServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("since") == "1":
			// The consumer is told to start over from a new snapshot.
			fmt.Fprintf(w, `{"type":"snapshot","cursor":"2","entries":[{"kind":"jti","value":"new-a","exp":%d}],"next":"%s/feed?snapshot=2&after=1"}`, exp, srv.URL)
		case q.Get("snapshot") == "2":
			if failPage2.Load() {
				http.Error(w, "boom", http.StatusInternalServerError)
				return
			}
			fmt.Fprintf(w, `{"type":"snapshot","cursor":"2","entries":[{"kind":"jti","value":"new-b","exp":%d}]}`, exp)
		default:
			fmt.Fprintf(w, `{"type":"snapshot","cursor":"1","entries":[{"kind":"jti","value":"old","exp":%d}]}`, exp)
		}
	})
	g := pollingGuard(t, testissuer.New(), func(c *Config) { c.Issuer = srv.URL })
	ctx := context.Background()
	if err := g.pollOnce(ctx); err != nil || !g.revs.revoked(jti("old")) {
		t.Fatalf("first snapshot: %v", err)
	}
	failPage2.Store(true)
	if err := g.pollOnce(ctx); err == nil {
		t.Fatal("a failed page was not reported")
	}
	if !g.revs.revoked(jti("old")) || g.revs.revoked(jti("new-a")) || g.revs.cursor != "1" {
		t.Fatalf("a partial snapshot was applied: old=%v new-a=%v cursor=%s", g.revs.revoked(jti("old")), g.revs.revoked(jti("new-a")), g.revs.cursor)
	}
	failPage2.Store(false)
	if err := g.pollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if g.revs.revoked(jti("old")) || !g.revs.revoked(jti("new-a")) || !g.revs.revoked(jti("new-b")) || g.revs.cursor != "2" {
		t.Fatal("the complete snapshot did not replace the list")
	}
}

// TestRevocationNextLinkStaysOnIssuer: a next link to another host is
// refused, so the guard's credentials never leave for it.
func TestRevocationNextLinkStaysOnIssuer(t *testing.T) {
	srv := feedServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"type":"snapshot","cursor":"1","entries":[],"next":"https://elsewhere.example/feed?snapshot=1&after=1"}`)
	})
	g := pollingGuard(t, testissuer.New(), func(c *Config) { c.Issuer = srv.URL })
	if err := g.pollOnce(context.Background()); err == nil || g.revs.synced.Load() {
		t.Fatalf("followed a next link to another host: %v", err)
	}
}

// TestRevocationFeedAuth: a feed that requires client authentication
// refuses a guard without credentials (it is not ready, and says why),
// serves one with them, and when it later refuses them the guard keeps
// its last complete list and says so.
func TestRevocationFeedAuth(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	iss.SetFeed(0, true)
	iss.AddClient("mt5-api", testissuer.Client{Secret: "s3cret"})
	exp := time.Now().Add(time.Hour).Unix()
	iss.Revoke("j1", exp)
	ctx := context.Background()

	anon := pollingGuard(t, iss, nil)
	err := anon.pollOnce(ctx)
	anon.revs.record(err, time.Now(), 0)
	if st := anon.revs.statusCopy(); !errors.Is(err, errUnauthorized) || !st.Unauthorized || anon.revs.synced.Load() {
		t.Fatalf("without credentials: %v, status %+v", err, st)
	}

	g := pollingGuard(t, iss, func(c *Config) { c.ClientID, c.ClientSecret = "mt5-api", "s3cret" })
	if err := g.pollOnce(ctx); err != nil || !g.revs.revoked(jti("j1")) {
		t.Fatalf("with credentials: %v", err)
	}
	iss.AddClient("mt5-api", testissuer.Client{Secret: "s3cret", Disabled: true})
	err = g.pollOnce(ctx)
	g.revs.record(err, time.Now(), g.revs.len())
	st := g.revs.statusCopy()
	if !st.Unauthorized || !st.Synced || !g.revs.revoked(jti("j1")) {
		t.Fatalf("after a 401: %v, status %+v", err, st)
	}
}

// TestRevocationFeedLarge syncs a guard from a feed of 400,000
// revocations (22 MB of JSON), in pages, past the old 16 MiB cliff. The
// server's end-to-end test does it with 1,000,000.
func TestRevocationFeedLarge(t *testing.T) {
	const n = 400_000
	iss := testissuer.New()
	defer iss.Close()
	iss.SetFeed(50_000, false)
	exp := time.Now().Add(time.Hour).Unix()
	for i := range n {
		iss.Revoke(fmt.Sprintf("%022d", i), exp)
	}
	g := pollingGuard(t, iss, nil)
	if err := g.pollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := g.revs.len(); got != n || !g.revs.revoked(jti(fmt.Sprintf("%022d", n-1))) {
		t.Fatalf("%d entries held", got)
	}
}
