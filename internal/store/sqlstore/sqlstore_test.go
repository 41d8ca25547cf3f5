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
