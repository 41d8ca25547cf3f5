package sqlstore

import (
	"context"
	"fmt"

	"github.com/permiso-auth/permiso/internal/store"
)

const roleCols = "id, name, description, created_at, updated_at"

func scanRole(row interface{ Scan(...any) error }) (store.Role, error) {
	var r store.Role
	err := row.Scan(&r.ID, &r.Name, &r.Description, tscan{&r.CreatedAt}, tscan{&r.UpdatedAt})
	return r, err
}

// CreateRole inserts a role with its scopes; ErrConflict on a duplicate
// name, ErrNotFound for an unknown scope id.
func (st *Tenant) CreateRole(ctx context.Context, r store.Role) (store.Role, error) {
	if r.ID == "" {
		r.ID = newID()
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now()
	}
	var out store.Role
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "INSERT INTO roles (tenant_id, "+roleCols+") VALUES (?, ?, ?, ?, ?, ?)",
			st.id, r.ID, r.Name, r.Description, st.ts(r.CreatedAt), st.ts(r.CreatedAt)); err != nil {
			return mapErr(err)
		}
		if err := setScopes(ctx, t, "role_scopes", "role_id", r.ID, r.ScopeIDs); err != nil {
			return err
		}
		var err error
		if out, err = getRole(ctx, t, "id", r.ID); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeRole, ID: r.ID})
	})
	if err != nil {
		return store.Role{}, fmt.Errorf("create role %q: %w", r.Name, err)
	}
	return out, nil
}

// getRole reads one role by "id" or "name", with its scopes.
func getRole(ctx context.Context, r runner, col, val string) (store.Role, error) {
	role, err := scanRole(r.queryRow(ctx, "SELECT "+roleCols+" FROM roles WHERE tenant_id = ? AND "+col+" = ?", r.tid(), val))
	if err != nil {
		return store.Role{}, mapErr(err)
	}
	m, err := scopesOf(ctx, r, "role_scopes", "role_id", []string{role.ID})
	if err != nil {
		return store.Role{}, err
	}
	role.ScopeIDs, role.Scopes = fillScopes(m[role.ID])
	return role, nil
}

// GetRole reads a role by id.
func (st *Tenant) GetRole(ctx context.Context, id string) (store.Role, error) {
	r, err := getRole(ctx, st, "id", id)
	if err != nil {
		return store.Role{}, fmt.Errorf("get role %q: %w", id, err)
	}
	return r, nil
}

// GetRoleByName reads a role by its exact name.
func (st *Tenant) GetRoleByName(ctx context.Context, name string) (store.Role, error) {
	r, err := getRole(ctx, st, "name", name)
	if err != nil {
		return store.Role{}, fmt.Errorf("get role by name %q: %w", name, err)
	}
	return r, nil
}

// ListRoles returns a page of roles with their scopes, and the total.
func (st *Tenant) ListRoles(ctx context.Context, f store.RoleFilter) ([]store.Role, int, error) {
	w := st.where()
	if f.Search != "" {
		op := st.like()
		w.add("(name "+op+" ? ESCAPE '\\' OR description "+op+" ? ESCAPE '\\')", likeArg(f.Search), likeArg(f.Search))
	}
	if f.ScopeID != "" {
		w.add("id IN (SELECT role_id FROM role_scopes WHERE tenant_id = ? AND scope_id = ?)", st.id, f.ScopeID)
	}
	total, err := count(ctx, st, "SELECT COUNT(*) FROM roles"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list roles: %w", err)
	}
	limit, offset := limits(f.Page)
	roles, err := listRoles(ctx, st, w.String()+" ORDER BY created_at, id LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list roles: %w", err)
	}
	return roles, total, nil
}

// listRoles reads roles matching the query tail and their scopes in two
// queries.
func listRoles(ctx context.Context, r runner, tail string, args ...any) ([]store.Role, error) {
	rows, err := r.query(ctx, "SELECT "+roleCols+" FROM roles"+tail, args...)
	if err != nil {
		return nil, err
	}
	out := []store.Role{}
	var ids []string
	for rows.Next() {
		role, err := scanRole(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, role)
		ids = append(ids, role.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	m, err := scopesOf(ctx, r, "role_scopes", "role_id", ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].ScopeIDs, out[i].Scopes = fillScopes(m[out[i].ID])
	}
	return out, nil
}

// UpdateRole applies fn inside a transaction and replaces the role's scopes
// with the returned ScopeIDs.
func (st *Tenant) UpdateRole(ctx context.Context, id string, fn func(store.Role) (store.Role, error)) (store.Role, error) {
	var out store.Role
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := scanRole(t.queryRow(ctx, "SELECT "+roleCols+" FROM roles WHERE tenant_id = ? AND id = ?"+st.forUpdate(), st.id, id)); err != nil {
			return mapErr(err)
		}
		old, err := getRole(ctx, t, "id", id)
		if err != nil {
			return err
		}
		r, err := fn(old)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, "UPDATE roles SET name = ?, description = ?, updated_at = ? WHERE tenant_id = ? AND id = ?",
			r.Name, r.Description, st.ts(now()), st.id, id); err != nil {
			return mapErr(err)
		}
		if err := setScopes(ctx, t, "role_scopes", "role_id", id, r.ScopeIDs); err != nil {
			return err
		}
		if out, err = getRole(ctx, t, "id", id); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeRole, ID: id})
	})
	if err != nil {
		return store.Role{}, fmt.Errorf("update role %q: %w", id, err)
	}
	return out, nil
}

// DeleteRole removes a role; ErrConflict while a user holds it.
func (st *Tenant) DeleteRole(ctx context.Context, id string) error {
	err := st.inTx(ctx, func(t *tx) error {
		users, err := count(ctx, t, "SELECT COUNT(*) FROM user_roles WHERE tenant_id = ? AND role_id = ?", st.id, id)
		if err != nil {
			return err
		}
		if users > 0 {
			return fmt.Errorf("%w: held by %d users", store.ErrConflict, users)
		}
		n, err := deleted(t.exec(ctx, "DELETE FROM roles WHERE tenant_id = ? AND id = ?", st.id, id))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeRole, ID: id})
	})
	if err != nil {
		return fmt.Errorf("delete role %q: %w", id, err)
	}
	return nil
}

// RoleUserCounts maps every role id to the number of users holding it
// (zero included).
func (st *Tenant) RoleUserCounts(ctx context.Context) (map[string]int, error) {
	rows, err := st.query(ctx, "SELECT r.id, COUNT(ur.user_id) FROM roles r LEFT JOIN user_roles ur ON ur.tenant_id = r.tenant_id AND ur.role_id = r.id WHERE r.tenant_id = ? GROUP BY r.id", st.id)
	if err != nil {
		return nil, fmt.Errorf("role user counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("role user counts: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("role user counts: %w", err)
	}
	return out, nil
}
