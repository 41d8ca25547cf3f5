package api

import (
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
)

func userWith(id string, superuser bool, scopes ...string) *store.User {
	role := store.Role{Name: "r"}
	for _, s := range scopes {
		role.Scopes = append(role.Scopes, store.Scope{Name: s})
	}
	return &store.User{ID: id, Superuser: superuser, Roles: []store.Role{role}}
}

// TestDecide is the original's can_access_resource (§4.6).
func TestDecide(t *testing.T) {
	tests := []struct {
		name                    string
		u                       *store.User
		resource, action, owner string
		allowed                 bool
		reason                  string
	}{
		{"superuser", userWith("u1", true), "anything", "admin", "", true, "Superuser access"},
		{"direct_scope", userWith("u1", false, "read:trades"), "trades", "read", "", true, "Granted by scopes: read:trades"},
		{"admin_resource", userWith("u1", false, "admin:trades"), "trades", "write", "", true, "Granted by scopes: admin:trades"},
		{"admin_system_not_for_admin_action", userWith("u1", false, "admin:system"), "trades", "admin", "", false, "No matching permissions found"},
		{"admin_system_for_read", userWith("u1", false, "admin:system"), "trades", "read", "", true, "Granted by scopes: admin:system"},
		{"role_writes_need_admin", userWith("u1", false, "write:roles"), "roles", "write", "", false, "No matching permissions found"},
		{"role_writes_with_admin_users", userWith("u1", false, "admin:users"), "scopes", "admin", "", true, "Granted by scopes: admin:users"},
		{"own_resource", userWith("u1", false), "profile", "write", "u1", true, "Owner access"},
		{"other_users_resource", userWith("u1", false, "write:profile"), "profile", "write", "u2", false, "No matching permissions found"},
		{"other_users_resource_admin", userWith("u1", false, "admin:users"), "profile", "read", "u2", true, "Granted by scopes: admin:users"},
		{"wildcards_grant_nothing", userWith("u1", false, "*:*", "admin:*"), "trades", "read", "", false, "No matching permissions found"},
		{"case_sensitive", userWith("u1", false, "READ:trades"), "trades", "read", "", false, "No matching permissions found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(tc.u, tc.resource, tc.action, tc.owner)
			if got.Allowed != tc.allowed || got.Reason != tc.reason {
				t.Fatalf("decide = %v %q, want %v %q", got.Allowed, got.Reason, tc.allowed, tc.reason)
			}
		})
	}
}
