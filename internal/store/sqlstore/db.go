package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/permiso-auth/permiso/internal/store"
)

// Dialect names returned by [DB.Dialect].
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

// Config selects and tunes the database.
type Config struct {
	// URL is "postgres://..." or "postgresql://..." for PostgreSQL; anything
	// else is a SQLite file path, optionally prefixed "sqlite:" or "file:".
	URL string
	// Logger receives connection-level events (LISTEN reconnects). Nil
	// discards them.
	Logger *slog.Logger
	// MaxOpenConns caps the pool. Zero means 8 for SQLite (writers queue on
	// the file lock anyway) and 20 for PostgreSQL.
	MaxOpenConns int
}

// DB is a store.Store backed by SQLite or PostgreSQL. It is safe for
// concurrent use.
type DB struct {
	sql     *sql.DB
	dialect string
	pgURL   string // for the dedicated LISTEN connection
	log     *slog.Logger

	locksMu sync.Mutex
	locks   map[string]*sync.Mutex // SQLite: process-local named locks

	hub hub // SQLite: in-process change fan-out
}

var _ store.Root = (*DB)(nil)

// Tenant is one tenant's store: a [store.Store] every query of which is
// scoped to the tenant. It is the only way to read or write what a tenant
// holds; a statement it runs that does not mention tenant_id is a bug and
// panics, so a forgotten condition fails the first test that reaches it.
type Tenant struct {
	db *DB
	id string
}

var _ store.Store = (*Tenant)(nil)

// Tenant returns the store of tenant id (see [store.Root]).
func (db *DB) Tenant(id string) store.Store { return db.ForTenant(id) }

// ForTenant is Tenant with the concrete type, for tests and tools that
// need the dialect.
func (db *DB) ForTenant(id string) *Tenant {
	if id == "" {
		panic("sqlstore: empty tenant id")
	}
	return &Tenant{db: db, id: id}
}

// TenantID returns the id of the tenant s is scoped to.
func (s *Tenant) TenantID() string { return s.id }

// Dialect returns "sqlite" or "postgres".
func (s *Tenant) Dialect() string { return s.db.dialect }

// Ping checks that the database answers.
func (s *Tenant) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Close does nothing: the database belongs to its [DB], which closes it.
func (s *Tenant) Close() error { return nil }

// Open connects to the database and checks that it answers. It does not
// migrate: call [DB.Migrate] (normally once at startup).
func Open(ctx context.Context, cfg Config) (*DB, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{log: log, locks: map[string]*sync.Mutex{}}
	var (
		driver, dsn string
		maxOpen     = cfg.MaxOpenConns
	)
	if isPostgres(cfg.URL) {
		db.dialect, driver, dsn, db.pgURL = DialectPostgres, "pgx", cfg.URL, cfg.URL
		if maxOpen == 0 {
			maxOpen = 20
		}
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(cfg.URL, "sqlite:"), "file:")
		if path == "" {
			return nil, errors.New("open database: empty URL")
		}
		db.dialect, driver, dsn = DialectSQLite, "sqlite", sqliteDSN(path)
		if maxOpen == 0 {
			maxOpen = 8
		}
		if path == ":memory:" || strings.Contains(path, "mode=memory") {
			// Every connection would get its own empty in-memory database.
			maxOpen = 1
		} else if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", db.dialect, err)
	}
	conn.SetMaxOpenConns(maxOpen)
	conn.SetMaxIdleConns(maxOpen)
	conn.SetConnMaxIdleTime(5 * time.Minute)
	db.sql = conn
	if err := db.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open %s database: %w", db.dialect, err)
	}
	return db, nil
}

// createPrivate creates the SQLite file readable by its owner only when it
// does not exist yet. SQLite creates the -wal and -shm files with the
// database file's permissions, so they are private too: they hold the
// same data (password hashes, sealed keys, audit trail).
func createPrivate(path string) error {
	file, _, _ := strings.Cut(path, "?")
	if file == "" {
		return nil
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, os.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("create %s: %w", file, err)
	}
	return f.Close()
}

func isPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// sqliteDSN sets the pragmas every connection needs. _txlock=immediate makes
// every BeginTx a BEGIN IMMEDIATE, so a read-then-write transaction takes the
// write lock up front and waits on busy_timeout instead of failing with
// SQLITE_BUSY when it tries to upgrade while another writer holds the lock.
//
// synchronous=FULL makes every commit wait for the WAL to reach the disk, so
// an acknowledged write survives a power loss (NORMAL, SQLite's usual WAL
// setting, may lose the last commits). The token path writes nothing, and
// usage counters and audit events are written in batches, so the fsync is
// paid by admin writes and logins only (docs/operations.md has the figures).
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	if !strings.Contains(path, "synchronous(") { // a caller's own setting wins (benchmarks)
		q.Add("_pragma", "synchronous(FULL)")
	}
	q.Set("_txlock", "immediate")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&" // the caller passed options of its own ("file:x.db?mode=ro")
	}
	return "file:" + path + sep + q.Encode()
}

// Dialect returns "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Stats returns connection-pool statistics for metrics.
func (db *DB) Stats() sql.DBStats { return db.sql.Stats() }

