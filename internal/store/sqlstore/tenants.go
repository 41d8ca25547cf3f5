package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Tenant administration runs on the unscoped database: it reads and writes
// the tenants table, and deletes a tenant's rows without reading them.

const tenantCols = "id, name, display_name, is_active, tokens_valid_after, deleted_at, purge_after, created_at, updated_at"

func scanTenant(row interface{ Scan(...any) error }) (store.Tenant, error) {
	var t store.Tenant
	err := row.Scan(&t.ID, &t.Name, &t.DisplayName, &t.Active, ntscan{&t.TokensValidAfter}, ntscan{&t.DeletedAt},
		ntscan{&t.PurgeAfter}, tscan{&t.CreatedAt}, tscan{&t.UpdatedAt})
	return t, err
}

// CreateTenant inserts a tenant; ErrConflict when the name is taken.
func (db *DB) CreateTenant(ctx context.Context, t store.Tenant) (store.Tenant, error) {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = norm(t.CreatedAt)
	t.UpdatedAt = t.CreatedAt
	t.TokensValidAfter, t.DeletedAt, t.PurgeAfter = normp(t.TokensValidAfter), nil, nil
	err := db.inTx(ctx, func(x *tx) error {
		if _, err := x.exec(ctx, "INSERT INTO tenants ("+tenantCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			t.ID, t.Name, t.DisplayName, t.Active, db.tsp(t.TokensValidAfter), nil, nil, db.ts(t.CreatedAt), db.ts(t.UpdatedAt)); err != nil {
			return mapErr(err)
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTenant, ID: t.ID, Tenant: t.ID})
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("create tenant %q: %w", t.Name, err)
	}
	return t, nil
}

// GetTenant reads a tenant (or tombstone) by id.
func (db *DB) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(db.queryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE id = ?", id))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("get tenant %q: %w", id, mapErr(err))
	}
	return t, nil
}

// GetTenantByName reads a tenant (or tombstone) by name.
func (db *DB) GetTenantByName(ctx context.Context, name string) (store.Tenant, error) {
	t, err := scanTenant(db.queryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE name = ?", name))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("get tenant by name %q: %w", name, mapErr(err))
	}
	return t, nil
}

// ListTenants returns a page of tenants by name, and the total; tombstones
// are left out.
func (db *DB) ListTenants(ctx context.Context, f store.TenantFilter) ([]store.Tenant, int, error) {
	w := where{conds: []string{"deleted_at IS NULL"}}
	if f.Search != "" {
		op, p := db.like(), likeArg(f.Search)
		w.add("(name "+op+" ? ESCAPE '\\' OR display_name "+op+" ? ESCAPE '\\')", p, p)
	}
	if f.Active != nil {
		w.add("is_active = ?", *f.Active)
	}
	total, err := count(ctx, db, "SELECT COUNT(*) FROM tenants"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	limit, offset := limits(f.Page)
	rows, err := db.query(ctx, "SELECT "+tenantCols+" FROM tenants"+w.String()+" ORDER BY name LIMIT ? OFFSET ?",
		append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	out := []store.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list tenants: %w", err)
	}
	return out, total, nil
}

// UpdateTenant applies fn in a transaction. ID, Name, CreatedAt and the
// deletion fields cannot change here.
func (db *DB) UpdateTenant(ctx context.Context, id string, fn func(store.Tenant) (store.Tenant, error)) (store.Tenant, error) {
	var out store.Tenant
	err := db.inTx(ctx, func(x *tx) error {
		old, err := scanTenant(x.queryRow(ctx, "SELECT "+tenantCols+" FROM tenants WHERE id = ?"+db.forUpdate(), id))
		if err != nil {
			return mapErr(err)
		}
		if old.Deleted() {
			return fmt.Errorf("tenant is deleted: %w", store.ErrNotFound)
		}
		t, err := fn(old)
		if err != nil {
			return err
		}
		t.ID, t.Name, t.CreatedAt, t.DeletedAt, t.PurgeAfter = old.ID, old.Name, old.CreatedAt, nil, nil
		t.UpdatedAt, t.TokensValidAfter = now(), normp(t.TokensValidAfter)
		if _, err := x.exec(ctx, "UPDATE tenants SET display_name = ?, is_active = ?, tokens_valid_after = ?, updated_at = ? WHERE id = ?",
			t.DisplayName, t.Active, db.tsp(t.TokensValidAfter), db.ts(t.UpdatedAt), id); err != nil {
			return mapErr(err)
		}
		out = t
		return x.publish(ctx, store.Change{Kind: store.ChangeTenant, ID: id, Tenant: id})
	})
	if err != nil {
		return store.Tenant{}, fmt.Errorf("update tenant %q: %w", id, err)
	}
	return out, nil
}

// DeleteTenantData marks the tenant deleted (a tombstone until purgeAfter)
// and removes every row it holds in every table. The mark is committed
// first, so a tenant whose rows are being removed is already refused
// everywhere; rows a crash leaves behind are removed by PurgeTenants.
func (db *DB) DeleteTenantData(ctx context.Context, id string, at, purgeAfter time.Time) error {
	if id == store.DefaultTenant {
		return fmt.Errorf("delete tenant %q: the default tenant cannot be deleted: %w", id, store.ErrConflict)
	}
	err := db.inTx(ctx, func(x *tx) error {
		n, err := affected(x.exec(ctx, "UPDATE tenants SET is_active = ?, deleted_at = ?, purge_after = ?, tokens_valid_after = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
			false, db.ts(at), db.ts(purgeAfter), db.ts(at), db.ts(at), id))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTenant, ID: id, Tenant: id})
	})
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	if err := db.deleteRowsOf(ctx, id); err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	return nil
}

