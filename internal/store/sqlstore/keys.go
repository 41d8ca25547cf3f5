package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const keyCols = "kid, alg, private_key, public_jwk, state, created_at, activates_at, retires_at, expires_at"

func scanKey(row interface{ Scan(...any) error }) (store.SigningKey, error) {
	var k store.SigningKey
	var jwk string
	err := row.Scan(&k.KID, &k.Alg, &k.PrivateKey, &jwk, &k.State, tscan{&k.CreatedAt}, tscan{&k.ActivatesAt},
		ntscan{&k.RetiresAt}, ntscan{&k.ExpiresAt})
	if jwk != "" {
		k.PublicJWK = json.RawMessage(jwk)
	}
	return k, err
}

// CreateKey stores a signing key; ErrConflict on a duplicate kid.
func (st *Tenant) CreateKey(ctx context.Context, k store.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "INSERT INTO signing_keys (tenant_id, "+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			st.id, k.KID, k.Alg, k.PrivateKey, string(k.PublicJWK), k.State, st.ts(k.CreatedAt), st.ts(k.ActivatesAt),
			st.tsp(k.RetiresAt), st.tsp(k.ExpiresAt)); err != nil {
			return mapErr(err)
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeKey, ID: k.KID})
	})
	if err != nil {
		return fmt.Errorf("create key %q: %w", k.KID, err)
	}
	return nil
}

// ListKeys returns every key, oldest first.
func (st *Tenant) ListKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := st.query(ctx, "SELECT "+keyCols+" FROM signing_keys WHERE tenant_id = ? ORDER BY created_at, kid", st.id)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	out := []store.SigningKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// UpdateKey applies fn inside a transaction. KID and CreatedAt cannot
// change.
func (st *Tenant) UpdateKey(ctx context.Context, kid string, fn func(store.SigningKey) (store.SigningKey, error)) (store.SigningKey, error) {
	var out store.SigningKey
	err := st.inTx(ctx, func(t *tx) error {
		old, err := scanKey(t.queryRow(ctx, "SELECT "+keyCols+" FROM signing_keys WHERE tenant_id = ? AND kid = ?"+st.forUpdate(), st.id, kid))
		if err != nil {
			return mapErr(err)
		}
		k, err := fn(old)
		if err != nil {
			return err
		}
		k.KID, k.CreatedAt = old.KID, old.CreatedAt
		k.ActivatesAt, k.RetiresAt, k.ExpiresAt = norm(k.ActivatesAt), normp(k.RetiresAt), normp(k.ExpiresAt)
		if _, err := t.exec(ctx, "UPDATE signing_keys SET alg = ?, private_key = ?, public_jwk = ?, state = ?, activates_at = ?, retires_at = ?, expires_at = ? WHERE tenant_id = ? AND kid = ?",
			k.Alg, k.PrivateKey, string(k.PublicJWK), k.State, st.ts(k.ActivatesAt), st.tsp(k.RetiresAt), st.tsp(k.ExpiresAt), st.id, kid); err != nil {
			return mapErr(err)
		}
		out = k
		return t.publish(ctx, store.Change{Kind: store.ChangeKey, ID: kid})
	})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("update key %q: %w", kid, err)
	}
	return out, nil
}

// DeleteKey removes a key.
func (st *Tenant) DeleteKey(ctx context.Context, kid string) error {
	err := st.inTx(ctx, func(t *tx) error {
		n, err := affected(t.exec(ctx, "DELETE FROM signing_keys WHERE tenant_id = ? AND kid = ?", st.id, kid))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeKey, ID: kid})
	})
	if err != nil {
		return fmt.Errorf("delete key %q: %w", kid, err)
	}
	return nil
}

// revocationLockKey serializes Revoke on PostgreSQL. Sequence values are
// handed out before commit, so two concurrent inserts could commit out of
// seq order and a reader polling "seq > last seen" would skip one forever.
// Revocations are rare; a transaction-scoped advisory lock is cheap.
const revocationLockKey int64 = 0x7065726d7265766f

// Revoke adds a jti to the revocation list; revoking twice is not an error
// and keeps the first entry.
func (st *Tenant) Revoke(ctx context.Context, jti string, expiresAt time.Time) error {
	err := st.inTx(ctx, func(t *tx) error {
		if st.pg() {
			if _, err := t.sqltx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", revocationLockKey); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, "INSERT INTO revocations (tenant_id, jti, expires_at, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, jti) DO NOTHING",
			st.id, jti, st.ts(expiresAt), st.ts(now())); err != nil {
			return mapErr(err)
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeRevocation, ID: jti})
	})
	if err != nil {
		return fmt.Errorf("revoke %q: %w", jti, err)
	}
	return nil
}

// IsRevoked reports whether jti is on the list and its entry has not
// expired at now.
func (st *Tenant) IsRevoked(ctx context.Context, jti string, now time.Time) (bool, error) {
	n, err := count(ctx, st, "SELECT COUNT(*) FROM revocations WHERE tenant_id = ? AND jti = ? AND expires_at > ?", st.id, jti, st.ts(now))
	if err != nil {
		return false, fmt.Errorf("is revoked %q: %w", jti, err)
	}
	return n > 0, nil
}

// ListRevocations returns unexpired entries with Seq > afterSeq in Seq
// order, at most limit (0 or less means 1000; at most 10,000).
func (st *Tenant) ListRevocations(ctx context.Context, afterSeq int64, now time.Time, limit int) ([]store.Revocation, error) {
	switch {
	case limit <= 0:
		limit = 1000
	case limit > 10_000:
		limit = 10_000
	}
	rows, err := st.query(ctx, "SELECT seq, jti, expires_at, created_at FROM revocations WHERE tenant_id = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?",
		st.id, afterSeq, st.ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	out := []store.Revocation{}
	for rows.Next() {
		var r store.Revocation
		if err := rows.Scan(&r.Seq, &r.JTI, tscan{&r.ExpiresAt}, tscan{&r.CreatedAt}); err != nil {
			return nil, fmt.Errorf("list revocations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// DeleteExpiredRevocations drops entries whose token expired at or before
// now: such a token is rejected for its expiry anyway.
func (st *Tenant) DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM revocations WHERE tenant_id = ? AND expires_at <= ?", st.id, st.ts(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired revocations: %w", err)
	}
	return n, nil
}