// Ping checks that the database answers within ctx's deadline.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.sql.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes the pool. Subscriptions end with their own contexts.
func (db *DB) Close() error { return db.sql.Close() }

func (db *DB) pg() bool { return db.dialect == DialectPostgres }

// rebind turns '?' placeholders into $1, $2, ... for PostgreSQL. Queries in
// this package never contain a literal '?'.
func (db *DB) rebind(q string) string {
	if !db.pg() || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// runner is what reads and writes need: the pool or a transaction, with
// placeholders rebound for the dialect, and the tenant every query of a
// tenant's store is scoped to ("" for the unscoped database).
type runner interface {
	exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
	dbh() *DB
	tid() string
}

// mustScope panics unless q mentions tenant_id: every statement a tenant's
// store runs must be scoped to the tenant.
func mustScope(q string) {
	if !strings.Contains(q, "tenant_id") {
		panic("sqlstore: a tenant's store ran a statement not scoped to the tenant: " + q)
	}
}

func (db *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.sql.ExecContext(ctx, db.rebind(q), args...)
}
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.sql.QueryContext(ctx, db.rebind(q), args...)
}
func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.sql.QueryRowContext(ctx, db.rebind(q), args...)
}
func (db *DB) dbh() *DB    { return db }
func (db *DB) tid() string { return "" }

func (s *Tenant) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	mustScope(q)
	return s.db.exec(ctx, q, args...)
}
func (s *Tenant) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	mustScope(q)
	return s.db.query(ctx, q, args...)
}
func (s *Tenant) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	mustScope(q)
	return s.db.queryRow(ctx, q, args...)
}
func (s *Tenant) dbh() *DB    { return s.db }
func (s *Tenant) tid() string { return s.id }

// The dialect helpers, for the tenant's methods.
func (s *Tenant) pg() bool               { return s.db.pg() }
func (s *Tenant) ts(t time.Time) any     { return s.db.ts(t) }
func (s *Tenant) tsp(t *time.Time) any   { return s.db.tsp(t) }
func (s *Tenant) like() string           { return s.db.like() }
func (s *Tenant) forUpdate() string      { return s.db.forUpdate() }
func (s *Tenant) rebind(q string) string { return s.db.rebind(q) }

// tx is a write transaction that collects the changes it publishes. A
// transaction of a tenant's store (tenant set) is scoped as the store is.
type tx struct {
	db      *DB
	sqltx   *sql.Tx
	tenant  string
	changes []store.Change
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if t.tenant != "" {
		mustScope(q)
	}
	return t.sqltx.ExecContext(ctx, t.db.rebind(q), args...)
}
func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if t.tenant != "" {
		mustScope(q)
	}
	return t.sqltx.QueryContext(ctx, t.db.rebind(q), args...)
}
func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if t.tenant != "" {
		mustScope(q)
	}
	return t.sqltx.QueryRowContext(ctx, t.db.rebind(q), args...)
}
func (t *tx) dbh() *DB    { return t.db }
func (t *tx) tid() string { return t.tenant }

// publish announces c when the transaction commits. On PostgreSQL
// pg_notify is itself transactional, so replicas hear of the change only if
// it commits; on SQLite the change is fanned out after a successful commit.
// A tenant's transaction names its tenant in the change.
func (t *tx) publish(ctx context.Context, c store.Change) error {
	if t.tenant != "" {
		c.Tenant = t.tenant
	}
	if t.db.pg() {
		if _, err := t.sqltx.ExecContext(ctx, "SELECT pg_notify($1, $2)", notifyChannel, encodeChange(c)); err != nil {
			return fmt.Errorf("notify %s change: %w", c.Kind, err)
		}
		return nil
	}
	t.changes = append(t.changes, c)
	return nil
}

// inTx runs fn in an unscoped transaction and commits if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*tx) error) error { return db.inTxFor(ctx, "", fn) }

// inTx runs fn in a transaction scoped to the tenant.
func (s *Tenant) inTx(ctx context.Context, fn func(*tx) error) error {
	return s.db.inTxFor(ctx, s.id, fn)
}

func (db *DB) inTxFor(ctx context.Context, tenant string, fn func(*tx) error) error {
	sqltx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{db: db, sqltx: sqltx, tenant: tenant}
	if err := fn(t); err != nil {
		_ = sqltx.Rollback() // the fn error is the one worth returning
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return mapErr(fmt.Errorf("commit: %w", err))
	}
	for _, c := range t.changes {
		db.hub.broadcast(c)
	}
	return nil
}

// forUpdate locks the row read by an Update on PostgreSQL, so two
// concurrent Updates serialize instead of losing one write. SQLite needs
// nothing: BEGIN IMMEDIATE already holds the database write lock.
func (db *DB) forUpdate() string {
	if db.pg() {
		return " FOR UPDATE"
	}
	return ""
}

// like is the case-insensitive LIKE operator of the dialect. SQLite's LIKE
// already ignores ASCII case.
func (db *DB) like() string {
	if db.pg() {
		return "ILIKE"
	}
	return "LIKE"
}
