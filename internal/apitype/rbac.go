package apitype

import "time"

// Role is the original's RoleResponse.
type Role struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Scopes      []ScopeBrief `json:"scopes"`
	UserCount   int          `json:"user_count"`
}

// RoleList is GET /api/v1/roles.
type RoleList struct {
	Paging
	Roles []Role `json:"roles"`
}

// RoleFields is the body of POST and PUT /api/v1/roles; every field is
// optional on PUT, and scope_ids (names or ids) replaces the role's set.
type RoleFields struct {
	Name        *string   `json:"name,omitempty"`
	Description *string   `json:"description,omitempty"`
	ScopeIDs    *[]string `json:"scope_ids,omitempty"`
}

// Scope is the original's ScopeResponse.
type Scope struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Resource    string    `json:"resource"`
	Action      string    `json:"action"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	RoleCount   int       `json:"role_count"`
}

// ScopeList is GET /api/v1/roles/scopes.
type ScopeList struct {
	Paging
	Scopes []Scope `json:"scopes"`
}

// ScopeFields is the body of POST and PUT /api/v1/roles/scopes; every
// field is optional on PUT.
type ScopeFields struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Resource    *string `json:"resource,omitempty"`
	// Action is derived from the name (the text before the first ':'); it
	// is accepted for the original's clients and only checked to agree.
	Action *string `json:"action,omitempty"`
}
