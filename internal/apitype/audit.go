package apitype

import "time"

// AuditEvent is one event of GET /api/v1/admin/audit/events.
type AuditEvent struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Type      string         `json:"type"`
	Outcome   string         `json:"outcome"`
	ActorType string         `json:"actor_type"`
	ActorID   string         `json:"actor_id"`
	Target    string         `json:"target"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"user_agent"`
	RequestID string         `json:"request_id"`
	Details   map[string]any `json:"details"`
}

// AuditList is GET /api/v1/admin/audit/events, newest first.
type AuditList struct {
	Paging
	Events []AuditEvent `json:"events"`
}
