package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// A tenant's client statistics live in one row of client_stats (migration
// 0004), kept up to date by every client write of this package in the
// same transaction, as its last statement: the summary row is then always
// the last lock a writer takes, so concurrent writers cannot deadlock on
// it. A tenant without a row gets one, counted from its clients, the first
// time its statistics are read.

// summary is a change of a tenant's client_stats row.
type summary struct{ total, active, trusted, requests int64 }

// summaryOf is what one client adds to its tenant's summary (its usage
// counter apart, which RecordClientUsage adds).
func summaryOf(c store.Client) summary {
	s := summary{total: 1}
	if c.Active {
		s.active = 1
	}
	if c.Trusted {
		s.trusted = 1
	}
	return s
}

func (a summary) minus(b summary) summary {
	return summary{a.total - b.total, a.active - b.active, a.trusted - b.trusted, a.requests - b.requests}
}

func addToSummary(ctx context.Context, t *tx, d summary) error {
	if d == (summary{}) {
		return nil
	}
	_, err := t.exec(ctx, `UPDATE client_stats SET total = total + ?, active = active + ?, trusted = trusted + ?,
		requests = requests + ? WHERE tenant_id = ?`, d.total, d.active, d.trusted, d.requests, t.tid())
	return err
}

// ClientStats reads the tenant's summary row and its busiest clients
// through their index: the cost does not grow with the number of clients.
func (st *Tenant) ClientStats(ctx context.Context, top int) (store.ClientStats, error) {
	var s store.ClientStats
	err := st.queryRow(ctx, "SELECT total, active, trusted, requests FROM client_stats WHERE tenant_id = ?", st.id).
		Scan(&s.Total, &s.Active, &s.Trusted, &s.Requests)
	if errors.Is(err, sql.ErrNoRows) {
		s, err = st.countClients(ctx)
	}
	if err != nil {
		return s, fmt.Errorf("client stats: %w", err)
	}
	if top <= 0 {
		return s, nil
	}
	// The busiest come from clients_busiest in index order. SQLite would
	// rather take the (tenant_id, client_id) index for the equality and
	// sort every client; the unary plus keeps it off that index.
	tenantCond := "tenant_id = ?"
	if !st.pg() {
		tenantCond = "+tenant_id = ?"
	}
	rows, err := st.query(ctx, `SELECT client_id, total_requests, last_used FROM clients
		WHERE `+tenantCond+` AND total_requests > 0 ORDER BY total_requests DESC, client_id LIMIT ?`, st.id, top)
	if err != nil {
		return s, fmt.Errorf("client stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u store.ClientUsage
		if err := rows.Scan(&u.ClientID, &u.Requests, ntscan{&u.LastUsed}); err != nil {
			return s, fmt.Errorf("client stats: %w", err)
		}
		s.Busiest = append(s.Busiest, u)
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("client stats: %w", err)
	}
	return s, nil
}

// countClients creates the tenant's summary row from its clients, once.
// Writers are held off while it counts (SQLite's write lock; on
// PostgreSQL a lock on clients that admits readers), so no write is
// counted twice or missed.
func (st *Tenant) countClients(ctx context.Context) (store.ClientStats, error) {
	var s store.ClientStats
	err := st.db.inTx(ctx, func(t *tx) error {
		if st.pg() {
			if _, err := t.exec(ctx, "LOCK TABLE clients IN SHARE MODE"); err != nil {
				return err
			}
		}
		if err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN is_active THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN is_trusted THEN 1 ELSE 0 END), 0), COALESCE(SUM(total_requests), 0)
			FROM clients WHERE tenant_id = ?`, st.id).Scan(&s.Total, &s.Active, &s.Trusted, &s.Requests); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO client_stats (tenant_id, total, active, trusted, requests) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id) DO NOTHING`, st.id, s.Total, s.Active, s.Trusted, s.Requests)
		return err
	})
	return s, err
}

// RecordClientsUsage adds each client's count in one transaction, in
// client_id order (so concurrent flushes of two replicas lock rows in the
// same order), and adds the total to the summary row last.
func (st *Tenant) RecordClientsUsage(ctx context.Context, counts map[string]int64, at time.Time) error {
	if len(counts) == 0 {
		return nil
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	err := st.inTx(ctx, func(t *tx) error {
		// Prepared once: with many clients, parsing the statement per
		// client cost as much as running it.
		stmt, err := t.sqltx.PrepareContext(ctx, t.db.rebind(usageUpdate))
		if err != nil {
			return err
		}
		defer stmt.Close()
		ts := t.db.ts(at)
		var added int64
		for _, id := range ids {
			n, err := affected(stmt.ExecContext(ctx, counts[id], ts, ts, t.tid(), id))
			if err != nil {
				return err
			}
			if n > 0 {
				added += counts[id]
			}
		}
		return addToSummary(ctx, t, summary{requests: added})
	})
	if err != nil {
		return fmt.Errorf("record usage of %d clients: %w", len(counts), err)
	}
	return nil
}

// usageUpdate adds to one client's counters; it changes no row for a
// client deleted meanwhile.
const usageUpdate = `UPDATE clients SET total_requests = total_requests + ?,
		last_used = CASE WHEN last_used IS NULL OR last_used < ? THEN ? ELSE last_used END
		WHERE tenant_id = ? AND client_id = ?`

// addUsage adds n to one client's counters and reports how many rows it
// changed (0 for a client deleted meanwhile).
func addUsage(ctx context.Context, t *tx, clientID string, n int64, at time.Time) (int, error) {
	ts := t.db.ts(at)
	return affected(t.exec(ctx, usageUpdate, n, ts, ts, t.tid(), clientID))
}

// ScopeRoleCounts counts, per scope name, the tenant's roles holding it.
func (st *Tenant) ScopeRoleCounts(ctx context.Context) (map[string]int, error) {
	rows, err := st.query(ctx, `SELECT s.name, COUNT(rs.role_id) FROM scopes s
		LEFT JOIN role_scopes rs ON rs.tenant_id = s.tenant_id AND rs.scope_id = s.id
		WHERE s.tenant_id = ? GROUP BY s.id, s.name`, st.id)
	if err != nil {
		return nil, fmt.Errorf("scope role counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("scope role counts: %w", err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scope role counts: %w", err)
	}
	return out, nil
}
