package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Single-use items (refresh tokens, authorization codes, mailed user
// tokens) are consumed with one conditional UPDATE ... WHERE used_at IS NULL:
// the database decides the single winner among concurrent callers, and a
// loser reads the row afterwards only to tell "used" from "unknown".

const refreshCols = `id, hash, family_id, parent_id, session_id, user_id, client_id, scope, audience,
	cnf_jkt, cnf_x5t, created_at, expires_at, used_at, revoked_at`

func scanRefresh(row interface{ Scan(...any) error }) (store.RefreshToken, error) {
	var t store.RefreshToken
	err := row.Scan(&t.ID, &t.Hash, &t.FamilyID, &t.ParentID, nstr{&t.SessionID}, nstr{&t.UserID}, &t.ClientID,
		&t.Scope, jsonList{&t.Audience}, &t.Cnf.JKT, &t.Cnf.X5TS256, tscan{&t.CreatedAt}, tscan{&t.ExpiresAt}, ntscan{&t.UsedAt}, ntscan{&t.RevokedAt})
	return t, err
}

// CreateRefreshToken stores a refresh token; ErrConflict on a duplicate
// hash, ErrNotFound for an unknown user or session.
func (st *Tenant) CreateRefreshToken(ctx context.Context, t store.RefreshToken) error {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	if t.FamilyID == "" {
		t.FamilyID = t.ID // the first token of a family names it
	}
	_, err := st.exec(ctx, "INSERT INTO refresh_tokens (tenant_id, "+refreshCols+") VALUES ("+placeholders(16)+")",
		st.id, t.ID, t.Hash, t.FamilyID, t.ParentID, nullStr(t.SessionID), nullStr(t.UserID), t.ClientID, t.Scope,
		listArg(t.Audience), t.Cnf.JKT, t.Cnf.X5TS256, st.ts(t.CreatedAt), st.ts(t.ExpiresAt), st.tsp(t.UsedAt), st.tsp(t.RevokedAt))
	if err != nil {
		return fmt.Errorf("create refresh token: %w", mapErr(err))
	}
	return nil
}

// GetRefreshToken reads a refresh token by the hash of its value.
func (st *Tenant) GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	t, err := scanRefresh(st.queryRow(ctx, "SELECT "+refreshCols+" FROM refresh_tokens WHERE tenant_id = ? AND hash = ?", st.id, hash))
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("get refresh token: %w", mapErr(err))
	}
	return t, nil
}

// UseRefreshToken marks an unused token used at at and returns it. A token
// used before comes back with ErrAlreadyUsed; revocation and expiry are the
// caller's to check.
func (st *Tenant) UseRefreshToken(ctx context.Context, hash []byte, at time.Time) (store.RefreshToken, error) {
	t, err := scanRefresh(st.queryRow(ctx, "UPDATE refresh_tokens SET used_at = ? WHERE tenant_id = ? AND hash = ? AND used_at IS NULL RETURNING "+refreshCols,
		st.ts(at), st.id, hash))
	if err == nil {
		return t, nil
	}
	if err = mapErr(err); !errors.Is(err, store.ErrNotFound) {
		return store.RefreshToken{}, fmt.Errorf("use refresh token: %w", err)
	}
	t, err = st.GetRefreshToken(ctx, hash)
	if err != nil {
		return store.RefreshToken{}, fmt.Errorf("use refresh token: %w", err)
	}
	return t, fmt.Errorf("use refresh token: %w", store.ErrAlreadyUsed)
}

func (st *Tenant) revokeRefresh(ctx context.Context, what, cond, key string, at time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "UPDATE refresh_tokens SET revoked_at = ? WHERE tenant_id = ? AND "+cond+" = ? AND revoked_at IS NULL",
		st.ts(at), st.id, key))
	if err != nil {
		return 0, fmt.Errorf("revoke refresh tokens of %s %q: %w", what, key, err)
	}
	return n, nil
}

// RevokeRefreshFamily revokes every unrevoked token of a family.
func (st *Tenant) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) (int, error) {
	return st.revokeRefresh(ctx, "family", "family_id", familyID, at)
}

// RevokeSessionRefreshTokens revokes every unrevoked token of a session.
func (st *Tenant) RevokeSessionRefreshTokens(ctx context.Context, sessionID string, at time.Time) (int, error) {
	return st.revokeRefresh(ctx, "session", "session_id", sessionID, at)
}

// RevokeUserRefreshTokens revokes every unrevoked token of a user.
func (st *Tenant) RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) (int, error) {
	return st.revokeRefresh(ctx, "user", "user_id", userID, at)
}

// DeleteExpiredRefreshTokens deletes tokens whose absolute expiry is at or
// before now.
func (st *Tenant) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM refresh_tokens WHERE tenant_id = ? AND expires_at <= ?", st.id, st.ts(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", err)
	}
	return n, nil
}

const codeCols = `hash, client_id, user_id, session_id, redirect_uri, code_challenge, code_challenge_method,
	scope, audience, nonce, dpop_jkt, created_at, expires_at, used_at`

