package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// goSteps are migration steps written in Go, run after the migration's SQL
// in the same transaction, by dialect and version.
var goSteps = map[string]map[int]func(ctx context.Context, tx *sql.Tx) error{
	DialectSQLite: {15: func(ctx context.Context, tx *sql.Tx) error { return rebuildSQLite(ctx, tx, tenantTablesSQLite) }},
}

// fkOffMarker in a SQLite migration turns foreign keys off while it runs
// (PRAGMA foreign_keys cannot change inside a transaction, and a table
// rebuild must not cascade the DROP of the old table into its children);
// they are checked with PRAGMA foreign_key_check before it commits.
const fkOffMarker = "-- sqlite:foreign_keys=off"

// tableSpec is the shape a SQLite table is rebuilt into. Columns the old
// table has are kept with their type, NOT NULL and DEFAULT (so columns
// other migrations added survive); tenant_id comes first; the constraints
// replace the old table's. Indexes on the old table are re-created unless
// replaced names them.
type tableSpec struct {
	name        string
	columns     map[string]string // definitions that replace the derived ones
	constraints []string          // PRIMARY KEY, UNIQUE and FOREIGN KEY clauses
	fkColumns   []string          // columns whose old foreign keys the constraints replace
	indexes     []string          // CREATE INDEX statements for the new table
	replaced    []string          // old indexes not to re-create
}

// tenantParent is the key a table's children reference: (tenant_id, id).
func tenantParent() []string {
	return []string{"PRIMARY KEY (id)", "UNIQUE (tenant_id, id)"}
}

