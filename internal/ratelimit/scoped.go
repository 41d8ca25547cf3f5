package ratelimit

import (
	"context"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Scoped is a view of a Limiter whose every bucket key starts with its
// scope: a tenant's clients and addresses have budgets of their own, so
// one tenant's failures never throttle another's, while the limiter (its
// memory, its Redis connection, its metrics) stays one for the server.
type Scoped struct {
	l     *Limiter
	scope string
}

// Scope returns the view of l for scope (a tenant's id). The empty scope
// is l itself, with the keys it had before scopes.
func (l *Limiter) Scope(scope string) *Scoped {
	if scope != "" {
		scope = "t/" + scope + "/"
	}
	return &Scoped{l: l, scope: scope}
}

// AllowToken is [Limiter.AllowToken] within the scope.
func (s *Scoped) AllowToken(ctx context.Context, c *store.Client) (bool, time.Duration) {
	return s.l.allowToken(ctx, s.scope, c)
}

// AllowAuthAttempt is [Limiter.AllowAuthAttempt] within the scope.
func (s *Scoped) AllowAuthAttempt(ctx context.Context, kind, key string) (bool, time.Duration) {
	return s.l.allowAuthAttempt(ctx, s.scope, kind, key)
}

// FailedAuth is [Limiter.FailedAuth] within the scope.
func (s *Scoped) FailedAuth(ctx context.Context, kind, key string) {
	s.l.failedAuth(ctx, s.scope, kind, key)
}

// TokenUsage is [Limiter.TokenUsage] within the scope.
func (s *Scoped) TokenUsage(ctx context.Context, c *store.Client) TokenUsage {
	return s.l.tokenUsage(ctx, s.scope, c)
}
