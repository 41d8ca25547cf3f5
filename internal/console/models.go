package console

import (
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// The API's shapes are internal/apitype's; the views below only add what
// the pages ask of them.

// splitList splits a form field on commas, spaces and newlines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
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

// roleView is the API's role with what the pages ask of it.
type roleView struct{ apitype.Role }

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
	apitype.Paging
	Roles []roleView `json:"roles"`
}
