package api

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// The original's admin endpoints, made real: every figure comes from the
// database or the audit log. The original's mocks that cannot be real
// (backup, config reload, error logs) do not exist here.
func (p *people) mountAdmin(mux *http.ServeMux) {
	p.handle(mux, "GET /api/v1/admin/dashboard/stats", p.dashboardStats)
	p.handle(mux, "GET /api/v1/admin/system/health", p.systemHealth)
	p.handle(mux, "GET /api/v1/admin/security/events", p.securityEvents)
	p.handle(mux, "GET /api/v1/admin/audit/activity", p.auditActivity)
	p.handle(mux, "POST /api/v1/admin/maintenance/cleanup", p.maintenanceCleanup)
	p.handle(mux, "GET /api/v1/admin/reports/usage", p.usageReport)
}

// countEvents counts audit events of a type (or prefix ending in '.')
// since t.
func (p *people) countEvents(ctx context.Context, typ string, since time.Time) (int, error) {
	_, n, err := p.cfg.Store.ListAuditEvents(ctx, store.AuditFilter{Type: typ, Since: since, Page: store.Page{Limit: 1}})
	return n, err
}

func (p *people) dashboardStats(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:system"); err != nil {
		return err
	}
	ctx := r.Context()
	now := p.cfg.Now()
	today := now.UTC().Truncate(24 * time.Hour)
	users, err := p.cfg.Store.UserStats(ctx, now)
	if err != nil {
		return web.Unavailable(err)
	}
	_, roles, err := p.cfg.Store.ListRoles(ctx, store.RoleFilter{Page: store.Page{Limit: 1}})
	if err != nil {
		return web.Unavailable(err)
	}
	_, scopes, err := p.cfg.Store.ListScopes(ctx, store.ScopeFilter{Page: store.Page{Limit: 1}})
	if err != nil {
		return web.Unavailable(err)
	}
	clients, err := p.cfg.Store.ClientStats(ctx, 0)
	if err != nil {
		return web.Unavailable(err)
	}
	logins, err := p.countEvents(ctx, "login.success", today)
	if err != nil {
		return web.Unavailable(err)
	}
	failed, err := p.countEvents(ctx, "login.failure", today)
	if err != nil {
		return web.Unavailable(err)
	}
	sessions, err := p.cfg.Store.SessionStats(ctx, now, today)
	if err != nil {
		return web.Unavailable(err)
	}
	var out apitype.DashboardStats
	out.Users.Total, out.Users.Active, out.Users.Verified = users.Total, users.Active, users.Verified
	out.Users.Locked, out.Users.RecentRegistrations = users.Locked, users.RecentRegistrations
	out.RBAC.Roles, out.RBAC.Scopes = roles, scopes
	out.Clients.Total, out.Clients.Active = clients.Total, clients.Active
	out.Auth.Logins, out.Auth.Failed = logins, failed
	out.Auth.Sessions, out.Auth.SessionsCreated = sessions.Active, sessions.CreatedSince
	out.System.UptimeHours = roundTo(now.Sub(p.pc.Started).Hours(), 2)
	out.System.StartedAt, out.System.RevokedTokensTracked = p.pc.Started.UTC(), p.cfg.Revocations.Len()
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func roundTo(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}

type componentHealth struct {
	Status         string  `json:"status"`
	ResponseTimeMS float64 `json:"response_time_ms"`
	Detail         string  `json:"detail,omitempty"`
}

// check runs f with a timeout and reports how it went; errors are not
// shown (they may hold internals), only logged.
func (p *people) check(ctx context.Context, name string, f func(context.Context) error) componentHealth {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	h := componentHealth{Status: "healthy", ResponseTimeMS: roundTo(float64(time.Since(start).Microseconds())/1000, 3)}
	switch {
	case err != nil:
		p.cfg.Logger.WarnContext(ctx, "health check failed", "component", name, "err", err)
		h.Status, h.Detail = "unhealthy", "check failed; see the server log"
	case h.ResponseTimeMS > 500:
		h.Status = "degraded"
	}
	return h
}

