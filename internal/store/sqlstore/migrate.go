package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// migrateLockKey is the advisory-lock key that serializes Migrate across
// replicas starting together ("permiso_migrate" would be as good; a fixed
// number is easier to spot in pg_locks).
const migrateLockKey int64 = 0x7065726d69736f // "permiso"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's embedded migrations in version order.
// Files are named NNNN_description.sql.
func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", db.dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad version prefix", name)
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate applies the embedded migrations that the database has not seen,
// each in its own transaction together with its schema_migrations row. It
// is idempotent. On PostgreSQL it holds an advisory lock on one connection
// for the whole run, so replicas that start together apply each migration
// exactly once; on SQLite the write transaction's lock does the same.
func (db *DB) Migrate(ctx context.Context) error { return db.migrateTo(ctx, 0) }

// migrateTo applies the migrations up to version upTo (0: all); tests use
// it to write rows the way an older Permiso did.
func (db *DB) migrateTo(ctx context.Context, upTo int) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.pg() {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer func() {
			// Unlock even if ctx was cancelled; a lock left on a pooled
			// connection would block every later Migrate.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
				_ = conn.Raw(func(any) error { return errBadConn })
			}
		}()
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if upTo > 0 && m.version > upTo {
			break
		}
		if err := db.apply(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration unless it is recorded already. The check is
// inside the transaction so that, on SQLite, two processes racing on one
// file still apply it once.
func (db *DB) apply(ctx context.Context, conn *sql.Conn, m migration) (err error) {
	if !db.pg() && strings.Contains(m.sql, fkOffMarker) {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
		defer func() {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON"); ferr != nil && err == nil {
				err = fmt.Errorf("migrate %s: %w", m.name, ferr)
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: begin: %w", m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, db.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if step := goSteps[db.dialect][m.version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	if !db.pg() && strings.Contains(m.sql, fkOffMarker) {
		if err := foreignKeyCheck(ctx, tx); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, db.rebind("INSERT INTO schema_migrations (version, name) VALUES (?, ?)"), m.version, m.name); err != nil {
		return fmt.Errorf("migrate %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", m.name, err)
	}
	return nil
}

// foreignKeyCheck fails when a SQLite row references one that does not
// exist, or a foreign key names no unique key of its parent.
func foreignKeyCheck(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return fmt.Errorf("foreign key check: %w", err)
		}
		return fmt.Errorf("foreign key check: a row of %s references a missing %s row", table, parent)
	}
	return rows.Err()
}
