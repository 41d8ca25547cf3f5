package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const secretCols = "id, client_id, hash, created_at, expires_at, last_used"

// AddClientSecret stores a secret for the client whose UUID is s.ClientID;
// ErrNotFound for an unknown client.
func (st *Tenant) AddClientSecret(ctx context.Context, s store.ClientSecret) (store.ClientSecret, error) {
	if s.ID == "" {
		s.ID = newID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	s.CreatedAt, s.ExpiresAt, s.LastUsed = norm(s.CreatedAt), normp(s.ExpiresAt), normp(s.LastUsed)
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "INSERT INTO client_secrets (tenant_id, "+secretCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			st.id, s.ID, s.ClientID, s.Hash, st.ts(s.CreatedAt), st.tsp(s.ExpiresAt), st.tsp(s.LastUsed)); err != nil {
			return mapErr(err)
		}
		return publishSecretChange(ctx, t, s.ClientID)
	})
	if err != nil {
		return store.ClientSecret{}, fmt.Errorf("add secret to client %s: %w", s.ClientID, err)
	}
	return s, nil
}

// publishSecretChange announces a secret change as a change of the client
// (by public client_id, the key caches use), since secrets have no kind of
// their own.
func publishSecretChange(ctx context.Context, t *tx, clientUUID string) error {
	var clientID string
	if err := t.queryRow(ctx, "SELECT client_id FROM clients WHERE tenant_id = ? AND id = ?", t.tenant, clientUUID).Scan(&clientID); err != nil {
		return mapErr(err)
	}
	return t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: clientID})
}

// ListClientSecrets returns the client's secrets that have not expired at
// now (ExpiresAt nil or after now), oldest first.
func (st *Tenant) ListClientSecrets(ctx context.Context, clientUUID string, now time.Time) ([]store.ClientSecret, error) {
	rows, err := st.query(ctx, "SELECT "+secretCols+" FROM client_secrets WHERE tenant_id = ? AND client_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id",
		st.id, clientUUID, st.ts(now))
	if err != nil {
		return nil, fmt.Errorf("list secrets of client %s: %w", clientUUID, err)
	}
	defer rows.Close()
	out := []store.ClientSecret{}
	for rows.Next() {
		var s store.ClientSecret
		if err := rows.Scan(&s.ID, &s.ClientID, &s.Hash, tscan{&s.CreatedAt}, ntscan{&s.ExpiresAt}, ntscan{&s.LastUsed}); err != nil {
			return nil, fmt.Errorf("list secrets of client %s: %w", clientUUID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secrets of client %s: %w", clientUUID, err)
	}
	return out, nil
}

// ExpireClientSecrets sets ExpiresAt to at on every secret of the client
// except keepID whose expiry is unset or later than at. Secrets that expire
// sooner keep their earlier expiry.
func (st *Tenant) ExpireClientSecrets(ctx context.Context, clientUUID, keepID string, at time.Time) error {
	err := st.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "UPDATE client_secrets SET expires_at = ? WHERE tenant_id = ? AND client_id = ? AND id <> ? AND (expires_at IS NULL OR expires_at > ?)",
			st.ts(at), st.id, clientUUID, keepID, st.ts(at)); err != nil {
			return mapErr(err)
		}
		return publishSecretChange(ctx, t, clientUUID)
	})
	if err != nil {
		return fmt.Errorf("expire secrets of client %s: %w", clientUUID, err)
	}
	return nil
}
