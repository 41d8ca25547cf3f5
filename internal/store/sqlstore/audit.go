package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const auditCols = "id, time, type, outcome, actor_type, actor_id, target, ip, user_agent, request_id, details"

// AppendAuditEvents stores a batch of events in one transaction. Empty IDs
// and zero times are filled in.
func (st *Tenant) AppendAuditEvents(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := st.inTx(ctx, func(t *tx) error {
		stmt, err := t.sqltx.PrepareContext(ctx, st.rebind("INSERT INTO audit_events (tenant_id, "+auditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range events {
			if e.ID == "" {
				e.ID = newID()
			}
			if e.Time.IsZero() {
				e.Time = now()
			}
			details := "{}"
			if len(e.Details) > 0 {
				b, err := json.Marshal(e.Details)
				if err != nil {
					return fmt.Errorf("event %s details: %w", e.Type, err)
				}
				details = string(b)
			}
			if _, err := stmt.ExecContext(ctx, st.id, e.ID, st.ts(e.Time), e.Type, e.Outcome, e.ActorType, e.ActorID,
				e.Target, e.IP, e.UserAgent, e.RequestID, details); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append %d audit events: %w", len(events), err)
	}
	return nil
}

// ListAuditEvents returns a page of events, newest first, and the total.
// A Type ending in '.' matches every type with that prefix.
func (st *Tenant) ListAuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, int, error) {
	w := st.where()
	switch {
	case strings.HasSuffix(f.Type, "."):
		w.add("substr(type, 1, ?) = ?", len(f.Type), f.Type)
	case f.Type != "":
		w.add("type = ?", f.Type)
	}
	if f.Outcome != "" {
		w.add("outcome = ?", f.Outcome)
	}
	if f.ActorID != "" {
		w.add("actor_id = ?", f.ActorID)
	}
	if f.Target != "" {
		w.add("target = ?", f.Target)
	}
	if !f.Since.IsZero() {
		w.add("time >= ?", st.ts(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("time < ?", st.ts(f.Until))
	}
	total, err := count(ctx, st, "SELECT COUNT(*) FROM audit_events"+w.String(), w.args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	limit, offset := limits(f.Page)
	rows, err := st.query(ctx, "SELECT "+auditCols+" FROM audit_events"+w.String()+" ORDER BY time DESC, id DESC LIMIT ? OFFSET ?",
		append(w.args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	out := []store.AuditEvent{}
	for rows.Next() {
		var e store.AuditEvent
		var details string
		if err := rows.Scan(&e.ID, tscan{&e.Time}, &e.Type, &e.Outcome, &e.ActorType, &e.ActorID, &e.Target,
			&e.IP, &e.UserAgent, &e.RequestID, &details); err != nil {
			return nil, 0, fmt.Errorf("list audit events: %w", err)
		}
		if details != "" && details != "{}" {
			if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
				return nil, 0, fmt.Errorf("list audit events: event %s details: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit events: %w", err)
	}
	return out, total, nil
}

// DeleteAuditEventsBefore deletes events older than t.
func (st *Tenant) DeleteAuditEventsBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := affected(st.exec(ctx, "DELETE FROM audit_events WHERE tenant_id = ? AND time < ?", st.id, st.ts(t)))
	if err != nil {
		return 0, fmt.Errorf("delete audit events before %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}