func scanCode(row interface{ Scan(...any) error }) (store.AuthCode, error) {
	var c store.AuthCode
	err := row.Scan(&c.Hash, &c.ClientID, nstr{&c.UserID}, &c.SessionID, &c.RedirectURI, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.Scope, jsonList{&c.Audience}, &c.Nonce, &c.DPoPJKT, tscan{&c.CreatedAt},
		tscan{&c.ExpiresAt}, ntscan{&c.UsedAt})
	return c, err
}

// CreateAuthCode stores an authorization code; ErrConflict on a duplicate
// hash.
func (st *Tenant) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	_, err := st.exec(ctx, "INSERT INTO authorization_codes (tenant_id, "+codeCols+") VALUES ("+placeholders(15)+")",
		st.id, c.Hash, c.ClientID, nullStr(c.UserID), c.SessionID, c.RedirectURI, c.CodeChallenge, c.CodeChallengeMethod,
		c.Scope, listArg(c.Audience), c.Nonce, c.DPoPJKT, st.ts(c.CreatedAt), st.ts(c.ExpiresAt), st.tsp(c.UsedAt))
	if err != nil {
		return fmt.Errorf("create authorization code: %w", mapErr(err))
	}
	return nil
}

// ConsumeAuthCode marks an unexpired, unused code used at now and returns
// it: ErrAlreadyUsed (with the code, so the caller can revoke what it
// issued) if it was used, ErrNotFound if unknown or expired.
func (st *Tenant) ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	c, err := scanCode(st.queryRow(ctx, "UPDATE authorization_codes SET used_at = ? WHERE tenant_id = ? AND hash = ? AND used_at IS NULL AND expires_at > ? RETURNING "+codeCols,
		st.ts(now), st.id, hash, st.ts(now)))
	if err == nil {
		return c, nil
	}
	if err = mapErr(err); !errors.Is(err, store.ErrNotFound) {
		return store.AuthCode{}, fmt.Errorf("consume authorization code: %w", err)
	}
	c, err = scanCode(st.queryRow(ctx, "SELECT "+codeCols+" FROM authorization_codes WHERE tenant_id = ? AND hash = ?", st.id, hash))
	switch {
	case err != nil:
		return store.AuthCode{}, fmt.Errorf("consume authorization code: %w", mapErr(err))
	case c.UsedAt != nil:
		return c, fmt.Errorf("consume authorization code: %w", store.ErrAlreadyUsed)
	default:
		return store.AuthCode{}, fmt.Errorf("consume authorization code: expired: %w", store.ErrNotFound)
	}
}

const userTokenCols = "hash, user_id, purpose, created_at, expires_at, used_at"

func scanUserToken(row interface{ Scan(...any) error }) (store.UserToken, error) {
	var t store.UserToken
	err := row.Scan(&t.Hash, &t.UserID, &t.Purpose, tscan{&t.CreatedAt}, tscan{&t.ExpiresAt}, ntscan{&t.UsedAt})
	return t, err
}

// CreateUserToken stores a mailed token; ErrNotFound for an unknown user.
func (st *Tenant) CreateUserToken(ctx context.Context, t store.UserToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	_, err := st.exec(ctx, "INSERT INTO user_tokens (tenant_id, "+userTokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		st.id, t.Hash, t.UserID, t.Purpose, st.ts(t.CreatedAt), st.ts(t.ExpiresAt), st.tsp(t.UsedAt))
	if err != nil {
		return fmt.Errorf("create %s token for user %q: %w", t.Purpose, t.UserID, mapErr(err))
	}
	return nil
}

// ConsumeUserToken marks an unexpired, unused token of the purpose used at
// now and returns it: ErrAlreadyUsed if it was used, ErrNotFound if unknown,
// of another purpose or expired.
func (st *Tenant) ConsumeUserToken(ctx context.Context, hash []byte, purpose string, now time.Time) (store.UserToken, error) {
	t, err := scanUserToken(st.queryRow(ctx, "UPDATE user_tokens SET used_at = ? WHERE tenant_id = ? AND hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING "+userTokenCols,
		st.ts(now), st.id, hash, purpose, st.ts(now)))
	if err == nil {
		return t, nil
	}
	if err = mapErr(err); !errors.Is(err, store.ErrNotFound) {
		return store.UserToken{}, fmt.Errorf("consume %s token: %w", purpose, err)
	}
	t, err = scanUserToken(st.queryRow(ctx, "SELECT "+userTokenCols+" FROM user_tokens WHERE tenant_id = ? AND hash = ? AND purpose = ?", st.id, hash, purpose))
	switch {
	case err != nil:
		return store.UserToken{}, fmt.Errorf("consume %s token: %w", purpose, mapErr(err))
	case t.UsedAt != nil:
		return store.UserToken{}, fmt.Errorf("consume %s token: %w", purpose, store.ErrAlreadyUsed)
	default:
		return store.UserToken{}, fmt.Errorf("consume %s token: expired: %w", purpose, store.ErrNotFound)
	}
}

// DeleteExpiredUserTokens deletes mailed tokens that expired at or before now.
func (st *Tenant) DeleteExpiredUserTokens(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM user_tokens WHERE tenant_id = ? AND expires_at <= ?", st.id, st.ts(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired user tokens: %w", err)
	}
	return n, nil
}
