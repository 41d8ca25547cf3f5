package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const clientCols = `id, client_id, name, description, client_type, is_active, is_trusted, grant_types,
	token_endpoint_auth_method, audiences, redirect_uris, access_token_lifetime, refresh_token_lifetime,
	rate_limit_per_minute, rate_limit_per_hour, allowed_ips, webhook_url, contact_email, website_url,
	jwks, jwks_uri, tls_client_auth_field, tls_client_auth_value,
	dpop_bound_access_tokens, tls_client_certificate_bound_access_tokens, token_exchange,
	last_used, total_requests, created_at, updated_at`

func scanClient(row interface{ Scan(...any) error }) (store.Client, error) {
	var c store.Client
	var refresh sql.NullInt64
	err := row.Scan(&c.ID, &c.ClientID, &c.Name, &c.Description, &c.Type, &c.Active, &c.Trusted,
		jsonList{&c.GrantTypes}, &c.TokenEndpointAuthMethod, jsonList{&c.Audiences}, jsonList{&c.RedirectURIs},
		&c.AccessTokenLifetime, &refresh, &c.RateLimitPerMinute, &c.RateLimitPerHour, jsonList{&c.AllowedIPs},
		&c.WebhookURL, &c.ContactEmail, &c.WebsiteURL, rawJSON{&c.JWKS}, &c.JWKSURI, &c.TLSClientAuth.Field,
		&c.TLSClientAuth.Value, &c.DPoPBoundAccessTokens, &c.TLSClientCertificateBoundAccessTokens,
		jsonValue{&c.TokenExchange}, ntscan{&c.LastUsed}, &c.TotalRequests,
		tscan{&c.CreatedAt}, tscan{&c.UpdatedAt})
	if refresh.Valid {
		v := int(refresh.Int64)
		c.RefreshTokenLifetime = &v
	}
	return c, err
}

// clientArgs are the writable columns after id, in clientCols order.
func (st *Tenant) clientArgs(c store.Client) []any {
	var refresh any
	if c.RefreshTokenLifetime != nil {
		refresh = *c.RefreshTokenLifetime
	}
	return []any{c.ClientID, c.Name, c.Description, c.Type, c.Active, c.Trusted, listArg(c.GrantTypes),
		c.TokenEndpointAuthMethod, listArg(c.Audiences), listArg(c.RedirectURIs), c.AccessTokenLifetime, refresh,
		c.RateLimitPerMinute, c.RateLimitPerHour, listArg(c.AllowedIPs), c.WebhookURL, c.ContactEmail, c.WebsiteURL,
		string(c.JWKS), c.JWKSURI, c.TLSClientAuth.Field, c.TLSClientAuth.Value,
		c.DPoPBoundAccessTokens, c.TLSClientCertificateBoundAccessTokens, exchangeArg(c.TokenExchange),
		st.tsp(c.LastUsed), c.TotalRequests}
}

// exchangeArg stores a token-exchange policy as JSON, or ” when it allows
// nothing.
func exchangeArg(p store.ExchangePolicy) string {
	if p.IsZero() {
		return ""
	}
	b, _ := json.Marshal(p) // plain strings, ints and bools always marshal
	return string(b)
}

// CreateClient inserts a client with its allowed scopes; ErrConflict on a
// duplicate client_id.
func (st *Tenant) CreateClient(ctx context.Context, c store.Client) (store.Client, error) {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	var out store.Client
	err := st.inTx(ctx, func(t *tx) error {
		args := append([]any{st.id, c.ID}, st.clientArgs(c)...)
		args = append(args, st.ts(c.CreatedAt), st.ts(c.CreatedAt))
		if _, err := t.exec(ctx, "INSERT INTO clients (tenant_id, "+clientCols+") VALUES ("+placeholders(31)+")", args...); err != nil {
			return mapErr(err)
		}
		if err := setScopes(ctx, t, "client_scopes", "client_id", c.ID, c.ScopeIDs); err != nil {
			return err
		}
		var err error
		if out, err = getClient(ctx, t, "client_id", c.ClientID, false); err != nil {
			return err
		}
		if err := addToSummary(ctx, t, summaryOf(out)); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: c.ClientID})
	})
	if err != nil {
		return store.Client{}, fmt.Errorf("create client %q: %w", c.ClientID, err)
	}
	return out, nil
}

// getClient reads one client by "id" or "client_id", with its scopes.
func getClient(ctx context.Context, r runner, col, val string, lock bool) (store.Client, error) {
	q := "SELECT " + clientCols + " FROM clients WHERE tenant_id = ? AND " + col + " = ?"
	if lock {
		q += r.dbh().forUpdate()
	}
	c, err := scanClient(r.queryRow(ctx, q, r.tid(), val))
	if err != nil {
		return store.Client{}, mapErr(err)
	}
	m, err := scopesOf(ctx, r, "client_scopes", "client_id", []string{c.ID})
	if err != nil {
		return store.Client{}, err
	}
	c.ScopeIDs, c.Scopes = fillScopes(m[c.ID])
	return c, nil
}

// GetClient reads a client by its public client_id.
func (st *Tenant) GetClient(ctx context.Context, clientID string) (store.Client, error) {
	c, err := getClient(ctx, st, "client_id", clientID, false)
	if err != nil {
		return store.Client{}, fmt.Errorf("get client %q: %w", clientID, err)
	}
	return c, nil
}

