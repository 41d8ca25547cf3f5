package sqlstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// TestMigrateTenants writes rows with the schema before tenants (and a
// column and an index another migration might have added), migrates, and
// checks that every row now belongs to the default tenant, that nothing
// was lost, and that the new constraints hold.
func TestMigrateTenants(t *testing.T) {
	t.Parallel()
	for name, url := range map[string]string{"sqlite": sqltest.SQLiteURL(t), "postgres": sqltest.PostgresURL(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlstore.Open(ctx, sqlstore.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.MigrateTo(ctx, 14); err != nil {
				t.Fatal(err)
			}
			var ts any = time.Now().UnixMicro()
			if name == "postgres" {
				ts = time.Now()
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if name == "postgres" {
					q = rebind(q)
				}
				if _, err := db.ExecRaw(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			exec("ALTER TABLE clients ADD COLUMN added_later TEXT NOT NULL DEFAULT 'kept'")
			exec("CREATE INDEX clients_added_later ON clients(added_later)")
			exec("INSERT INTO scopes (id, name, created_at, updated_at) VALUES ('s1', 'a:b', ?, ?)", ts, ts)
			exec("INSERT INTO roles (id, name, created_at, updated_at) VALUES ('r1', 'role', ?, ?)", ts, ts)
			exec("INSERT INTO role_scopes (role_id, scope_id) VALUES ('r1', 's1')")
			exec("INSERT INTO users (id, username, username_key, password_changed_at, created_at, updated_at) VALUES ('u1', 'Ann', 'ann', ?, ?, ?)", ts, ts, ts)
			exec("INSERT INTO user_roles (user_id, role_id) VALUES ('u1', 'r1')")
			exec("INSERT INTO clients (id, client_id, created_at, updated_at, added_later) VALUES ('c1', 'svc', ?, ?, 'mine')", ts, ts)
			exec("INSERT INTO client_scopes (client_id, scope_id) VALUES ('c1', 's1')")
			exec("INSERT INTO client_secrets (id, client_id, hash, created_at) VALUES ('cs1', 'c1', ?, ?)", []byte("h"), ts)
			exec("INSERT INTO webhook_secrets (client_id, sealed, created_at) VALUES ('c1', ?, ?)", []byte("s"), ts)
			exec("INSERT INTO sessions (id, user_id, created_at, last_activity, expires_at) VALUES ('se1', 'u1', ?, ?, ?)", ts, ts, ts)
			exec("INSERT INTO refresh_tokens (id, hash, family_id, session_id, user_id, created_at, expires_at) VALUES ('rt1', ?, 'f', 'se1', 'u1', ?, ?)", []byte("rt"), ts, ts)
			exec("INSERT INTO revocations (jti, expires_at, created_at) VALUES ('j1', ?, ?)", ts, ts)
			exec("INSERT INTO signing_keys (kid, alg, private_key, state, created_at, activates_at) VALUES ('k1', 'ES256', ?, 'active', ?, ?)", []byte("p"), ts, ts)
			exec("INSERT INTO audit_events (id, time, type) VALUES ('e1', ?, 't')", ts)
			exec("INSERT INTO authorization_codes (hash, client_id, user_id, created_at, expires_at) VALUES (?, 'svc', 'u1', ?, ?)", []byte("ac"), ts, ts)
			exec("INSERT INTO user_tokens (hash, user_id, purpose, created_at, expires_at) VALUES (?, 'u1', 'password_reset', ?, ?)", []byte("ut"), ts, ts)
			exec("INSERT INTO replay_records (key, expires_at) VALUES (?, ?)", []byte("rr"), ts)
			exec("INSERT INTO trusts (id, name, key_source, max_token_age, created_at, updated_at) VALUES ('t1', 'k8s', 'jwks', 60, ?, ?)", ts, ts)
			exec("INSERT INTO trust_bindings (id, trust_id, client_id, subject, created_at) VALUES ('b1', 't1', 'c1', 'sub', ?)", ts)

			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			tables := []string{"scopes", "roles", "role_scopes", "users", "user_roles", "clients", "client_scopes",
				"client_secrets", "sessions", "refresh_tokens", "revocations", "signing_keys", "audit_events",
				"authorization_codes", "user_tokens", "replay_records", "trusts", "trust_bindings", "webhook_secrets"}
			for _, table := range tables {
				var all, def int
				if err := db.QueryRowRaw(ctx, "SELECT COUNT(*), COUNT(CASE WHEN tenant_id = 'default' THEN 1 END) FROM "+table).Scan(&all, &def); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
				if all != 1 || def != 1 {
					t.Errorf("%s: %d rows, %d in the default tenant; want 1 and 1", table, all, def)
				}
			}
			var added string
			if err := db.QueryRowRaw(ctx, "SELECT added_later FROM clients WHERE id = 'c1'").Scan(&added); err != nil || added != "mine" {
				t.Fatalf("a column another migration added: %q, %v", added, err)
			}

			idx := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'clients_added_later'"
			if name == "postgres" {
				idx = "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'clients_added_later'"
			}
			var n int
			if err := db.QueryRowRaw(ctx, idx).Scan(&n); err != nil || n != 1 {
				t.Fatalf("an index another migration added: %d, %v", n, err)
			}

			// Another tenant may reuse names; rows may not cross tenants.
			exec("INSERT INTO tenants (id, name, created_at, updated_at) VALUES ('t2', 'acme', ?, ?)", ts, ts)
			exec("INSERT INTO scopes (tenant_id, id, name, created_at, updated_at) VALUES ('t2', 's2', 'a:b', ?, ?)", ts, ts)
			exec("INSERT INTO clients (tenant_id, id, client_id, created_at, updated_at) VALUES ('t2', 'c2', 'svc', ?, ?)", ts, ts)
			refused := map[string]string{
				"a scope of another tenant":      "INSERT INTO client_scopes (tenant_id, client_id, scope_id) VALUES ('t2', 'c2', 's1')",
				"a client of another tenant":     "INSERT INTO client_scopes (tenant_id, client_id, scope_id) VALUES ('default', 'c2', 's1')",
				"a duplicate name in one tenant": "INSERT INTO scopes (tenant_id, id, name, created_at, updated_at) VALUES ('t2', 's3', 'a:b', 0, 0)",
				"an unknown tenant":              "INSERT INTO revocations (tenant_id, jti, expires_at, created_at) VALUES ('nope', 'j2', 0, 0)",
				"a row without a tenant":         "INSERT INTO revocations (jti, expires_at, created_at) VALUES ('j3', 0, 0)",
				"a session of another's user":    "INSERT INTO sessions (tenant_id, id, user_id, created_at, last_activity, expires_at) VALUES ('t2', 'se2', 'u1', 0, 0, 0)",
			}
			for what, q := range refused {
				if name == "postgres" {
					q = strings.ReplaceAll(rebind(q), ", 0", ", now()")
				}
				if _, err := db.ExecRaw(ctx, q); err == nil {
					t.Errorf("%s was accepted", what)
				}
			}
			// Migrating again changes nothing.
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// rebind turns ? into $n for PostgreSQL.
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}