// systemHealth really checks each dependency: a database round trip, a
// signature with the active key, plus the server's extra checks.
func (p *people) systemHealth(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:system"); err != nil {
		return err
	}
	ctx := r.Context()
	components := map[string]componentHealth{
		"database": p.check(ctx, "database", p.cfg.Store.Ping),
		"signing_keys": p.check(ctx, "signing_keys", func(context.Context) error {
			_, err := p.cfg.Keys.Signer().Sign([]byte(`{"health":true}`))
			return err
		}),
	}
	for name, f := range p.pc.Checks {
		components[name] = p.check(ctx, name, f)
	}
	status := "healthy"
	for _, c := range components {
		if c.Status != "healthy" {
			status = "degraded"
		}
	}
	code := http.StatusOK
	if components["database"].Status == "unhealthy" {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	web.WriteJSON(w, code, map[string]any{"status": status, "timestamp": p.cfg.Now().UTC(), "components": components,
		"metrics": map[string]any{"uptime_hours": roundTo(p.cfg.Now().Sub(p.pc.Started).Hours(), 2),
			"revoked_tokens_tracked": p.cfg.Revocations.Len()}})
	return nil
}

// eventQuery reads the shared filters of the event endpoints: hours
// (1..168, default 24), page, per_page.
func eventQuery(q url.Values, problems *web.Fields) (time.Duration, listPaging) {
	hours := 24
	if v := q.Get("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 168 {
			problems.Addf("hours must be an integer between 1 and 168")
		} else {
			hours = n
		}
	}
	paging := parseListPaging(q, problems)
	if paging.Page*paging.PerPage > 1000 {
		problems.Addf("page * per_page must be at most 1000; narrow the time window instead")
	}
	return time.Duration(hours) * time.Hour, paging
}

// eventTypeParam reads an event type filter (exact, or a prefix ending in '.').
func eventTypeParam(q url.Values, name string, problems *web.Fields) string {
	v := q.Get(name)
	if v != "" && !auditTypePattern.MatchString(v) {
		problems.Addf("%s must be an event type such as login.failure, or a prefix such as login.", name)
		return ""
	}
	return v
}

// severity ranks a security event for the original's severity field.
func severity(e store.AuditEvent) string {
	switch e.Type {
	case "account.locked", "token.refresh_reused", "authorize.code_reused", "user.self_escalation_denied":
		return "high"
	}
	if e.Outcome == "denied" {
		return "medium"
	}
	return "low"
}

// securityEvents lists failures and denials from the audit log, newest
// first: failed logins, lockouts, refused tokens, authorization denials.
func (p *people) securityEvents(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:security"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	typ := eventTypeParam(q, "event_type", &problems)
	window, paging := eventQuery(q, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	since := p.cfg.Now().Add(-window)
	// Failures and denials are two outcomes; read enough of both to cut
	// the requested page from their merge.
	want := paging.Page * paging.PerPage
	var merged []store.AuditEvent
	total := 0
	for _, outcome := range []string{"failure", "denied"} {
		list, n, err := p.cfg.Store.ListAuditEvents(r.Context(), store.AuditFilter{Type: typ, Outcome: outcome, Since: since,
			Page: store.Page{Limit: want}})
		if err != nil {
			return web.Unavailable(err)
		}
		merged, total = append(merged, list...), total+n
	}
	sort.SliceStable(merged, func(i, j int) bool { return merged[i].Time.After(merged[j].Time) })
	start := min((paging.Page-1)*paging.PerPage, len(merged))
	page := merged[start:min(start+paging.PerPage, len(merged))]
	out := make([]map[string]any, len(page))
	for i, e := range page {
		out[i] = map[string]any{"id": e.ID, "event_type": e.Type, "outcome": e.Outcome, "severity": severity(e),
			"actor_type": e.ActorType, "user_id": e.ActorID, "target": e.Target, "ip_address": e.IP,
			"user_agent": e.UserAgent, "request_id": e.RequestID, "details": e.Details, "timestamp": e.Time}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"events": out, "total": total, "page": paging.Page, "per_page": paging.PerPage})
	return nil
}

