// Package sqltest gives tests fresh, isolated databases: a SQLite file in
// the test's temp dir, or a PostgreSQL database created for the test and
// dropped when it ends, so tests can run in parallel.
//
// PostgreSQL is found at PERMISO_TEST_POSTGRES_DSN (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it does not
// answer, tests are skipped, except under CI=true where that is a failure.
package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
)

// DefaultPostgresDSN is the server used when PERMISO_TEST_POSTGRES_DSN is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresAdminDSN returns the DSN of the PostgreSQL server tests create
// their databases on.
func PostgresAdminDSN() string {
	if v := os.Getenv("PERMISO_TEST_POSTGRES_DSN"); v != "" {
		return v
	}
	return DefaultPostgresDSN
}

// SQLiteURL returns the path of a fresh SQLite file in t.TempDir().
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "permiso.db")
}

// PostgresURL creates an empty database permiso_t_<random> on the admin
// server, drops it (WITH (FORCE)) when the test ends, and returns its DSN.
// It skips the test when PostgreSQL does not answer, or fails it under
// CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := PostgresAdminDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, admin, err)
	}
	defer conn.Close(context.Background())

	var b [8]byte
	_, _ = rand.Read(b[:])
	name := "permiso_t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("sqltest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("sqltest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("sqltest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("sqltest: parse %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}

func unavailable(t testing.TB, dsn string, err error) {
	t.Helper()
	msg := "sqltest: PostgreSQL at " + redact(dsn) + " is unavailable (set PERMISO_TEST_POSTGRES_DSN, or start it): " + err.Error()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// redact hides a password in a DSN before it reaches test output.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// Open opens url (from SQLiteURL or PostgresURL), migrates it and closes it
// when the test ends. It returns the whole database; a tenant's store is
// db.ForTenant(id) (store.DefaultTenant for the one that always exists).
func Open(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
	if err != nil {
		t.Fatalf("sqltest: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("sqltest: migrate: %v", err)
	}
	return db
}

// SQLite returns the default tenant's store on a fresh, migrated SQLite
// file.
func SQLite(t testing.TB) *sqlstore.Tenant {
	t.Helper()
	return Open(t, SQLiteURL(t)).ForTenant(store.DefaultTenant)
}

// Postgres returns the default tenant's store on a fresh, migrated
// PostgreSQL database (or skips, see PostgresURL).
func Postgres(t testing.TB) *sqlstore.Tenant {
	t.Helper()
	return Open(t, PostgresURL(t)).ForTenant(store.DefaultTenant)
}
