package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// LoadClients reads a page of the tenant's clients in client_id order
// (keyset paging, so reading every client costs one indexed range scan per
// page), with their scopes and unexpired secrets in one query each.
func (st *Tenant) LoadClients(ctx context.Context, after string, limit int, now time.Time) ([]store.LoadedClient, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := st.query(ctx, "SELECT "+clientCols+" FROM clients WHERE tenant_id = ? AND client_id > ? ORDER BY client_id LIMIT ?",
		st.id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("load clients: %w", err)
	}
	var out []store.LoadedClient
	var ids []string
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("load clients: %w", err)
		}
		out = append(out, store.LoadedClient{Client: c})
		ids = append(ids, c.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load clients: %w", err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	scopes, err := scopesOf(ctx, st, "client_scopes", "client_id", ids)
	if err != nil {
		return nil, fmt.Errorf("load clients: %w", err)
	}
	in, args := inList(ids)
	args = append([]any{st.id}, append(args, st.ts(now))...)
	srows, err := st.query(ctx, "SELECT "+secretCols+" FROM client_secrets WHERE tenant_id = ? AND client_id IN ("+in+
		") AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id", args...)
	if err != nil {
		return nil, fmt.Errorf("load client secrets: %w", err)
	}
	defer srows.Close()
	secrets := make(map[string][]store.ClientSecret, len(ids))
	for srows.Next() {
		var s store.ClientSecret
		if err := srows.Scan(&s.ID, &s.ClientID, &s.Hash, tscan{&s.CreatedAt}, ntscan{&s.ExpiresAt}, ntscan{&s.LastUsed}); err != nil {
			return nil, fmt.Errorf("load client secrets: %w", err)
		}
		secrets[s.ClientID] = append(secrets[s.ClientID], s)
	}
	if err := srows.Err(); err != nil {
		return nil, fmt.Errorf("load client secrets: %w", err)
	}
	for i := range out {
		c := &out[i]
		c.ScopeIDs, c.Scopes = fillScopes(scopes[c.ID])
		c.Secrets = secrets[c.ID]
		if c.Secrets == nil {
			c.Secrets = []store.ClientSecret{}
		}
	}
	return out, nil
}
