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
func (db *DB) AddClientSecret(ctx context.Context, s store.ClientSecret) (store.ClientSecret, error) {
	if s.ID == "" {
		s.ID = newID()
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now()
	}
	s.CreatedAt, s.ExpiresAt, s.LastUsed = norm(s.CreatedAt), normp(s.ExpiresAt), normp(s.LastUsed)
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "INSERT INTO client_secrets ("+secretCols+") VALUES (?, ?, ?, ?, ?, ?)",
			s.ID, s.ClientID, s.Hash, db.ts(s.CreatedAt), db.tsp(s.ExpiresAt), db.tsp(s.LastUsed)); err != nil {
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
	if err := t.queryRow(ctx, "SELECT client_id FROM clients WHERE id = ?", clientUUID).Scan(&clientID); err != nil {
		return mapErr(err)
	}
	return t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: clientID})
}

// ListClientSecrets returns the client's secrets that have not expired at
// now (ExpiresAt nil or after now), oldest first.
func (db *DB) ListClientSecrets(ctx context.Context, clientUUID string, now time.Time) ([]store.ClientSecret, error) {
	rows, err := db.query(ctx, "SELECT "+secretCols+" FROM client_secrets WHERE client_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id",
		clientUUID, db.ts(now))
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
func (db *DB) ExpireClientSecrets(ctx context.Context, clientUUID, keepID string, at time.Time) error {
	err := db.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, "UPDATE client_secrets SET expires_at = ? WHERE client_id = ? AND id <> ? AND (expires_at IS NULL OR expires_at > ?)",
			db.ts(at), clientUUID, keepID, db.ts(at)); err != nil {
			return mapErr(err)
		}
		return publishSecretChange(ctx, t, clientUUID)
	})
	if err != nil {
		return fmt.Errorf("expire secrets of client %s: %w", clientUUID, err)
	}
	return nil
}
