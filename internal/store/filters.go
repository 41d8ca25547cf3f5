package store

import "time"

// Page selects a window of a list. Limit 0 means the store's default (20);
// implementations cap it at 1000.
type Page struct {
	Offset int
	Limit  int
}

// ScopeFilter narrows ListScopes.
type ScopeFilter struct {
	Page
	Search   string // substring of name or description, case-insensitive
	Resource string
	Action   string // the part of the name before the first ':'
}

// RoleFilter narrows ListRoles.
type RoleFilter struct {
	Page
	Search  string
	ScopeID string
}

// ClientFilter narrows ListClients.
type ClientFilter struct {
	Page
	Search  string // name, client_id or description
	Active  *bool
	Trusted *bool
	Type    string
	ScopeID string
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	Page
	Search   string // username, email, first/last/display name
	Active   *bool
	Verified *bool
	RoleID   string
}

// AuditFilter narrows ListAuditEvents.
type AuditFilter struct {
	Page
	Type    string // exact, or a prefix ending in '.' such as "login."
	Outcome string
	ActorID string
	Target  string
	Since   time.Time
	Until   time.Time
}

// UserStats are counts over users.
type UserStats struct {
	Total, Active, Verified, Locked, RecentRegistrations int
}

// SessionStats are counts over sessions.
type SessionStats struct {
	Active, CreatedSince, Expired, Total int
}

// ClientStats are counts over clients, from a summary the store keeps up
// to date, so reading them costs the same at a hundred or a million clients.
type ClientStats struct {
	Total, Active, Trusted int
	Requests               int64         // tokens issued, summed over clients
	Busiest                []ClientUsage // by Requests, most first; ties by client_id
}

// ClientUsage is one client's usage counters.
type ClientUsage struct {
	ClientID string
	Requests int64
	LastUsed *time.Time
}
