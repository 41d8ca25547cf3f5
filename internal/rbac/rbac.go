package rbac

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/store"
)

// ScopeNamePattern is the allowed form of a scope name.
var ScopeNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// AdminScopes are the scopes that authorise Permiso's own admin API.
var AdminScopes = []string{
	"admin:users", "admin:clients", "admin:roles", "admin:sessions", "admin:tokens",
	"admin:audit", "admin:system", "admin:security", "admin:permissions", "admin:logs",
}

// TradingScopes are the scopes of the trading example (mt5-api).
var TradingScopes = []string{
	"trade:read", "trade:open", "trade:close", "trade:modify",
	"account:read", "account:balance", "market:data", "service:mt5",
}

type seedScope struct{ name, description string }

var defaultScopes = []seedScope{
	{"admin:users", "Manage users"},
	{"admin:clients", "Manage service clients"},
	{"admin:roles", "Manage roles and scopes"},
	{"admin:sessions", "Manage sessions"},
	{"admin:tokens", "Introspect and revoke any token"},
	{"admin:audit", "Read the audit log"},
	{"admin:system", "Administer the system (keys, maintenance, health)"},
	{"admin:security", "Read security events"},
	{"admin:permissions", "Check users' permissions"},
	{"admin:logs", "Read error logs"},
	{"read:profile", "Read own profile"},
	{"write:profile", "Update own profile"},
	{"read:trades", "Read trades"},
	{"write:trades", "Create and modify trades"},
	{"service:mt5", "Call the MT5 service"},
	{"service:api", "Call the API service"},
	{"trade:read", "List trades"},
	{"trade:open", "Open positions"},
	{"trade:close", "Close positions"},
	{"trade:modify", "Modify positions"},
	{"account:read", "Read account figures"},
	{"account:balance", "Read the account balance"},
	{"market:data", "Read market quotes"},
}

type seedRole struct {
	name, description string
	scopes            []string
}

var defaultRoles = []seedRole{
	{"admin", "Administrators", append(slices.Clone(AdminScopes), "read:profile", "write:profile")},
	{"user", "Default role of new users", []string{"read:profile", "write:profile"}},
	{"trader", "Traders", []string{"read:profile", "write:profile", "read:trades", "write:trades",
		"trade:read", "trade:open", "trade:close", "account:read", "account:balance", "market:data"}},
	{"service", "Service accounts", []string{"service:mt5", "service:api"}},
}

// DefaultRoleNames lists the seeded roles.
func DefaultRoleNames() []string {
	out := make([]string, len(defaultRoles))
	for i, r := range defaultRoles {
		out[i] = r.name
	}
	return out
}

// Store is what seeding needs.
type Store interface {
	store.ScopeStore
	store.RoleStore
}

// Seed creates the default scopes and roles that are missing. Existing ones
// are left as administrators changed them.
func Seed(ctx context.Context, s Store) error {
	ids := map[string]string{}
	for _, sc := range defaultScopes {
		got, err := s.GetScopeByName(ctx, sc.name)
		if errors.Is(err, store.ErrNotFound) {
			got, err = s.CreateScope(ctx, store.Scope{Name: sc.name, Description: sc.description, Resource: Resource(sc.name)})
			if errors.Is(err, store.ErrConflict) { // another replica seeded it first
				got, err = s.GetScopeByName(ctx, sc.name)
			}
		}
		if err != nil {
			return fmt.Errorf("seed scope %s: %w", sc.name, err)
		}
		ids[sc.name] = got.ID
	}
	for _, r := range defaultRoles {
		_, err := s.GetRoleByName(ctx, r.name)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("seed role %s: %w", r.name, err)
		}
		role := store.Role{Name: r.name, Description: r.description}
		for _, n := range r.scopes {
			role.ScopeIDs = append(role.ScopeIDs, ids[n])
		}
		if _, err := s.CreateRole(ctx, role); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("seed role %s: %w", r.name, err)
		}
	}
	return nil
}

// Action is the part of a scope name before the first ':' ("read" in
// "read:profile"), or the whole name when there is no ':'.
func Action(name string) string {
	a, _, _ := strings.Cut(name, ":")
	return a
}

// Resource is the part after the first ':', or "" when there is none.
func Resource(name string) string {
	_, r, _ := strings.Cut(name, ":")
	return r
}

// UserScopes returns the union of the scopes of a user's roles, sorted.
func UserScopes(u *store.User) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range u.Roles {
		for _, s := range r.Scopes {
			if !seen[s.Name] {
				seen[s.Name] = true
				out = append(out, s.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}
