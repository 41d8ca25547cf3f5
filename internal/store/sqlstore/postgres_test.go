package sqlstore_test

import (
	"context"
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
	await(t, ch, want, time.Second)
	if _, err := a.ForTenant(store.DefaultTenant).CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}); err != nil {
		t.Fatal(err)
	}
	await(t, ch, store.Change{Kind: store.ChangeClient, ID: "svc", Tenant: store.DefaultTenant}, time.Second)

	var bRan atomic.Bool
	bDone := make(chan error, 1)
	err := a.Lock(ctx, "rotate-keys", func(ctx context.Context) error {
		go func() {
			bDone <- b.Lock(ctx, "rotate-keys", func(context.Context) error { bRan.Store(true); return nil })
		}()
		time.Sleep(300 * time.Millisecond)
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
	await(t, ch, store.Change{Kind: "*"}, 5*time.Second)
	want := store.Change{Kind: store.ChangeRevocation, ID: "jti"}
	if err := db.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	await(t, ch, want, time.Second)
}