// ListClients returns a page of clients with their scopes, and the total.
func (st *Tenant) ListClients(ctx context.Context, f store.ClientFilter) ([]store.Client, int, error) {
	w := st.where()
	if f.Search != "" {
		op, p := st.like(), likeArg(f.Search)
		w.add("(name "+op+" ? ESCAPE '\\' OR client_id "+op+" ? ESCAPE '\\' OR description "+op+" ? ESCAPE '\\')", p, p, p)
	}
	if f.Active != nil {
		w.add("is_active = ?", *f.Active)
	}
	if f.Trusted != nil {
		w.add("is_trusted = ?", *f.Trusted)
	}
	if f.Type != "" {
		w.add("client_type = ?", f.Type)
	}
	if f.ScopeID != "" {
		w.add("id IN (SELECT client_id FROM client_scopes WHERE tenant_id = ? AND scope_id = ?)", st.id, f.ScopeID)
	}
	total, err := count(ctx, st, "SELECT COUNT(*) FROM clients"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	limit, offset := limits(f.Page)
	rows, err := st.query(ctx, "SELECT "+clientCols+" FROM clients"+w.String()+" ORDER BY created_at, id LIMIT ? OFFSET ?",
		append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	out := []store.Client{}
	var ids []string
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
		ids = append(ids, c.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	m, err := scopesOf(ctx, st, "client_scopes", "client_id", ids)
	if err != nil {
		return nil, 0, fmt.Errorf("list clients: %w", err)
	}
	for i := range out {
		out[i].ScopeIDs, out[i].Scopes = fillScopes(m[out[i].ID])
	}
	return out, total, nil
}

// UpdateClient applies fn inside a transaction and replaces the client's
// scopes with the returned ScopeIDs. ID, CreatedAt and the usage counters
// (owned by RecordClientUsage) cannot change here.
func (st *Tenant) UpdateClient(ctx context.Context, clientID string, fn func(store.Client) (store.Client, error)) (store.Client, error) {
	var out store.Client
	err := st.inTx(ctx, func(t *tx) error {
		old, err := getClient(ctx, t, "client_id", clientID, true)
		if err != nil {
			return err
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		c.LastUsed, c.TotalRequests = old.LastUsed, old.TotalRequests
		args := append(st.clientArgs(c), st.ts(now()), st.id, old.ID)
		if _, err := t.exec(ctx, `UPDATE clients SET client_id = ?, name = ?, description = ?, client_type = ?,
			is_active = ?, is_trusted = ?, grant_types = ?, token_endpoint_auth_method = ?, audiences = ?,
			redirect_uris = ?, access_token_lifetime = ?, refresh_token_lifetime = ?, rate_limit_per_minute = ?,
			rate_limit_per_hour = ?, allowed_ips = ?, webhook_url = ?, contact_email = ?, website_url = ?,
			jwks = ?, jwks_uri = ?, tls_client_auth_field = ?, tls_client_auth_value = ?,
			dpop_bound_access_tokens = ?, tls_client_certificate_bound_access_tokens = ?, token_exchange = ?,
			last_used = ?, total_requests = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`, args...); err != nil {
			return mapErr(err)
		}
		if err := setScopes(ctx, t, "client_scopes", "client_id", old.ID, c.ScopeIDs); err != nil {
			return err
		}
		if out, err = getClient(ctx, t, "id", old.ID, false); err != nil {
			return err
		}
		if err := addToSummary(ctx, t, summaryOf(out).minus(summaryOf(old))); err != nil {
			return err
		}
		if out.ClientID != clientID {
			if err := t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: out.ClientID}); err != nil {
				return err
			}
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: clientID})
	})
	if err != nil {
		return store.Client{}, fmt.Errorf("update client %q: %w", clientID, err)
	}
	return out, nil
}

// DeleteClient removes a client, its secrets and its scope grants.
func (st *Tenant) DeleteClient(ctx context.Context, clientID string) error {
	err := st.inTx(ctx, func(t *tx) error {
		var gone summary
		if err := t.queryRow(ctx, `SELECT CASE WHEN is_active THEN 1 ELSE 0 END, CASE WHEN is_trusted THEN 1 ELSE 0 END,
			total_requests FROM clients WHERE tenant_id = ? AND client_id = ?`+st.forUpdate(), st.id, clientID).
			Scan(&gone.active, &gone.trusted, &gone.requests); err != nil {
			return mapErr(err)
		}
		if _, err := deleted(t.exec(ctx, "DELETE FROM clients WHERE tenant_id = ? AND client_id = ?", st.id, clientID)); err != nil {
			return err
		}
		gone.total = 1
		if err := addToSummary(ctx, t, summary{}.minus(gone)); err != nil {
			return err
		}
		return t.publish(ctx, store.Change{Kind: store.ChangeClient, ID: clientID})
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", clientID, err)
	}
	return nil
}

// RecordClientUsage adds n to total_requests and moves last_used forward.
// It publishes no change: usage counters are not worth a cache flush on
// every replica, so cached clients may show slightly stale counters.
func (st *Tenant) RecordClientUsage(ctx context.Context, clientID string, n int64, at time.Time) error {
	err := st.inTx(ctx, func(t *tx) error {
		rows, err := addUsage(ctx, t, clientID, n, at)
		if err == nil && rows == 0 {
			err = store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return addToSummary(ctx, t, summary{requests: n})
	})
	if err != nil {
		return fmt.Errorf("record usage of client %q: %w", clientID, err)
	}
	return nil
}
