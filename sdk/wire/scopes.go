package wire

import (
	"slices"
	"strings"
)

// adminSystemImplies lists what admin:system implies beyond read:system and
// write:system, as the original Permiso did (not transitively).
var adminSystemImplies = [...]string{
	"read:profile", "write:profile", "read:trades", "write:trades",
	"admin:users", "admin:clients", "service:mt5", "service:api",
}

// HasScope reports whether granted satisfies required, directly or through
// the implied-scope rule: admin:X implies read:X and write:X, and
// admin:system also implies a fixed set. Matching is exact and
// case-sensitive; wildcards grant nothing.
func HasScope(granted []string, required string) bool {
	if slices.Contains(granted, required) {
		return true
	}
	action, resource, ok := strings.Cut(required, ":")
	if !ok || resource == "" {
		return false
	}
	if (action == "read" || action == "write") && slices.Contains(granted, "admin:"+resource) {
		return true
	}
	return slices.Contains(granted, "admin:system") && slices.Contains(adminSystemImplies[:], required)
}

// MissingScopes returns the scopes of required that granted does not satisfy.
func MissingScopes(granted, required []string) []string {
	var missing []string
	for _, r := range required {
		if !HasScope(granted, r) {
			missing = append(missing, r)
		}
	}
	return missing
}
