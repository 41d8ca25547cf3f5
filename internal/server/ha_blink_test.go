package server_test

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/sdk/guard"
)

// These tests run two replicas on a PostgreSQL of their own, which they
// stop, start, and whose LISTEN connections they terminate.

// reloadHold is a store hook that holds the first revocation reload that
// arms it open after its first page.
type reloadHold struct {
	mu    sync.Mutex
	armed bool
	// maxAfter tells the reload's pages from a sync's: a reload pages from
	// 0 through the seeded rows, a sync reads from the list's cursor, past
	// every seeded row. Holding a sync instead would hold the sync lock and
	// stall every later sync: the test would fail for its own reasons.
	maxAfter int64
	reached  chan struct{}
	release  chan struct{}
}

type holdingStore struct {
	store.Store
	h *reloadHold
}

func (s holdingStore) ListRevocations(ctx context.Context, after int64, now time.Time, limit int) ([]store.Revocation, error) {
	s.h.mu.Lock()
	// A reload starts from 0; the sync that follows a notification starts
	// from the list's cursor. Hold the reload's second page.
	hold := s.h.armed && after > 0 && after <= s.h.maxAfter && limit >= 10_000 && s.h.reached != nil
	if hold {
		s.h.armed = false
	}
	s.h.mu.Unlock()
	if hold {
		close(s.h.reached)
		<-s.h.release
	}
	return s.Store.ListRevocations(ctx, after, now, limit)
}

