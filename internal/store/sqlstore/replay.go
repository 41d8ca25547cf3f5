package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// ClaimReplay inserts key, or takes over its row when the old record has
// expired, in one statement: the conditional upsert lets the database pick
// the single winner among replicas racing on the same key.
func (st *Tenant) ClaimReplay(ctx context.Context, key []byte, expiresAt, now time.Time) (bool, error) {
	n, err := affected(st.exec(ctx, `INSERT INTO replay_records (tenant_id, key, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id, key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_records.expires_at <= ?`,
		st.id, key, st.ts(expiresAt), st.ts(now)))
	if err != nil {
		return false, fmt.Errorf("claim replay record: %w", err)
	}
	return n == 1, nil
}

// DeleteExpiredReplays removes records that expired before now.
func (st *Tenant) DeleteExpiredReplays(ctx context.Context, now time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM replay_records WHERE tenant_id = ? AND expires_at <= ?", st.id, st.ts(now)))
	if err != nil {
		return 0, fmt.Errorf("delete expired replay records: %w", err)
	}
	return n, nil
}

// LastReplayExpiry returns the latest expires_at, or the zero time.
func (st *Tenant) LastReplayExpiry(ctx context.Context) (time.Time, error) {
	var t *time.Time
	if err := st.queryRow(ctx, "SELECT MAX(expires_at) FROM replay_records WHERE tenant_id = ?", st.id).Scan(ntscan{&t}); err != nil {
		return time.Time{}, fmt.Errorf("last replay expiry: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}
