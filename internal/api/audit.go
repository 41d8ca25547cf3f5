package api

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// mountAudit registers the audit log's read API. Events are written in
// batches by the audit sink, so an event appears here within the sink's
// flush interval (half a second by default), not at once.
func (a *API) mountAudit(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/admin/audit/events", a.listAuditEvents)
}

// auditTypePattern admits event types and prefixes such as "token." or
// "client.secret_rotated"; anything else cannot match a stored type.
var auditTypePattern = regexp.MustCompile(`^[a-z0-9_.:-]{1,100}$`)

// listAuditEvents is GET /api/v1/admin/audit/events: newest first, with
// filters type (exact, or a prefix ending in '.'), outcome, actor, target,
// since and until (RFC 3339; since inclusive, until exclusive), and paging.
func (a *API) listAuditEvents(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:audit"); err != nil {
		return err
	}
	f, p, err := parseAuditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	events, total, err := a.cfg.Store.ListAuditEvents(r.Context(), f)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]apitype.AuditEvent, len(events))
	for i, e := range events {
		out[i] = apitype.AuditEvent{ID: e.ID, Time: e.Time.UTC(), Type: e.Type, Outcome: e.Outcome, ActorType: e.ActorType,
			ActorID: e.ActorID, Target: e.Target, IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID, Details: e.Details}
		if out[i].Details == nil {
			out[i].Details = map[string]any{}
		}
	}
	web.WriteJSON(w, http.StatusOK, apitype.AuditList{Paging: p.page(total), Events: out})
	return nil
}

// parseAuditFilter reads the query, reporting every bad parameter at once.
func parseAuditFilter(q url.Values) (store.AuditFilter, listPaging, error) {
	var problems web.Fields
	p := parseListPaging(q, &problems)
	f := store.AuditFilter{Page: p.store(), Type: strings.TrimSpace(q.Get("type")),
		Outcome: strings.TrimSpace(q.Get("outcome")), ActorID: strings.TrimSpace(q.Get("actor")),
		Target: strings.TrimSpace(q.Get("target"))}
	if f.Type != "" && !auditTypePattern.MatchString(f.Type) {
		problems.Addf("type must be an event type such as token.issued, or a prefix ending in '.' such as token.")
	}
	switch f.Outcome {
	case "", audit.Success, audit.Failure, audit.Denied:
	default:
		problems.Addf("outcome must be one of success, failure, denied")
	}
	if len(f.ActorID) > 256 {
		problems.Addf("actor must be at most 256 characters")
	}
	if len(f.Target) > 256 {
		problems.Addf("target must be at most 256 characters")
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := strings.TrimSpace(q.Get(t.name))
		if v == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			problems.Addf("%s must be an RFC 3339 time such as 2026-11-29T14:05:00Z", t.name)
			continue
		}
		*t.dst = ts
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		problems.Addf("until must be later than since")
	}
	return f, p, problems.Err()
}
