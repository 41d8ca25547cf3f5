package sqlstore

import (
	"context"
	"fmt"

	"github.com/permiso-auth/permiso/internal/store"
)

const scopeCols = "id, name, description, resource, created_at, updated_at"

func scanScope(row interface{ Scan(...any) error }) (store.Scope, error) {
	var s store.Scope
	err := row.Scan(&s.ID, &s.Name, &s.Description, &s.Resource, tscan{&s.CreatedAt}, tscan{&s.UpdatedAt})
	return s, err
}

// CreateScope inserts a scope; ErrConflict on a duplicate name.
func (st *Tenant) CreateScope(ctx context.Context, s store.Scope) (store.Scope, error) {
	if s.ID == "" {
		s.ID = newID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	s.CreatedAt = norm(s.CreatedAt)
	s.UpdatedAt = s.CreatedAt
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "INSERT INTO scopes (tenant_id, "+scopeCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			st.id, s.ID, s.Name, s.Description, s.Resource, st.ts(s.CreatedAt), st.ts(s.UpdatedAt)); err != nil {
			return mapErr(err)
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeScope, ID: s.ID})
	})
	if err != nil {
		return store.Scope{}, fmt.Errorf("create scope %q: %w", s.Name, err)
	}
	return s, nil
}

// GetScope reads a scope by id.
func (st *Tenant) GetScope(ctx context.Context, id string) (store.Scope, error) {
	s, err := scanScope(st.queryRow(ctx, "SELECT "+scopeCols+" FROM scopes WHERE tenant_id = ? AND id = ?", st.id, id))
	if err != nil {
		return store.Scope{}, fmt.Errorf("get scope %q: %w", id, mapErr(err))
	}
	return s, nil
}

// GetScopeByName reads a scope by its exact name.
func (st *Tenant) GetScopeByName(ctx context.Context, name string) (store.Scope, error) {
	s, err := scanScope(st.queryRow(ctx, "SELECT "+scopeCols+" FROM scopes WHERE tenant_id = ? AND name = ?", st.id, name))
	if err != nil {
		return store.Scope{}, fmt.Errorf("get scope by name %q: %w", name, mapErr(err))
	}
	return s, nil
}

// ListScopes returns a page of scopes ordered by creation, and the total.
func (st *Tenant) ListScopes(ctx context.Context, f store.ScopeFilter) ([]store.Scope, int, error) {
	w := st.where()
	if f.Search != "" {
		op := st.like()
		w.add("(name "+op+" ? ESCAPE '\\' OR description "+op+" ? ESCAPE '\\')", likeArg(f.Search), likeArg(f.Search))
	}
	if f.Resource != "" {
		w.add("resource = ?", f.Resource)
	}
	if f.Action != "" {
		// The action is the part before the first ':'; a name without ':'
		// is all action. substr keeps the match case-sensitive on both engines.
		w.add("(name = ? OR substr(name, 1, ?) = ?)", f.Action, len(f.Action)+1, f.Action+":")
	}
	total, err := count(ctx, st, "SELECT COUNT(*) FROM scopes"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list scopes: %w", err)
	}
	limit, offset := limits(f.Page)
	rows, err := st.query(ctx, "SELECT "+scopeCols+" FROM scopes"+w.String()+
		" ORDER BY created_at, id LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list scopes: %w", err)
	}
	defer rows.Close()
	out := []store.Scope{}
	for rows.Next() {
		s, err := scanScope(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list scopes: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list scopes: %w", err)
	}
	return out, total, nil
}

// UpdateScope applies fn to the scope inside a transaction. ID and
// CreatedAt cannot change.
func (st *Tenant) UpdateScope(ctx context.Context, id string, fn func(store.Scope) (store.Scope, error)) (store.Scope, error) {
	var out store.Scope
	err := st.inTx(ctx, func(t *tx) error {
		old, err := scanScope(t.queryRow(ctx, "SELECT "+scopeCols+" FROM scopes WHERE tenant_id = ? AND id = ?"+st.forUpdate(), st.id, id))
		if err != nil {
			return mapErr(err)
		}
		s, err := fn(old)
		if err != nil {
			return err
		}
		s.ID, s.CreatedAt, s.UpdatedAt = old.ID, old.CreatedAt, now()
		if _, err := t.exec(ctx, "UPDATE scopes SET name = ?, description = ?, resource = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
			s.Name, s.Description, s.Resource, st.ts(s.UpdatedAt), st.id, id); err != nil {
			return mapErr(err)
		}
		out = s
		return t.publish(ctx, store.Change{Kind: store.ChangeScope, ID: id})
	})
	if err != nil {
		return store.Scope{}, fmt.Errorf("update scope %q: %w", id, err)
	}
	return out, nil
}

