package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// openRaw opens url without migrating; the caller migrates.
func openRaw(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: url})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitAdvisoryWaiter polls pg_locks until a session waits for the
// advisory lock that DB.Lock takes for name.
func waitAdvisoryWaiter(t *testing.T, url, name string) {
	t.Helper()
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	h := fnv.New64a()
	h.Write([]byte(name))
	key := h.Sum64()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND objsubid = 1 AND classid::bigint = $1 AND objid::bigint = $2`, int64(key>>32), int64(key&0xffffffff)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no session waits for the lock within 15s")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

func await(t *testing.T, ch <-chan store.Change, want store.Change, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case c := <-ch:
			if c == want {
				return
			}
		case <-timeout:
			t.Fatalf("change %+v not delivered within %v", want, within)
		}
	}
}

// TestPostgresConcurrentMigrate starts four "replicas" on one fresh
// database at once: each Migrate succeeds and every migration is recorded
// exactly once.
func TestPostgresConcurrentMigrate(t *testing.T) {
	t.Parallel()
	url := sqltest.PostgresURL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		db := openRaw(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != versions || rows == 0 {
		t.Fatalf("schema_migrations has %d rows for %d versions, want one row per version", rows, versions)
	}
}

// TestPostgresCrossProcess uses two pools on one database, as two replicas
// would: changes published by one reach the other, and Lock excludes across
// them.
func TestPostgresCrossProcess(t *testing.T) {
	t.Parallel()
	url := sqltest.PostgresURL(t)
	a, b := sqltest.Open(t, url), openRaw(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ch := make(chan store.Change, 16)
	if err := b.Subscribe(ctx, func(c store.Change) { ch <- c }); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	want := store.Change{Kind: store.ChangeKey, ID: "k1"}
	if err := a.Publish(ctx, want); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	await(t, ch, want, 15*time.Second)
	if _, err := a.ForTenant(store.DefaultTenant).CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}); err != nil {
		t.Fatal(err)
	}
	await(t, ch, store.Change{Kind: store.ChangeClient, ID: "svc", Tenant: store.DefaultTenant}, 15*time.Second)

	var bRan atomic.Bool
	bDone := make(chan error, 1)
	lockName := fmt.Sprintf("rotate-keys-%d", time.Now().UnixNano()) // advisory locks span the database
	err := a.Lock(ctx, lockName, func(ctx context.Context) error {
		go func() {
			bDone <- b.Lock(ctx, lockName, func(context.Context) error { bRan.Store(true); return nil })
		}()
		// Wait until PostgreSQL shows b waiting for the lock: then b has
		// asked and been held back, which a fixed pause could not tell.
		waitAdvisoryWaiter(t, url, lockName)
		if bRan.Load() {
			t.Error("second replica entered the lock while the first held it")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	select {
	case err := <-bDone:
		if err != nil || !bRan.Load() {
			t.Fatalf("second Lock: ran=%v err=%v", bRan.Load(), err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second replica did not get the lock after release")
	}
}

// TestPostgresListenerReconnects kills the LISTEN connection: the
// subscriber gets Change{Kind: "*"} after reconnecting and keeps receiving.
func TestPostgresListenerReconnects(t *testing.T) {
	t.Parallel()
	url := sqltest.PostgresURL(t)
	db := sqltest.Open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan store.Change, 16)
	if err := db.Subscribe(ctx, func(c store.Change) { ch <- c }); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var killed int
	if err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener connections, want 1", killed)
	}
	await(t, ch, store.Change{Kind: "*"}, 15*time.Second)
	want := store.Change{Kind: store.ChangeRevocation, ID: "jti"}
	if err := db.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	await(t, ch, want, 15*time.Second)
}