// tenantTablesSQLite is migration 0015 for SQLite; see
// migrations/postgres/0015_tenants.sql for the same schema reached in place.
var tenantTablesSQLite = []tableSpec{
	{name: "scopes", constraints: append(tenantParent(), "UNIQUE (tenant_id, name)")},
	{name: "roles", constraints: append(tenantParent(), "UNIQUE (tenant_id, name)")},
	{name: "role_scopes",
		constraints: []string{"PRIMARY KEY (tenant_id, role_id, scope_id)",
			"FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, id) ON DELETE CASCADE",
			"FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes(tenant_id, id) ON DELETE RESTRICT"},
		fkColumns: []string{"role_id", "scope_id"},
		indexes:   []string{"CREATE INDEX role_scopes_scope ON role_scopes(tenant_id, scope_id)"},
		replaced:  []string{"role_scopes_scope"}},
	{name: "users", constraints: append(tenantParent(), "UNIQUE (tenant_id, username_key)", "UNIQUE (tenant_id, email_key)")},
	{name: "user_roles",
		constraints: []string{"PRIMARY KEY (tenant_id, user_id, role_id)",
			"FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE",
			"FOREIGN KEY (tenant_id, role_id) REFERENCES roles(tenant_id, id) ON DELETE RESTRICT"},
		fkColumns: []string{"user_id", "role_id"},
		indexes:   []string{"CREATE INDEX user_roles_role ON user_roles(tenant_id, role_id)"},
		replaced:  []string{"user_roles_role"}},
	{name: "clients", constraints: append(tenantParent(), "UNIQUE (tenant_id, client_id)")},
	{name: "client_scopes",
		constraints: []string{"PRIMARY KEY (tenant_id, client_id, scope_id)",
			"FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE",
			"FOREIGN KEY (tenant_id, scope_id) REFERENCES scopes(tenant_id, id) ON DELETE RESTRICT"},
		fkColumns: []string{"client_id", "scope_id"},
		indexes:   []string{"CREATE INDEX client_scopes_scope ON client_scopes(tenant_id, scope_id)"},
		replaced:  []string{"client_scopes_scope"}},
	{name: "client_secrets",
		constraints: []string{"PRIMARY KEY (id)",
			"FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"client_id"},
		indexes:   []string{"CREATE INDEX client_secrets_client ON client_secrets(tenant_id, client_id)"},
		replaced:  []string{"client_secrets_client"}},
	{name: "sessions",
		constraints: append(tenantParent(),
			"FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE"),
		fkColumns: []string{"user_id"},
		indexes:   []string{"CREATE INDEX sessions_user ON sessions(tenant_id, user_id)"},
		replaced:  []string{"sessions_user"}},
	{name: "refresh_tokens",
		constraints: []string{"PRIMARY KEY (id)", "UNIQUE (tenant_id, hash)",
			"FOREIGN KEY (tenant_id, session_id) REFERENCES sessions(tenant_id, id) ON DELETE CASCADE",
			"FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"session_id", "user_id"},
		indexes: []string{"CREATE INDEX refresh_tokens_session ON refresh_tokens(tenant_id, session_id)",
			"CREATE INDEX refresh_tokens_user ON refresh_tokens(tenant_id, user_id)"},
		replaced: []string{"refresh_tokens_session", "refresh_tokens_user"}},
	{name: "revocations",
		columns:     map[string]string{"seq": "seq INTEGER PRIMARY KEY AUTOINCREMENT"},
		constraints: []string{"UNIQUE (tenant_id, jti)"},
		indexes:     []string{"CREATE INDEX revocations_tenant_seq ON revocations(tenant_id, seq)"}},
	{name: "signing_keys", constraints: []string{"PRIMARY KEY (kid)"},
		indexes: []string{"CREATE INDEX signing_keys_tenant ON signing_keys(tenant_id)"}},
	{name: "audit_events", constraints: []string{"PRIMARY KEY (id)"},
		indexes: []string{"CREATE INDEX audit_events_tenant_time ON audit_events(tenant_id, time)",
			"CREATE INDEX audit_events_tenant_type ON audit_events(tenant_id, type)"},
		replaced: []string{"audit_events_type"}},
	{name: "authorization_codes",
		constraints: []string{"PRIMARY KEY (tenant_id, hash)",
			"FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"user_id"}},
	{name: "user_tokens",
		constraints: []string{"PRIMARY KEY (tenant_id, hash)",
			"FOREIGN KEY (tenant_id, user_id) REFERENCES users(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"user_id"},
		indexes:   []string{"CREATE INDEX user_tokens_user ON user_tokens(tenant_id, user_id)"},
		replaced:  []string{"user_tokens_user"}},
	{name: "replay_records", constraints: []string{"PRIMARY KEY (tenant_id, key)"}},
	{name: "trusts", constraints: append(tenantParent(), "UNIQUE (tenant_id, name)"),
		indexes: []string{"CREATE UNIQUE INDEX trusts_issuer ON trusts(tenant_id, issuer) WHERE issuer <> ''",
			"CREATE UNIQUE INDEX trusts_trust_domain ON trusts(tenant_id, trust_domain) WHERE trust_domain <> ''"},
		replaced: []string{"trusts_issuer", "trusts_trust_domain"}},
	{name: "webhook_secrets",
		constraints: []string{"PRIMARY KEY (tenant_id, client_id)",
			"FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"client_id"}},
	{name: "trust_bindings",
		constraints: []string{"PRIMARY KEY (id)", "UNIQUE (tenant_id, trust_id, subject)",
			"FOREIGN KEY (tenant_id, trust_id) REFERENCES trusts(tenant_id, id) ON DELETE RESTRICT",
			"FOREIGN KEY (tenant_id, client_id) REFERENCES clients(tenant_id, id) ON DELETE CASCADE"},
		fkColumns: []string{"trust_id", "client_id"},
		indexes:   []string{"CREATE INDEX trust_bindings_client ON trust_bindings(tenant_id, client_id)"},
		replaced:  []string{"trust_bindings_client"}},
}

// rebuildSQLite rebuilds each table of specs into its spec's shape, moving
// its rows into the default tenant.
func rebuildSQLite(ctx context.Context, tx *sql.Tx, specs []tableSpec) error {
	for _, s := range specs {
		if err := rebuildTable(ctx, tx, s); err != nil {
			return fmt.Errorf("rebuild %s: %w", s.name, err)
		}
	}
	return nil
}

type sqliteColumn struct {
	name, typ, dflt  string
	notNull, hasDflt bool
}

func rebuildTable(ctx context.Context, tx *sql.Tx, s tableSpec) error {
	cols, err := sqliteColumns(ctx, tx, s.name)
	if err != nil {
		return err
	}
	fks, err := sqliteForeignKeys(ctx, tx, s.name, s.fkColumns)
	if err != nil {
		return err
	}
	indexes, err := sqliteIndexes(ctx, tx, s.name, s.replaced)
	if err != nil {
		return err
	}
	defs := []string{"tenant_id TEXT NOT NULL REFERENCES tenants(id)"}
	names := make([]string, 0, len(cols))
	for _, c := range cols {
		if c.name == "tenant_id" {
			return fmt.Errorf("table %s already has tenant_id", s.name)
		}
		names = append(names, quoteIdent(c.name))
		if d, ok := s.columns[c.name]; ok {
			defs = append(defs, d)
			continue
		}
		d := quoteIdent(c.name) + " " + c.typ
		if c.notNull {
			d += " NOT NULL"
		}
		if c.hasDflt {
			d += " DEFAULT " + c.dflt
		}
		defs = append(defs, d)
	}
	defs = append(defs, s.constraints...)
	defs = append(defs, fks...)
	tmp := s.name + "_tenants_new"
	list := strings.Join(names, ", ")
	stmts := []string{
		"CREATE TABLE " + tmp + " (\n    " + strings.Join(defs, ",\n    ") + "\n)",
		"INSERT INTO " + tmp + " (tenant_id, " + list + ") SELECT 'default', " + list + " FROM " + s.name,
		"DROP TABLE " + s.name,
		"ALTER TABLE " + tmp + " RENAME TO " + s.name,
	}
	stmts = append(stmts, s.indexes...)
	stmts = append(stmts, indexes...)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

func sqliteColumns(ctx context.Context, tx *sql.Tx, table string) ([]sqliteColumn, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sqliteColumn
	for rows.Next() {
		var c sqliteColumn
		var dflt sql.NullString
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &dflt); err != nil {
			return nil, err
		}
		c.dflt, c.hasDflt = dflt.String, dflt.Valid
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no such table")
	}
	return out, nil
}

// sqliteForeignKeys returns the old table's foreign keys that the spec does
// not replace (those another migration added), as table constraints.
func sqliteForeignKeys(ctx context.Context, tx *sql.Tx, table string, replaced []string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type fk struct {
		parent, onDelete string
		from, to         []string
	}
	var order []int
	byID := map[int]*fk{}
	for rows.Next() {
		var id int
		var parent, from, onDelete string
		var to sql.NullString
		if err := rows.Scan(&id, &parent, &from, &to, &onDelete); err != nil {
			return nil, err
		}
		f := byID[id]
		if f == nil {
			f = &fk{parent: parent, onDelete: onDelete}
			byID[id] = f
			order = append(order, id)
		}
		f.from = append(f.from, quoteIdent(from))
		if to.Valid {
			f.to = append(f.to, quoteIdent(to.String))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, id := range order {
		f := byID[id]
		keep := true
		for _, c := range f.from {
			if slices.Contains(replaced, strings.Trim(c, `"`)) {
				keep = false
			}
		}
		if !keep {
			continue
		}
		clause := "FOREIGN KEY (" + strings.Join(f.from, ", ") + ") REFERENCES " + quoteIdent(f.parent)
		if len(f.to) > 0 {
			clause += "(" + strings.Join(f.to, ", ") + ")"
		}
		if f.onDelete != "" && f.onDelete != "NO ACTION" {
			clause += " ON DELETE " + f.onDelete
		}
		out = append(out, clause)
	}
	return out, nil
}

// sqliteIndexes returns the CREATE INDEX statements of the table's
// explicitly created indexes, except those named in replaced.
func sqliteIndexes(ctx context.Context, tx *sql.Tx, table string, replaced []string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, q string
		if err := rows.Scan(&name, &q); err != nil {
			return nil, err
		}
		if !slices.Contains(replaced, name) {
			out = append(out, q)
		}
	}
	return out, rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func firstLine(q string) string {
	l, _, _ := strings.Cut(q, "\n")
	return l
}