// auditActivity lists audit events by actor (user_id, a UUID or a
// client_id), action (type or prefix) and hours.
func (p *people) auditActivity(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:audit"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	typ := eventTypeParam(q, "action", &problems)
	window, paging := eventQuery(q, &problems)
	actor := q.Get("user_id")
	if len(actor) > 255 || !web.PlainText(actor, false) {
		problems.Addf("user_id must be a user id")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	list, total, err := p.cfg.Store.ListAuditEvents(r.Context(), store.AuditFilter{Type: typ, ActorID: actor,
		Since: p.cfg.Now().Add(-window), Page: paging.store()})
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		out[i] = map[string]any{"id": e.ID, "action": e.Type, "outcome": e.Outcome, "actor_type": e.ActorType,
			"user_id": e.ActorID, "target": e.Target, "ip_address": e.IP, "user_agent": e.UserAgent,
			"request_id": e.RequestID, "details": e.Details, "timestamp": e.Time}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"activities": out, "total": total, "page": paging.Page, "per_page": paging.PerPage})
	return nil
}

// maintenanceCleanup purges what has expired: refresh tokens, mailed
// tokens, sessions and revocation entries, and lifts ended lockouts.
func (p *people) maintenanceCleanup(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireAdmin(r, "admin:system")
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := p.cfg.Now()
	ops := []struct {
		name, field string
		run         func(context.Context, time.Time) (int, error)
	}{
		{"cleanup_expired_refresh_tokens", "items_removed", p.cfg.Store.DeleteExpiredRefreshTokens},
		{"cleanup_expired_user_tokens", "items_removed", p.cfg.Store.DeleteExpiredUserTokens},
		{"cleanup_expired_sessions", "items_removed", p.cfg.Store.DeleteExpiredSessions},
		{"cleanup_expired_revocations", "items_removed", p.cfg.Store.DeleteExpiredRevocations},
		{"unlock_expired_lockouts", "items_processed", p.cfg.Store.UnlockExpired},
	}
	out := make([]map[string]any, 0, len(ops))
	details := map[string]any{}
	for _, op := range ops {
		n, err := op.run(ctx, now)
		if err != nil {
			return web.Unavailable(err)
		}
		out = append(out, map[string]any{"operation": op.name, op.field: n})
		details[op.name] = n
	}
	p.record(ctx, p.event(r, c, "maintenance.cleanup", "success", "", details))
	web.WriteJSON(w, http.StatusOK, map[string]any{"timestamp": now.UTC(), "operations": out})
	return nil
}

// usageReport sums the audit log over the last days (1..365, default 30):
// registrations, logins, tokens; and the clients with the most tokens
// issued (all time, from their counters).
func (p *people) usageReport(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:system"); err != nil {
		return err
	}
	days := 30
	if v := r.URL.Query().Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return web.Invalid("days must be an integer between 1 and 365")
		}
		days = n
	}
	ctx := r.Context()
	now := p.cfg.Now()
	since := now.AddDate(0, 0, -days)
	counts := map[string]int{}
	for key, typ := range map[string]string{
		"registrations": "user.registered", "users_created_by_admins": "user.created",
		"logins": "login.success", "failed_logins": "login.failure", "lockouts": "account.locked",
		"tokens_issued": "token.issued", "refresh_refused": "token.refresh_denied",
		"refresh_reuse_detected": "token.refresh_reused", "authorization_denials": "authz.denied",
	} {
		n, err := p.countEvents(ctx, typ, since)
		if err != nil {
			return web.Unavailable(err)
		}
		counts[key] = n
	}
	clients, err := p.cfg.Store.ClientStats(ctx, 5)
	if err != nil {
		return web.Unavailable(err)
	}
	top := []map[string]any{}
	for _, c := range clients.Busiest {
		top = append(top, map[string]any{"client_id": c.ClientID, "total_requests": c.Requests, "last_used": c.LastUsed})
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"report_period": map[string]any{"days": days, "start": since.UTC(), "end": now.UTC()},
		"user_activity": map[string]int{"new_users": counts["registrations"] + counts["users_created_by_admins"],
			"registrations": counts["registrations"], "logins": counts["logins"], "failed_logins": counts["failed_logins"],
			"lockouts": counts["lockouts"]},
		"token_activity": map[string]int{"tokens_issued": counts["tokens_issued"], "refresh_refused": counts["refresh_refused"],
			"refresh_reuse_detected": counts["refresh_reuse_detected"], "authorization_denials": counts["authorization_denials"]},
		"most_active_clients": top,
	})
	return nil
}