// DeleteScope removes a scope; ErrConflict while a role or client holds it.
func (st *Tenant) DeleteScope(ctx context.Context, id string) error {
	err := st.inTx(ctx, func(t *tx) error {
		roles, clients, err := scopeUsage(ctx, t, id)
		if err != nil {
			return err
		}
		if roles+clients > 0 {
			return fmt.Errorf("%w: held by %d roles and %d clients", store.ErrConflict, roles, clients)
		}
		n, err := deleted(t.exec(ctx, "DELETE FROM scopes WHERE tenant_id = ? AND id = ?", st.id, id))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeScope, ID: id})
	})
	if err != nil {
		return fmt.Errorf("delete scope %q: %w", id, err)
	}
	return nil
}

// ScopeUsage counts the roles and clients holding a scope.
func (st *Tenant) ScopeUsage(ctx context.Context, id string) (roles, clients int, err error) {
	roles, clients, err = scopeUsage(ctx, st, id)
	if err != nil {
		return 0, 0, fmt.Errorf("scope usage %q: %w", id, err)
	}
	return roles, clients, nil
}

func scopeUsage(ctx context.Context, r runner, id string) (roles, clients int, err error) {
	err = r.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM role_scopes WHERE tenant_id = ? AND scope_id = ?),
		(SELECT COUNT(*) FROM client_scopes WHERE tenant_id = ? AND scope_id = ?)`, r.tid(), id, r.tid(), id).Scan(&roles, &clients)
	return roles, clients, err
}

// scopesOf loads the scopes of many owners from a join table in one query,
// keyed by owner id and ordered by scope name.
func scopesOf(ctx context.Context, r runner, table, ownerCol string, owners []string) (map[string][]store.Scope, error) {
	out := make(map[string][]store.Scope, len(owners))
	if len(owners) == 0 {
		return out, nil
	}
	in, args := inList(owners)
	rows, err := r.query(ctx, "SELECT j."+ownerCol+", s.id, s.name, s.description, s.resource, s.created_at, s.updated_at FROM "+
		table+" j JOIN scopes s ON s.tenant_id = j.tenant_id AND s.id = j.scope_id WHERE j.tenant_id = ? AND j."+ownerCol+" IN ("+in+") ORDER BY s.name",
		append([]any{r.tid()}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var s store.Scope
		if err := rows.Scan(&owner, &s.ID, &s.Name, &s.Description, &s.Resource, tscan{&s.CreatedAt}, tscan{&s.UpdatedAt}); err != nil {
			return nil, err
		}
		out[owner] = append(out[owner], s)
	}
	return out, rows.Err()
}

// setScopes replaces an owner's scope set in a join table.
func setScopes(ctx context.Context, t *tx, table, ownerCol, owner string, scopeIDs []string) error {
	if _, err := t.exec(ctx, "DELETE FROM "+table+" WHERE tenant_id = ? AND "+ownerCol+" = ?", t.tenant, owner); err != nil {
		return mapErr(err)
	}
	for _, sid := range dedupe(scopeIDs) {
		// The composite foreign key refuses a scope of another tenant.
		if _, err := t.exec(ctx, "INSERT INTO "+table+" (tenant_id, "+ownerCol+", scope_id) VALUES (?, ?, ?)", t.tenant, owner, sid); err != nil {
			return fmt.Errorf("scope %q: %w", sid, mapErr(err))
		}
	}
	return nil
}

// fillScopes sets ScopeIDs and Scopes from loaded scopes (non-nil slices).
func fillScopes(scopes []store.Scope) ([]string, []store.Scope) {
	ids := make([]string, len(scopes))
	for i, s := range scopes {
		ids[i] = s.ID
	}
	if scopes == nil {
		scopes = []store.Scope{}
	}
	return ids, scopes
}
