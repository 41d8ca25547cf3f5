package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Input bounds for a login. Longer values cannot be a stored username,
// email or acceptable password, and hashing them would cost for nothing.
const (
	maxLoginLen    = 255
	maxPasswordLen = 1024
)

// Authenticate checks a login (username or email, case-insensitive) and
// password, applying lockout. It fails with a *web.Error: 401
// invalid_grant for an unknown user or a wrong password (the same answer,
// after the same Argon2id work), and only after a correct password 403
// account_disabled or 423 account_locked with locked_until. Every attempt
// is audited; the password never is.
//
// Lockout counts consecutive wrong passwords: the MaxLoginAttempts-th
// locks the account for LockoutDuration. Wrong passwords during a lock do
// not extend it; the first wrong password after a lock ended starts a new
// count; a successful login resets the count.
func (s *Service) Authenticate(ctx context.Context, login, password, ip, userAgent string) (*store.User, error) {
	m := Meta{IP: ip, UserAgent: userAgent, RequestID: web.RequestID(ctx)}
	if login == "" || len(login) > maxLoginLen || len(password) > maxPasswordLen || !plain(login) {
		s.verify(ctx, password, s.dummy)
		s.record(ctx, m, "login.failure", outcomeFailure, "", map[string]any{"reason": "malformed_login"})
		return nil, errInvalidLogin()
	}
	u, err := s.cfg.Store.GetUserByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		s.verify(ctx, password, s.dummy)
		// What was typed is not kept: it names nobody, and is often a
		// password typed into the username field.
		s.record(ctx, m, "login.failure", outcomeFailure, "", map[string]any{"reason": "user_not_found"})
		return nil, errInvalidLogin()
	}
	if err != nil {
		return nil, unavailable("load user", err)
	}
	m.ActorID, m.ActorType = u.ID, "user"
	if !s.verify(ctx, password, u.PasswordHash) {
		return nil, s.failedPassword(ctx, m, &u)
	}
	now := s.cfg.Now()
	if !u.Active {
		s.record(ctx, m, "login.failure", outcomeDenied, u.ID, map[string]any{"reason": "account_disabled"})
		return nil, errDisabled()
	}
	if Locked(&u, now) {
		s.record(ctx, m, "login.failure", outcomeDenied, u.ID, map[string]any{"reason": "account_locked"})
		return nil, errLocked(*u.LockedUntil)
	}
	u, err = s.cfg.Store.UpdateUser(ctx, u.ID, func(x store.User) (store.User, error) {
		x.FailedLoginAttempts, x.LockedUntil, x.LastLogin = 0, nil, &now
		return x, nil
	})
	if err != nil {
		return nil, unavailable("record login", err)
	}
	s.record(ctx, m, "login.success", outcomeSuccess, u.ID, nil)
	return &u, nil
}

// failedPassword counts a wrong password and locks the account when the
// count reaches the limit.
func (s *Service) failedPassword(ctx context.Context, m Meta, u *store.User) error {
	now := s.cfg.Now()
	var locked bool
	_, err := s.cfg.Store.UpdateUser(ctx, u.ID, func(x store.User) (store.User, error) {
		locked = false
		if Locked(&x, now) {
			return x, nil // a running lock is not extended
		}
		if x.LockedUntil != nil { // an ended lock: start counting again
			x.LockedUntil, x.FailedLoginAttempts = nil, 0
		}
		x.FailedLoginAttempts++
		if x.FailedLoginAttempts >= s.cfg.MaxLoginAttempts {
			until := now.Add(s.cfg.LockoutDuration)
			x.LockedUntil, locked = &until, true
		}
		return x, nil
	})
	if err != nil {
		return unavailable("count failed login", err)
	}
	s.record(ctx, m, "login.failure", outcomeFailure, u.ID, map[string]any{"reason": "invalid_password"})
	if locked {
		s.record(ctx, Meta{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, ActorType: "system"},
			"account.locked", outcomeDenied, u.ID, map[string]any{"attempts": s.cfg.MaxLoginAttempts,
				"locked_until": now.Add(s.cfg.LockoutDuration).UTC().Format(time.RFC3339)})
	}
	return errInvalidLogin()
}

// Unlock clears a user's lock and failed-attempt count.
func (s *Service) Unlock(ctx context.Context, id string, m Meta) (store.User, error) {
	u, err := s.cfg.Store.UpdateUser(ctx, id, func(x store.User) (store.User, error) {
		x.LockedUntil, x.FailedLoginAttempts = nil, 0
		return x, nil
	})
	if err != nil {
		return store.User{}, userErr("unlock user", err)
	}
	s.record(ctx, m, "user.unlocked", outcomeSuccess, id, nil)
	return u, nil
}

// StartSession opens a login session of u through clientID (empty or the
// first-party client for the original's login). It lasts SessionLifetime;
// ending it stops every token issued in it.
func (s *Service) StartSession(ctx context.Context, u *store.User, clientID, ip, userAgent string) (store.Session, error) {
	now := s.cfg.Now()
	sess, err := s.cfg.Store.CreateSession(ctx, store.Session{UserID: u.ID, ClientID: clientID, IP: truncate(ip, 64),
		UserAgent: truncate(userAgent, 256), CreatedAt: now, LastActivity: now, ExpiresAt: now.Add(s.cfg.SessionLifetime)})
	if err != nil {
		return store.Session{}, unavailable("create session", err)
	}
	s.record(ctx, Meta{IP: ip, UserAgent: truncate(userAgent, 256), ActorID: u.ID, ActorType: "user"},
		"session.started", outcomeSuccess, u.ID, map[string]any{"session_id": sess.ID, "client_id": clientID})
	return sess, nil
}

// SubjectActive implements the oauth subject check: a user token is
// active only while its user exists, is active and not locked, and its
// session (claim sid) is neither ended nor expired. Nothing is cached, so a
// disabled user or an ended session stops working at once.
func (s *Service) SubjectActive(ctx context.Context, c *wire.Claims) (bool, error) {
	if !store.IsID(c.Subject) {
		return false, nil
	}
	u, err := s.cfg.Store.GetUser(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("subject check: %w", err)
	}
	now := s.cfg.Now()
	if !u.Active || Locked(&u, now) {
		return false, nil
	}
	if c.SessionID == "" {
		return true, nil
	}
	return s.SessionLive(ctx, c.SessionID, u.ID)
}

// SessionLive reports whether session id of user userID is neither ended
// nor expired.
func (s *Service) SessionLive(ctx context.Context, id, userID string) (bool, error) {
	if !store.IsID(id) {
		return false, nil
	}
	sess, err := s.cfg.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("session check: %w", err)
	}
	return sess.UserID == userID && sess.RevokedAt == nil && sess.ExpiresAt.After(s.cfg.Now()), nil
}
