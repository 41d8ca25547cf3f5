package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// SetWebhookSecret stores the client's sealed webhook secret, replacing
// any; ErrNotFound for an unknown client (the foreign key refuses it).
func (st *Tenant) SetWebhookSecret(ctx context.Context, clientUUID string, sealed []byte, at time.Time) error {
	_, err := st.exec(ctx, `INSERT INTO webhook_secrets (tenant_id, client_id, sealed, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at`,
		st.id, clientUUID, sealed, st.ts(norm(at)))
	if err != nil {
		return fmt.Errorf("store webhook secret of client %s: %w", clientUUID, mapErr(err))
	}
	return nil
}

// GetWebhookSecret returns the client's sealed webhook secret; ErrNotFound
// when it has none.
func (st *Tenant) GetWebhookSecret(ctx context.Context, clientUUID string) ([]byte, time.Time, error) {
	var sealed []byte
	var at time.Time
	err := st.queryRow(ctx, "SELECT sealed, created_at FROM webhook_secrets WHERE tenant_id = ? AND client_id = ?", st.id, clientUUID).Scan(&sealed, tscan{&at})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("webhook secret of client %s: %w", clientUUID, mapErr(err))
	}
	return sealed, at, nil
}
