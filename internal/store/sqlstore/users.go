package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const userCols = `id, username, email, password_hash, first_name, last_name, display_name, bio,
	is_active, is_verified, is_superuser, failed_login_attempts, locked_until, login_sources, last_login,
	password_changed_at, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u store.User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.PasswordHash, &u.FirstName, &u.LastName, &u.DisplayName,
		&u.Bio, &u.Active, &u.Verified, &u.Superuser, &u.FailedLoginAttempts, ntscan{&u.LockedUntil},
		jsonValue{&u.LoginSources}, ntscan{&u.LastLogin}, tscan{&u.PasswordChangedAt}, tscan{&u.CreatedAt}, tscan{&u.UpdatedAt})
	if len(u.LoginSources) == 0 {
		u.LoginSources = nil
	}
	return u, err
}

// userWriteCols are the columns userArgs fills.
const userWriteCols = `username, email, password_hash, first_name, last_name, display_name, bio,
	is_active, is_verified, is_superuser, failed_login_attempts, locked_until, login_sources, last_login,
	password_changed_at, username_key, email_key`

// userArgs are the values of userWriteCols: the writable fields plus the
// lowercased keys that enforce case-insensitive uniqueness in both engines
// (SQLite has no ILIKE-aware unique index on Unicode).
func (st *Tenant) userArgs(u store.User) []any {
	return []any{u.Username, u.Email, u.PasswordHash, u.FirstName, u.LastName, u.DisplayName, u.Bio,
		u.Active, u.Verified, u.Superuser, u.FailedLoginAttempts, st.tsp(u.LockedUntil), loginSourcesArg(u.LoginSources), st.tsp(u.LastLogin),
		st.ts(u.PasswordChangedAt), strings.ToLower(u.Username), nullStr(strings.ToLower(u.Email))}
}

// CreateUser inserts a user with roles; ErrConflict on a duplicate username
// or email (case-insensitive), ErrNotFound for an unknown role id.
func (st *Tenant) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	if u.ID == "" {
		u.ID = newID()
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now()
	}
	if u.PasswordChangedAt.IsZero() {
		u.PasswordChangedAt = u.CreatedAt
	}
	var out store.User
	err := st.inTx(ctx, func(t *tx) error {
		args := append([]any{st.id, u.ID}, st.userArgs(u)...)
		args = append(args, st.ts(u.CreatedAt), st.ts(u.CreatedAt))
		if _, err := t.exec(ctx, "INSERT INTO users (tenant_id, id, "+userWriteCols+", created_at, updated_at) VALUES "+
			"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", args...); err != nil {
			return mapErr(err)
		}
		if err := setRoles(ctx, t, u.ID, u.RoleIDs); err != nil {
			return err
		}
		var err error
		if out, err = getUser(ctx, t, "id = ?", u.ID); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeUser, ID: u.ID})
	})
	if err != nil {
		return store.User{}, fmt.Errorf("create user %q: %w", u.Username, err)
	}
	return out, nil
}

func setRoles(ctx context.Context, t *tx, userID string, roleIDs []string) error {
	if _, err := t.exec(ctx, "DELETE FROM user_roles WHERE tenant_id = ? AND user_id = ?", t.tenant, userID); err != nil {
		return mapErr(err)
	}
	for _, rid := range dedupe(roleIDs) {
		if _, err := t.exec(ctx, "INSERT INTO user_roles (tenant_id, user_id, role_id) VALUES (?, ?, ?)", t.tenant, userID, rid); err != nil {
			return fmt.Errorf("role %q: %w", rid, mapErr(err))
		}
	}
	return nil
}

// getUser reads one user matching cond, with roles and their scopes.
func getUser(ctx context.Context, r runner, cond string, args ...any) (store.User, error) {
	users, err := listUsers(ctx, r, " WHERE tenant_id = ? AND "+cond, append([]any{r.tid()}, args...)...)
	if err != nil {
		return store.User{}, err
	}
	if len(users) == 0 {
		return store.User{}, store.ErrNotFound
	}
	return users[0], nil
}

// listUsers reads users matching the query tail, then all their roles and
// the roles' scopes in two more queries.
func listUsers(ctx context.Context, r runner, tail string, args ...any) ([]store.User, error) {
	rows, err := r.query(ctx, "SELECT "+userCols+" FROM users"+tail, args...)
	if err != nil {
		return nil, err
	}
	out := []store.User{}
	var ids []string
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, u)
		ids = append(ids, u.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	byUser := map[string][]string{}
	var roleIDs []string
	if len(ids) > 0 {
		in, inArgs := inList(ids)
		rows, err := r.query(ctx, "SELECT ur.user_id, ur.role_id FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id "+
			"WHERE ur.tenant_id = ? AND ur.user_id IN ("+in+") ORDER BY r.name", append([]any{r.tid()}, inArgs...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var uid, rid string
			if err := rows.Scan(&uid, &rid); err != nil {
				rows.Close()
				return nil, err
			}
			byUser[uid] = append(byUser[uid], rid)
			roleIDs = append(roleIDs, rid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	roles := map[string]store.Role{}
	if roleIDs = dedupe(roleIDs); len(roleIDs) > 0 {
		in, inArgs := inList(roleIDs)
		list, err := listRoles(ctx, r, " WHERE tenant_id = ? AND id IN ("+in+")", append([]any{r.tid()}, inArgs...)...)
		if err != nil {
			return nil, err
		}
		for _, role := range list {
			roles[role.ID] = role
		}
	}
	for i := range out {
		out[i].RoleIDs, out[i].Roles = []string{}, []store.Role{}
		for _, rid := range byUser[out[i].ID] {
			out[i].RoleIDs = append(out[i].RoleIDs, rid)
			out[i].Roles = append(out[i].Roles, roles[rid])
		}
	}
	return out, nil
}

// GetUser reads a user by id.
func (st *Tenant) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := getUser(ctx, st, "id = ?", id)
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, mapErr(err))
	}
	return u, nil
}

// GetUserByLogin finds a user by username or else email, case-insensitively.
func (st *Tenant) GetUserByLogin(ctx context.Context, login string) (store.User, error) {
	key := strings.ToLower(login)
	u, err := getUser(ctx, st, "username_key = ?", key)
	if errors.Is(err, store.ErrNotFound) {
		u, err = getUser(ctx, st, "email_key = ?", key)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user by login %q: %w", login, err)
	}
	return u, nil
}

// ListUsers returns a page of users with roles, and the total.
func (st *Tenant) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, int, error) {
	w := st.where()
	if f.Search != "" {
		op, p := st.like(), likeArg(f.Search)
		w.add("(username "+op+" ? ESCAPE '\\' OR email "+op+" ? ESCAPE '\\' OR first_name "+op+" ? ESCAPE '\\' OR last_name "+
			op+" ? ESCAPE '\\' OR display_name "+op+" ? ESCAPE '\\')", p, p, p, p, p)
	}
	if f.Active != nil {
		w.add("is_active = ?", *f.Active)
	}
	if f.Verified != nil {
		w.add("is_verified = ?", *f.Verified)
	}
	if f.RoleID != "" {
		w.add("id IN (SELECT user_id FROM user_roles WHERE tenant_id = ? AND role_id = ?)", st.id, f.RoleID)
	}
	total, err := count(ctx, st, "SELECT COUNT(*) FROM users"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	limit, offset := limits(f.Page)
	users, err := listUsers(ctx, st, w.String()+" ORDER BY created_at, id LIMIT ? OFFSET ?", append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return users, total, nil
}

// UpdateUser applies fn inside a transaction and replaces the user's roles
// with the returned RoleIDs. ID and CreatedAt cannot change.
func (st *Tenant) UpdateUser(ctx context.Context, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	var out store.User
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := scanUser(t.queryRow(ctx, "SELECT "+userCols+" FROM users WHERE tenant_id = ? AND id = ?"+st.forUpdate(), st.id, id)); err != nil {
			return mapErr(err)
		}
		old, err := getUser(ctx, t, "id = ?", id)
		if err != nil {
			return err
		}
		u, err := fn(old)
		if err != nil {
			return err
		}
		args := append(st.userArgs(u), st.ts(now()), st.id, id)
		if _, err := t.exec(ctx, `UPDATE users SET username = ?, email = ?, password_hash = ?, first_name = ?,
			last_name = ?, display_name = ?, bio = ?, is_active = ?, is_verified = ?, is_superuser = ?,
			failed_login_attempts = ?, locked_until = ?, login_sources = ?, last_login = ?, password_changed_at = ?,
			username_key = ?, email_key = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`, args...); err != nil {
			return mapErr(err)
		}
		if err := setRoles(ctx, t, id, u.RoleIDs); err != nil {
			return err
		}
		if out, err = getUser(ctx, t, "id = ?", id); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeUser, ID: id})
	})
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	return out, nil
}

// DeleteUser removes a user; sessions, refresh tokens, role grants and
// mailed tokens go with it (ON DELETE CASCADE).
func (st *Tenant) DeleteUser(ctx context.Context, id string) error {
	err := st.inTx(ctx, func(t *tx) error {
		n, err := deleted(t.exec(ctx, "DELETE FROM users WHERE tenant_id = ? AND id = ?", st.id, id))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeUser, ID: id})
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}

// UserStats counts users; Locked counts lockouts still running at now and
// RecentRegistrations users created in the 30 days before now.
func (st *Tenant) UserStats(ctx context.Context, now time.Time) (store.UserStats, error) {
	var s store.UserStats
	err := st.queryRow(ctx, `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN is_active THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN is_verified THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN locked_until > ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0)
		FROM users WHERE tenant_id = ?`, st.ts(now), st.ts(now.AddDate(0, 0, -30)), st.id).
		Scan(&s.Total, &s.Active, &s.Verified, &s.Locked, &s.RecentRegistrations)
	if err != nil {
		return store.UserStats{}, fmt.Errorf("user stats: %w", err)
	}
	return s, nil
}

// UnlockExpired clears lockouts that ended at or before now and resets the
// failed-attempt counter of those users.
func (st *Tenant) UnlockExpired(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := st.inTx(ctx, func(t *tx) error {
		var err error
		n, err = affected(t.exec(ctx, "UPDATE users SET locked_until = NULL, failed_login_attempts = 0, login_sources = '[]' WHERE tenant_id = ? AND locked_until IS NOT NULL AND locked_until <= ?",
			st.id, st.ts(now)))
		if err != nil || n == 0 {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeUser})
	})
	if err != nil {
		return 0, fmt.Errorf("unlock expired: %w", err)
	}
	return n, nil
}

// loginSourcesArg is the JSON text of a user's login sources.
func loginSourcesArg(l []store.LoginSource) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // strings, ints and times always marshal
	return string(b)
}
