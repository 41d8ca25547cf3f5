package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
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

// replayBatch bounds the rows of one INSERT: 3 parameters each stay far
// below SQLite's and PostgreSQL's parameter limits.
const replayBatch = 500

// RecordReplays upserts records in one transaction, with multi-row
// INSERTs. A key listed twice is written once with its later expiry, since
// PostgreSQL refuses an upsert that touches one row twice.
func (st *Tenant) RecordReplays(ctx context.Context, records []store.ReplayRecord) error {
	if len(records) == 0 {
		return nil
	}
	latest := make(map[string]time.Time, len(records))
	order := make([]string, 0, len(records))
	for _, r := range records {
		k := string(r.Key)
		prev, seen := latest[k]
		if !seen {
			order = append(order, k)
		}
		if !seen || r.ExpiresAt.After(prev) {
			latest[k] = r.ExpiresAt
		}
	}
	err := st.inTx(ctx, func(t *tx) error {
		for start := 0; start < len(order); start += replayBatch {
			chunk := order[start:min(start+replayBatch, len(order))]
			var q strings.Builder
			q.WriteString("INSERT INTO replay_records (tenant_id, key, expires_at) VALUES ")
			args := make([]any, 0, 3*len(chunk))
			for i, k := range chunk {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?)")
				args = append(args, st.id, []byte(k), st.ts(latest[k]))
			}
			q.WriteString(" ON CONFLICT (tenant_id, key) DO UPDATE SET expires_at = excluded.expires_at" +
				" WHERE replay_records.expires_at < excluded.expires_at")
			if _, err := t.exec(ctx, q.String(), args...); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %d replay records: %w", len(order), err)
	}
	return nil
}
