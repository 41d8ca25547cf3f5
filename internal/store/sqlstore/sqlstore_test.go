package sqlstore_test

import (
	"context"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
	"github.com/permiso-auth/permiso/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.SQLite(t) })
}

func TestPostgresConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return sqltest.Postgres(t) })
}

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{"sqlite": sqltest.SQLiteURL(t), "postgres": sqltest.PostgresURL(t)} {
		t.Run(name, func(t *testing.T) {
			db := sqltest.Open(t, url)
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if got := db.Dialect(); got != name {
				t.Fatalf("Dialect() = %q, want %q", got, name)
			}
		})
	}
}

// TestSQLiteURLForms accepts a bare path, "sqlite:" and "file:" prefixes
// (with options of the caller's own) and an in-memory database.
func TestSQLiteURLForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, url := range []string{dir + "/a.db", "sqlite:" + dir + "/b.db", "file:" + dir + "/c.db?cache=private", ":memory:"} {
		t.Run(url, func(t *testing.T) {
			db := sqltest.Open(t, url)
			ctx := context.Background()
			st := db.ForTenant(store.DefaultTenant)
			if _, err := st.CreateScope(ctx, store.Scope{Name: "s"}); err != nil {
				t.Fatal(err)
			}
			if _, err := st.GetScopeByName(ctx, "s"); err != nil {
				t.Fatal(err)
			}
			if db.Dialect() != "sqlite" {
				t.Fatalf("Dialect() = %q", db.Dialect())
			}
			if st := db.Stats(); st.MaxOpenConnections == 0 {
				t.Fatal("Stats: no pool limit")
			}
		})
	}
}

func TestSQLiteTenants(t *testing.T) {
	t.Parallel()
	storetest.RunTenants(t, func(t *testing.T) store.Root { return sqltest.Open(t, sqltest.SQLiteURL(t)) })
}

func TestPostgresTenants(t *testing.T) {
	t.Parallel()
	storetest.RunTenants(t, func(t *testing.T) store.Root { return sqltest.Open(t, sqltest.PostgresURL(t)) })
}

// TestSQLiteConformanceOtherTenant runs the conformance suite on a tenant
// other than the default one, in a database that has both.
func TestSQLiteConformanceOtherTenant(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		db := sqltest.Open(t, sqltest.SQLiteURL(t))
		tn, err := db.CreateTenant(context.Background(), store.Tenant{Name: "acme", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		return db.Tenant(tn.ID)
	})
}
