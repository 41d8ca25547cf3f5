package account

import (
	"context"
	"errors"
	"time"

	"github.com/permiso-auth/permiso/internal/opaque"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// HasPassword reports whether u has chosen a password: an administrator
// created by an operator has none until they complete setup.
func HasPassword(u *store.User) bool { return u.PasswordChangedAt.After(u.CreatedAt) }

// CreatePendingAdmin creates (or, for a pending one of the same username,
// finds again) a superuser with the roles roleIDs and no usable password,
// and issues a single-use password-reset token valid ttl with which the
// person chooses their password. The token goes to the caller, never to
// the log. It refuses a username or email taken by anyone else.
func (s *Service) CreatePendingAdmin(ctx context.Context, username, email string, roleIDs []string, ttl time.Duration, m Meta) (store.User, string, time.Time, error) {
	var problems web.Fields
	username = checkUsername(username, &problems)
	email = checkEmail(email, &problems)
	if err := problems.Err(); err != nil {
		return store.User{}, "", time.Time{}, err
	}
	u, err := s.cfg.Store.GetUserByLogin(ctx, username)
	switch {
	case err == nil:
		if !u.Superuser || HasPassword(&u) || u.Username != username || u.Email != email {
			return store.User{}, "", time.Time{}, web.Conflict("Username or email already exists").With("detail", "Username or email already exists")
		}
	case errors.Is(err, store.ErrNotFound):
		if _, err := s.cfg.Store.GetUserByLogin(ctx, email); err == nil {
			return store.User{}, "", time.Time{}, web.Conflict("Username or email already exists").With("detail", "Username or email already exists")
		}
		now := s.cfg.Now()
		// A hash no password matches: checking one costs what a real check
		// costs, so a pending administrator is not told apart by timing.
		u, err = s.cfg.Store.CreateUser(ctx, store.User{Username: username, Email: email, PasswordHash: dummyHash(s.cfg.HashParams),
			Active: true, Verified: true, Superuser: true, PasswordChangedAt: now, RoleIDs: roleIDs, CreatedAt: now})
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, "", time.Time{}, web.Conflict("Username or email already exists").With("detail", "Username or email already exists")
		}
		if err != nil {
			return store.User{}, "", time.Time{}, unavailable("create administrator", err)
		}
		s.record(ctx, m, "user.created", outcomeSuccess, u.ID, map[string]any{"username": u.Username, "role_ids": u.RoleIDs,
			"is_superuser": true, "pending_setup": true})
	default:
		return store.User{}, "", time.Time{}, unavailable("load user", err)
	}
	tok, hash := opaque.New(UserTokenPrefix)
	now := s.cfg.Now()
	if err := s.cfg.Store.CreateUserToken(ctx, store.UserToken{Hash: hash, UserID: u.ID, Purpose: store.PurposePasswordReset,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return store.User{}, "", time.Time{}, unavailable("store user token", err)
	}
	s.record(ctx, m, store.PurposePasswordReset+".requested", outcomeSuccess, u.ID, map[string]any{"by": "operator"})
	return u, tok, now.Add(ttl), nil
}