// migrateAndSeed prepares the schema and n revocations with one INSERT.
func migrateAndSeed(t *testing.T, dsn string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n == 0 {
		return
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO revocations (tenant_id, jti, expires_at, created_at)
		SELECT 'default', 'seed' || lpad(g::text, 18, '0'), now() + interval '1 hour', now() FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
}

// terminateListeners ends every LISTEN connection, as a failover or a
// network blip does.
func terminateListeners(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query ILIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHARevokedStaysRevokedDuringResync: with 300,000 revocations, a
// replica whose LISTEN connection is terminated reloads its list; the
// test holds that reload open, and meanwhile the replica never reports a
// revoked token active, applies a revocation made on the other replica,
// and serves a feed from which a guard assembles the whole list.
func TestHARevokedStaysRevokedDuringResync(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 300,000 revocations")
	}
	const seeded = 300_000
	pg := newOwnPostgres(t)
	migrateAndSeed(t, pg.DSN, seeded)
	hold := &reloadHold{}
	dir := filepath.Join(t.TempDir(), "data")
	cfgA := replicaConfig(t, dir)
	cfgA.DatabaseURL = pg.DSN
	cfgA.StoreHook = func(s store.Store) store.Store { return holdingStore{s, hold} }
	a := startReplica(t, cfgA).ts()
	cfgB := replicaConfig(t, dir)
	cfgB.DatabaseURL, cfgB.Issuer = pg.DSN, cfgA.Issuer
	b := startReplica(t, cfgB).ts()

	id, secret := a.createClient(map[string]any{"name": "Resync", "scope_ids": []string{"trade:read"}, "audiences": []string{"https://api.example"}})
	tok := a.token(id, secret, nil)
	if r := b.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	waitUntil(t, propagation, "A refuses the token revoked on B", func() bool { return !a.introspectActive(tok, id, secret) })

	hold.mu.Lock()
	hold.armed, hold.maxAfter, hold.reached, hold.release = true, seeded/2, make(chan struct{}), make(chan struct{})
	hold.mu.Unlock()
	released := false
	defer func() {
		if !released {
			close(hold.release)
		}
	}()
	if n := terminateListeners(t, pg.DSN); n == 0 {
		t.Fatal("no LISTEN connection to terminate")
	}
	select {
	case <-hold.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("replica A did not start reloading its revocation list after losing its LISTEN connection")
	}
	// The reload is held open after its first page.
	for range 20 {
		if a.introspectActive(tok, id, secret) {
			t.Fatal("a revoked token introspected active while its replica re-syncs")
		}
	}
	tok2 := a.token(id, secret, nil)
	if r := b.form("/oauth2/revoke", url.Values{"token": {tok2}}, id, secret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	waitUntil(t, 10*time.Second, "A applies a revocation made on B during its reload", func() bool {
		return !a.introspectActive(tok2, id, secret)
	})
	// A guard following A's feed now assembles the whole list, never a
	// part of it.
	ctx := context.Background()
	g, err := guard.New(ctx, guard.Config{Issuer: a.URL, Audience: "https://api.example", RevocationPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	waitUntil(t, 60*time.Second, "a guard syncs from A during the reload", g.Ready)
	if st := g.Status().Revocations; st.Entries < seeded+1 {
		t.Fatalf("the guard assembled %d entries from A during the reload, want at least %d", st.Entries, seeded+1)
	}
	if _, err := g.Verify(ctx, tok); err == nil {
		t.Fatal("the guard accepts the revoked token")
	}

	close(hold.release)
	released = true
	for range 20 {
		if a.introspectActive(tok, id, secret) || a.introspectActive(tok2, id, secret) {
			t.Fatal("a revoked token introspected active after the reload")
		}
	}
	if !a.introspectActive(a.token(id, secret, nil), id, secret) {
		t.Fatal("a fresh token is inactive after the reload")
	}
}

// TestHAOutageServesKnownClients: PostgreSQL stops; with the replicas'
// clock moved past twice the cache lifetime, token requests of known
// clients keep succeeding and readiness says the database is down; writes
// fail with 503. A client disabled in the database while no replica can
// reach it, which no notification announces, is refused once the replicas
// reconnect and revalidate what they hold.
func TestHAOutageServesKnownClients(t *testing.T) {
	pg := newOwnPostgres(t)
	migrateAndSeed(t, pg.DSN, 0)
	clk := &testClock{}
	dir := filepath.Join(t.TempDir(), "data")
	cfgB := replicaConfig(t, dir)
	cfgB.DatabaseURL, cfgB.Now = pg.DSN, clk.Now
	b := startReplica(t, cfgB).ts()
	keep, keepSecret := b.createClient(map[string]any{"name": "Keeps working", "scope_ids": []string{"trade:read"}})
	gone, goneSecret := b.createClient(map[string]any{"name": "Disabled meanwhile", "scope_ids": []string{"trade:read"}})
	// A starts once the clients exist: it loads them, and no notification
	// about them is still on its way when PostgreSQL stops.
	cfgA := replicaConfig(t, dir)
	cfgA.DatabaseURL, cfgA.Issuer, cfgA.Now = pg.DSN, cfgB.Issuer, clk.Now
	logsA := &logRecorder{}
	cfgA.Logger = slog.New(logsA)
	a := startReplica(t, cfgA).ts()
	admin := b.adminToken()
	tokenStatus := func(ts *testServer, id, secret string) int {
		return ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status
	}
	waitUntil(t, propagation, "A knows both clients", func() bool {
		return tokenStatus(a, keep, keepSecret) == 200 && tokenStatus(a, gone, goneSecret) == 200
	})

	pg.stop()
	waitUntil(t, 10*time.Second, "A's readiness says the database is down", func() bool {
		r := a.do("GET", "/readyz", nil, nil)
		return r.Status == 503 && r.JSON["checks"].(map[string]any)["database"] == "unreachable"
	})
	clk.Advance(2*30*time.Second + time.Second) // past twice the default cache lifetime
	for range 50 {
		for _, c := range [][2]string{{keep, keepSecret}, {gone, goneSecret}} {
			if r := a.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c[0], c[1]); r.Status != 200 {
				t.Fatalf("token for a known client during the outage: %d %s", r.Status, r.Body)
			}
		}
	}
	// Writes fail fast, and their warnings are written once per interval
	// with a count, not once each.
	const writes = 30
	loggedBefore, _ := logsA.count(slog.LevelWarn, "request failed")
	first := clk.Now()
	for range writes {
		if r := a.jsonReq("POST", "/api/v1/service-clients", admin, map[string]any{"name": "During"}); r.Status != 503 || r.str("error") != "temporarily_unavailable" {
			t.Fatalf("a write during the outage: %d %s", r.Status, r.Body)
		}
	}
	spent := clk.Now().Sub(first)
	clk.Advance(11 * time.Second) // past the 10s interval: the next one carries the count
	if r := a.jsonReq("POST", "/api/v1/service-clients", admin, map[string]any{"name": "During"}); r.Status != 503 {
		t.Fatalf("a write during the outage: %d %s", r.Status, r.Body)
	}
	written, occurrences := logsA.count(slog.LevelWarn, "request failed")
	written -= loggedBefore
	if limit := 2 + int(spent/(10*time.Second)) + 1; written > limit || occurrences < writes+1 {
		t.Fatalf("%d failed writes logged %d warnings standing for %d (want at most %d lines whose counts add up to all of them)",
			writes+1, written, occurrences, limit)
	}

	// The client is disabled in the database directly while neither
	// replica can reach it (PostgreSQL runs on another port for the
	// change): no replica is notified, so A can only learn it by
	// revalidating what it holds once it reconnects.
	port := pg.port
	pg.port = strconv.Itoa(freePort(t))
	pg.start()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:"+pg.port+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE clients SET is_active = false WHERE client_id = $1", gone); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pg.stop()
	pg.port = port
	pg.start()
	took := waitUntil(t, 20*time.Second, "A refuses the client disabled during its outage", func() bool {
		return tokenStatus(a, gone, goneSecret) == 401
	})
	t.Logf("A refused the disabled client %v after PostgreSQL returned", took)
	waitUntil(t, 20*time.Second, "B refuses it too", func() bool { return tokenStatus(b, gone, goneSecret) == 401 })
	if st := tokenStatus(a, keep, keepSecret); st != 200 {
		t.Fatalf("the other client after the outage: %d", st)
	}
	waitUntil(t, 10*time.Second, "A ready again", func() bool { return a.do("GET", "/readyz", nil, nil).Status == 200 })
}
