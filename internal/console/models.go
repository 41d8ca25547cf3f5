package console

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// The API's shapes, as far as the pages use them. Unknown fields are
// ignored, so the API may grow without breaking the console.

// paging is the envelope of every list.
type paging struct {
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Pages   int `json:"pages"`
}

// stringList accepts a JSON array of strings or one comma-separated string
// (the original API's allowed_ips).
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var arr []string
	if err := json.Unmarshal(b, &arr); err == nil {
		*l = arr
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = splitList(s)
	return nil
}

// splitList splits a form field on commas, spaces and newlines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

type scopeRef struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

type clientView struct {
	ID                   string     `json:"id"`
	ClientID             string     `json:"client_id"`
	Name                 string     `json:"name"`
	Description          string     `json:"description"`
	ClientType           string     `json:"client_type"`
	IsActive             bool       `json:"is_active"`
	IsTrusted            bool       `json:"is_trusted"`
	GrantTypes           stringList `json:"grant_types"`
	Scopes               []scopeRef `json:"scopes"`
	Audiences            stringList `json:"audiences"`
	RedirectURIs         stringList `json:"redirect_uris"`
	AccessTokenLifetime  int        `json:"access_token_lifetime"`
	RefreshTokenLifetime *int       `json:"refresh_token_lifetime"`
	RateLimitPerMinute   int        `json:"rate_limit_per_minute"`
	RateLimitPerHour     int        `json:"rate_limit_per_hour"`
	AllowedIPs           stringList `json:"allowed_ips"`
	ContactEmail         string     `json:"contact_email"`
	WebsiteURL           string     `json:"website_url"`
	LastUsed             *time.Time `json:"last_used"`
	TotalRequests        int64      `json:"total_requests"`
	CreatedAt            time.Time  `json:"created_at"`
}

// ScopeNames lists the client's scopes by name, for forms and tables.
func (c clientView) ScopeNames() []string {
	out := make([]string, len(c.Scopes))
	for i, s := range c.Scopes {
		out[i] = s.Name
	}
	return out
}

type clientList struct {
	paging
	Clients []clientView `json:"clients"`
}

type roleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// userView is the API's user with what the pages ask of it.
type userView struct{ apitype.User }

// Locked reports a lockout in force.
func (u userView) Locked() bool {
	return u.IsLocked || (u.LockedUntil != nil && u.LockedUntil.After(time.Now()))
}

// HasRole reports whether the user holds the role with id.
func (u userView) HasRole(id string) bool {
	for _, r := range u.Roles {
		if r.ID == id {
			return true
		}
	}
	return false
}

type userList struct {
	apitype.Paging
	Users []userView `json:"users"`
}

type roleView struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Scopes      []scopeRef `json:"scopes"`
	UserCount   int        `json:"user_count"`
}

// HasScope reports whether the role holds the scope with id.
func (r roleView) HasScope(id string) bool {
	for _, s := range r.Scopes {
		if s.ID == id {
			return true
		}
	}
	return false
}

type roleList struct {
	paging
	Roles []roleView `json:"roles"`
}

type scopeView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Resource    string `json:"resource"`
	Action      string `json:"action"`
	RoleCount   int    `json:"role_count"`
}

type scopeList struct {
	paging
	Scopes []scopeView `json:"scopes"`
}

type sessionView struct {
	ID           string     `json:"session_id"`
	UserID       string     `json:"user_id"`
	Username     string     `json:"username"`
	IPAddress    string     `json:"ip_address"`
	UserAgent    string     `json:"user_agent"`
	CreatedAt    time.Time  `json:"created_at"`
	LastActivity *time.Time `json:"last_activity"`
	ExpiresAt    time.Time  `json:"expires_at"`
}

type sessionList struct {
	Sessions []sessionView `json:"sessions"`
	Total    int           `json:"total"`
}

type keyView struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiresAt   *time.Time `json:"retires_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// auditEvent is one audit event. It reads the audit API's names and the
// original's (timestamp, ip_address, actor) alike.
type auditEvent struct {
	ID        string
	Time      time.Time
	Type      string
	Outcome   string
	ActorType string
	ActorID   string
	Target    string
	IP        string
	RequestID string
	Details   map[string]any
}

func (e *auditEvent) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID        any            `json:"id"`
		Time      *time.Time     `json:"time"`
		Timestamp *time.Time     `json:"timestamp"`
		Type      string         `json:"type"`
		EventType string         `json:"event_type"`
		Outcome   string         `json:"outcome"`
		ActorType string         `json:"actor_type"`
		ActorID   string         `json:"actor_id"`
		Actor     any            `json:"actor"`
		Target    string         `json:"target"`
		IP        string         `json:"ip"`
		IPAddress string         `json:"ip_address"`
		RequestID string         `json:"request_id"`
		Details   map[string]any `json:"details"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = auditEvent{Type: first(raw.Type, raw.EventType), Outcome: raw.Outcome, ActorType: raw.ActorType,
		ActorID: raw.ActorID, Target: raw.Target, IP: first(raw.IP, raw.IPAddress), RequestID: raw.RequestID, Details: raw.Details}
	if raw.ID != nil {
		b, _ := json.Marshal(raw.ID)
		e.ID = strings.Trim(string(b), `"`)
	}
	switch a := raw.Actor.(type) {
	case string:
		e.ActorID = first(e.ActorID, a)
	case map[string]any:
		id, _ := a["id"].(string)
		typ, _ := a["type"].(string)
		e.ActorID, e.ActorType = first(e.ActorID, id), first(e.ActorType, typ)
	}
	if raw.Time != nil {
		e.Time = *raw.Time
	} else if raw.Timestamp != nil {
		e.Time = *raw.Timestamp
	}
	return nil
}

type auditList struct {
	paging
	Events []auditEvent `json:"events"`
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
