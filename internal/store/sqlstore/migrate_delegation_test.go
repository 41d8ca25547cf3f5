package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// TestMigrationDelegationGrants replays migration 0002 on databases made
// before it: the bootstrap client as created gets every scope, the console
// client as created too, and clients an operator changed
// are left alone.
func TestMigrationDelegationGrants(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, changed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/changed=%v", dialect, changed), func(t *testing.T) {
				t.Parallel()
				url := sqltest.SQLiteURL(t)
				if dialect == "postgres" {
					url = sqltest.PostgresURL(t)
				}
				ctx := context.Background()
				db := sqltest.Open(t, url)
				if err := rbac.Seed(ctx, db); err != nil {
					t.Fatal(err)
				}
				admin, console := slices.Clone(rbac.AdminScopes), append(slices.Clone(rbac.AdminScopes), "read:profile")
				if changed {
					admin, console = admin[1:], console[2:]
				}
				createWith(t, db, "permiso-admin", admin)
				createWith(t, db, "permiso-console", console)
				createWith(t, db, "other", rbac.AdminScopes)

				raw := rawDB(t, dialect, url)
				if _, err := raw.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = 2"); err != nil {
					t.Fatal(err)
				}
				if err := db.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				_, total, err := db.ListScopes(ctx, store.ScopeFilter{})
				if err != nil {
					t.Fatal(err)
				}
				wantAdmin, wantConsole := total, total
				if changed {
					wantAdmin, wantConsole = len(admin), len(console)
				}
				for id, want := range map[string]int{"permiso-admin": wantAdmin, "permiso-console": wantConsole, "other": len(rbac.AdminScopes)} {
					c, err := db.GetClient(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if len(c.ScopeIDs) != want {
						t.Errorf("changed=%v: %s holds %d scopes, want %d", changed, id, len(c.ScopeIDs), want)
					}
				}
			})
		}
	}
}

func createWith(t *testing.T, db store.Store, clientID string, scopes []string) {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for _, n := range scopes {
		s, err := db.GetScopeByName(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	if _, err := db.CreateClient(ctx, store.Client{ClientID: clientID, Name: clientID, Type: "confidential", Active: true, ScopeIDs: ids}); err != nil {
		t.Fatal(err)
	}
}

// rawDB opens a second, plain connection to the test database.
func rawDB(t *testing.T, dialect, url string) *sql.DB {
	t.Helper()
	driver, dsn := "pgx", url
	if dialect == "sqlite" {
		driver, dsn = "sqlite", "file:"+strings.TrimPrefix(url, "file:")+"?_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