// PurgeTenants removes the tombstones whose PurgeAfter is at or before
// now (and any row of theirs still left), freeing their names.
func (db *DB) PurgeTenants(ctx context.Context, now time.Time) (int, error) {
	rows, err := db.query(ctx, "SELECT id FROM tenants WHERE deleted_at IS NOT NULL AND purge_after <= ?", db.ts(now))
	if err != nil {
		return 0, fmt.Errorf("purge tenants: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("purge tenants: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("purge tenants: %w", err)
	}
	for _, id := range ids {
		if err := db.deleteRowsOf(ctx, id); err != nil {
			return 0, fmt.Errorf("purge tenant %q: %w", id, err)
		}
		if _, err := db.exec(ctx, "DELETE FROM tenants WHERE id = ? AND deleted_at IS NOT NULL", id); err != nil {
			return 0, fmt.Errorf("purge tenant %q: %w", id, mapErr(err))
		}
		if err := db.Publish(ctx, store.Change{Kind: store.ChangeTenant, ID: id, Tenant: id}); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// tenantTables returns every table with a tenant_id column: those of this
// package's migrations and any a later migration adds.
func (db *DB) tenantTables(ctx context.Context) ([]string, error) {
	q := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY m.name`
	if db.pg() {
		q = `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = 'tenant_id' ORDER BY table_name`
	}
	rows, err := db.query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// deleteRowsOf deletes the tenant's rows from every tenant table. Tables
// are tried in rounds: one whose rows are still referenced (a RESTRICT
// foreign key from a table not emptied yet) waits for the next round, so
// no order needs to be kept in step with the schema.
func (db *DB) deleteRowsOf(ctx context.Context, id string) error {
	tables, err := db.tenantTables(ctx)
	if err != nil {
		return fmt.Errorf("list tenant tables: %w", err)
	}
	for len(tables) > 0 {
		var left []string
		var lastErr error
		for _, table := range tables {
			if _, err := db.exec(ctx, "DELETE FROM "+quoteIdent(table)+" WHERE tenant_id = ?", id); err != nil {
				if !isForeignKey(err) {
					return fmt.Errorf("delete rows of %s: %w", table, err)
				}
				left, lastErr = append(left, table), err
			}
		}
		if len(left) == len(tables) {
			return fmt.Errorf("delete rows: still referenced: %w", lastErr)
		}
		tables = slices.Clip(left)
	}
	return nil
}

// PurgeExpired deletes, across every tenant, revocations and replay
// records that expired at or before now, and audit events older than
// auditBefore (unless it is zero). It returns how many rows went.
func (db *DB) PurgeExpired(ctx context.Context, now, auditBefore time.Time) (int, error) {
	total := 0
	stmts := [][2]any{
		{"DELETE FROM revocations WHERE expires_at <= ?", db.ts(now)},
		{"DELETE FROM replay_records WHERE expires_at <= ?", db.ts(now)},
	}
	if !auditBefore.IsZero() {
		stmts = append(stmts, [2]any{"DELETE FROM audit_events WHERE time < ?", db.ts(auditBefore)})
	}
	var errs []error
	for _, s := range stmts {
		n, err := affected(db.exec(ctx, s[0].(string), s[1]))
		if err != nil {
			errs = append(errs, err)
		}
		total += n
	}
	if err := errors.Join(errs...); err != nil {
		return total, fmt.Errorf("purge expired rows: %w", err)
	}
	return total, nil
}
