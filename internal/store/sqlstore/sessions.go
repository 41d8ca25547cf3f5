package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const sessionCols = "id, user_id, client_id, ip, user_agent, created_at, last_activity, expires_at, revoked_at"

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var s store.Session
	err := row.Scan(&s.ID, &s.UserID, &s.ClientID, &s.IP, &s.UserAgent, tscan{&s.CreatedAt},
		tscan{&s.LastActivity}, tscan{&s.ExpiresAt}, ntscan{&s.RevokedAt})
	return s, err
}

// CreateSession inserts a session; ErrNotFound for an unknown user.
// LastActivity defaults to CreatedAt.
func (st *Tenant) CreateSession(ctx context.Context, s store.Session) (store.Session, error) {
	if s.ID == "" {
		s.ID = newID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	if s.LastActivity.IsZero() {
		s.LastActivity = s.CreatedAt
	}
	s.CreatedAt, s.LastActivity, s.ExpiresAt, s.RevokedAt = norm(s.CreatedAt), norm(s.LastActivity), norm(s.ExpiresAt), normp(s.RevokedAt)
	_, err := st.exec(ctx, "INSERT INTO sessions (tenant_id, "+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		st.id, s.ID, s.UserID, s.ClientID, s.IP, s.UserAgent, st.ts(s.CreatedAt), st.ts(s.LastActivity),
		st.ts(s.ExpiresAt), st.tsp(s.RevokedAt))
	if err != nil {
		return store.Session{}, fmt.Errorf("create session for user %q: %w", s.UserID, mapErr(err))
	}
	return s, nil
}

// GetSession reads a session by id, whatever its state.
func (st *Tenant) GetSession(ctx context.Context, id string) (store.Session, error) {
	s, err := scanSession(st.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE tenant_id = ? AND id = ?", st.id, id))
	if err != nil {
		return store.Session{}, fmt.Errorf("get session %q: %w", id, mapErr(err))
	}
	return s, nil
}

// ListSessions returns the user's live sessions at now, oldest first.
func (st *Tenant) ListSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := st.query(ctx, "SELECT "+sessionCols+" FROM sessions WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at, id",
		st.id, userID, st.ts(now))
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	defer rows.Close()
	out := []store.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	return out, nil
}

// UpdateSession applies fn inside a transaction. ID, UserID and CreatedAt
// cannot change.
func (st *Tenant) UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error) {
	var out store.Session
	err := st.inTx(ctx, func(t *tx) error {
		old, err := scanSession(t.queryRow(ctx, "SELECT "+sessionCols+" FROM sessions WHERE tenant_id = ? AND id = ?"+st.forUpdate(), st.id, id))
		if err != nil {
			return mapErr(err)
		}
		s, err := fn(old)
		if err != nil {
			return err
		}
		s.ID, s.UserID, s.CreatedAt = old.ID, old.UserID, old.CreatedAt
		s.LastActivity, s.ExpiresAt, s.RevokedAt = norm(s.LastActivity), norm(s.ExpiresAt), normp(s.RevokedAt)
		if _, err := t.exec(ctx, "UPDATE sessions SET client_id = ?, ip = ?, user_agent = ?, last_activity = ?, expires_at = ?, revoked_at = ? WHERE tenant_id = ? AND id = ?",
			s.ClientID, s.IP, s.UserAgent, st.ts(s.LastActivity), st.ts(s.ExpiresAt), st.tsp(s.RevokedAt), st.id, id); err != nil {
			return mapErr(err)
		}
		out = s
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("update session %q: %w", id, err)
	}
	return out, nil
}

// RevokeUserSessions revokes the user's sessions that are live at at.
func (st *Tenant) RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "UPDATE sessions SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?",
		st.ts(at), st.id, userID, st.ts(at)))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of user %q: %w", userID, err)
	}
	return n, nil
}

// DeleteExpiredSessions deletes sessions that expired at or before now;
// their refresh tokens go with them.
func (st *Tenant) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM sessions WHERE tenant_id = ? AND expires_at <= ?", st.id, st.ts(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// SessionStats counts sessions: Active (not revoked, not expired at now),
// CreatedSince (created at or after since), Expired (at now) and Total.
func (st *Tenant) SessionStats(ctx context.Context, now, since time.Time) (store.SessionStats, error) {
	var s store.SessionStats
	err := st.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN revoked_at IS NULL AND expires_at > ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN expires_at <= ? THEN 1 ELSE 0 END), 0),
		COUNT(*) FROM sessions WHERE tenant_id = ?`, st.ts(now), st.ts(since), st.ts(now), st.id).
		Scan(&s.Active, &s.CreatedSince, &s.Expired, &s.Total)
	if err != nil {
		return store.SessionStats{}, fmt.Errorf("session stats: %w", err)
	}
	return s, nil
}
