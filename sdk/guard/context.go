package guard

import (
	"context"

	"github.com/permiso-auth/permiso/sdk/wire"
)

type claimsKey struct{}

// WithClaims returns a copy of ctx carrying c, as [Guard.Require] does for
// the requests it lets through.
func WithClaims(ctx context.Context, c *wire.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims carried by ctx, if any. They must
// not be modified.
func ClaimsFrom(ctx context.Context) (*wire.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*wire.Claims)
	return c, ok && c != nil
}

// Subject returns the token's sub (a user id, or the client id of a
// service token), or "" when ctx carries no claims.
func Subject(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Subject
	}
	return ""
}

// ClientID returns the token's client_id, or "" when ctx carries no claims.
func ClientID(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.ClientID
	}
	return ""
}

// Scopes returns the token's scopes, or nil when ctx carries no claims.
func Scopes(ctx context.Context) []string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Scopes
	}
	return nil
}

// Roles returns the token's roles (user tokens), or nil.
func Roles(ctx context.Context) []string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Roles
	}
	return nil
}

// TokenID returns the token's jti, or "" when ctx carries no claims.
func TokenID(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.ID
	}
	return ""
}

// IsTrusted reports the token's is_trusted claim; false when absent.
func IsTrusted(ctx context.Context) bool {
	c, ok := ClaimsFrom(ctx)
	return ok && c.Trusted()
}
