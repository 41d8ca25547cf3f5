package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// TestMigrationDelegationGrants writes, with the first schema, the scopes
// and the bootstrap and console clients as an older Permiso created them,
// and migrates: both clients as created now hold every scope; clients an
// operator changed are left alone, and so is every other client.
func TestMigrationDelegationGrants(t *testing.T) {
	t.Parallel()
	scopes := append(slices.Clone(rbac.AdminScopes), "read:profile", "write:profile", "trade:read", "market:data")
	console := append(slices.Clone(rbac.AdminScopes), "read:profile")
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, changed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/changed=%v", dialect, changed), func(t *testing.T) {
				t.Parallel()
				url := sqltest.SQLiteURL(t)
				if dialect == "postgres" {
					url = sqltest.PostgresURL(t)
				}
				ctx := context.Background()
				db, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if err := db.MigrateTo(ctx, 1); err != nil {
					t.Fatal(err)
				}
				var ts any = time.Now().UnixMicro()
				if dialect == "postgres" {
					ts = time.Now()
				}
				exec := func(q string, args ...any) {
					t.Helper()
					if dialect == "postgres" {
						q = rebind(q)
					}
					if _, err := db.ExecRaw(ctx, q, args...); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				for _, s := range scopes {
					exec("INSERT INTO scopes (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)", "s-"+s, s, ts, ts)
				}
				client := func(id string, held []string) {
					exec("INSERT INTO clients (id, client_id, created_at, updated_at) VALUES (?, ?, ?, ?)", "c-"+id, id, ts, ts)
					for _, s := range held {
						exec("INSERT INTO client_scopes (client_id, scope_id) VALUES (?, ?)", "c-"+id, "s-"+s)
					}
				}
				admin, cons := rbac.AdminScopes, console
				if changed {
					admin, cons = admin[1:], append(slices.Clone(cons[:len(cons)-1]), "trade:read")
				}
				client("permiso-admin", admin)
				client("permiso-console", cons)
				client("other", rbac.AdminScopes)

				if err := db.MigrateTo(ctx, 2); err != nil {
					t.Fatal(err)
				}
				want := map[string]int{"permiso-admin": len(scopes), "permiso-console": len(scopes), "other": len(rbac.AdminScopes)}
				if changed {
					want["permiso-admin"], want["permiso-console"] = len(admin), len(cons)
				}
				for id, n := range want {
					var got int
					q := "SELECT COUNT(*) FROM client_scopes WHERE client_id = ?"
					if dialect == "postgres" {
						q = rebind(q)
					}
					if err := db.QueryRowRaw(ctx, q, "c-"+id).Scan(&got); err != nil {
						t.Fatal(err)
					}
					if got != n {
						t.Errorf("%s holds %d scopes, want %d", id, got, n)
					}
				}
				// Later migrations apply on top.
				if err := db.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
