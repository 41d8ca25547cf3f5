package account

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
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
// password from source address ip, applying lockout. It fails with a
// *web.Error: 401 invalid_grant for an unknown user or a wrong password
// (the same answer, after the same Argon2id work), 403 account_disabled
// only after a correct password, and 423 account_locked with locked_until
// while the source is locked, whatever the password (it is not checked). Every attempt is audited; the password never is, and what
// was typed as the login only when it names a user (as the user's id).
//
// Lockout is kept per user and source (an IPv4 address, or the /64 of an
// IPv6 address), so that an attacker at one address cannot lock the user
// out of logins from others: MaxLoginAttempts consecutive wrong passwords
// from one source lock that source out for LockoutDuration. Across
// sources a slower limit still stops guessing from many addresses:
// MaxUserLoginAttempts failures from all sources within LockoutDuration
// lock the user out from every source for LockoutDuration. Attempts during
// a lock are refused unchecked and not counted (so do not extend it); the first wrong
// password after a lock ended starts a new count; a successful login
// clears its own source only. A lock refuses new logins only: sessions and
// tokens already issued keep working.
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
	source := SourceKey(ip)
	now := s.cfg.Now()
	// A locked source is refused before the password is checked: were the
	// right password answered otherwise than a wrong one, guessing would
	// go on through the lock.
	if until := lockedFor(u.LoginSources, source, now); until != nil {
		s.record(ctx, m, "login.failure", outcomeDenied, u.ID, map[string]any{"reason": "account_locked", "source": source})
		return nil, errLocked(*until)
	}
	if !s.verify(ctx, password, u.PasswordHash) {
		return nil, s.failedPassword(ctx, m, &u, source)
	}
	if !u.Active {
		s.record(ctx, m, "login.failure", outcomeDenied, u.ID, map[string]any{"reason": "account_disabled"})
		return nil, errDisabled()
	}
	u, err = s.cfg.Store.UpdateUser(ctx, u.ID, func(x store.User) (store.User, error) {
		// Only this source's count is cleared: a lock of another source
		// (an attacker's) keeps running.
		x.LoginSources = slices.DeleteFunc(slices.Clone(x.LoginSources), func(e store.LoginSource) bool { return e.Source == source })
		x.FailedLoginAttempts, x.LastLogin = 0, &now
		x.LockedUntil = latestLock(x.LoginSources, now)
		return x, nil
	})
	if err != nil {
		return nil, unavailable("record login", err)
	}
	s.record(ctx, m, "login.success", outcomeSuccess, u.ID, nil)
	return &u, nil
}

// allSources is the LoginSource entry of the lock across every source.
const allSources = "*"

// maxLoginSources bounds the sources kept per user: beyond it the oldest
// ones without a running lock are forgotten first. The lock across sources
// still counts what they contributed while they were kept.
const maxLoginSources = 32

// SourceKey is the unit a lockout counts: an IPv4 address, or the /64 of
// an IPv6 address (one host commonly holds a whole /64 and could otherwise
// rotate addresses for a fresh count). An unparsable address is one
// source of its own, "unknown".
func SourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// lockedFor returns the end of the lock that refuses a login from source
// at now (of the source, or across sources), or nil.
func lockedFor(sources []store.LoginSource, source string, now time.Time) *time.Time {
	var until *time.Time
	for _, e := range sources {
		if (e.Source == source || e.Source == allSources) && running(e, now) && (until == nil || e.LockedUntil.After(*until)) {
			until = e.LockedUntil
		}
	}
	return until
}

func running(e store.LoginSource, now time.Time) bool {
	return e.LockedUntil != nil && e.LockedUntil.After(now)
}

// latestLock is the end of the latest lock running at now, or nil: what
// users.locked_until shows.
func latestLock(sources []store.LoginSource, now time.Time) *time.Time {
	var until *time.Time
	for _, e := range sources {
		if running(e, now) && (until == nil || e.LockedUntil.After(*until)) {
			t := *e.LockedUntil
			until = &t
		}
	}
	return until
}

// failedPassword counts a wrong password from source and locks the source,
// or the user across sources, when a count reaches its limit.
func (s *Service) failedPassword(ctx context.Context, m Meta, u *store.User, source string) error {
	now := s.cfg.Now()
	var locked string // the source locked now: source, allSources or ""
	_, err := s.cfg.Store.UpdateUser(ctx, u.ID, func(x store.User) (store.User, error) {
		locked = ""
		if lockedFor(x.LoginSources, source, now) != nil {
			return x, nil // a running lock is not extended
		}
		sources := slices.Clone(x.LoginSources)
		i := slices.IndexFunc(sources, func(e store.LoginSource) bool { return e.Source == source })
		if i < 0 {
			sources = append(sources, store.LoginSource{Source: source})
			i = len(sources) - 1
		}
		e := &sources[i]
		if e.LockedUntil != nil { // an ended lock: start counting again
			e.LockedUntil, e.Failures = nil, 0
		}
		e.Failures++
		e.Last = now
		if e.Failures >= s.cfg.MaxLoginAttempts {
			until := now.Add(s.cfg.LockoutDuration)
			e.LockedUntil, locked = &until, source
		}
		// Across sources: the failures of every source within the last
		// LockoutDuration. One source adds at most MaxLoginAttempts before
		// its own lock stops it, so a single address never gets here.
		recent := 0
		for _, e := range sources {
			if e.Source != allSources && now.Sub(e.Last) < s.cfg.LockoutDuration {
				recent += e.Failures
			}
		}
		if recent >= s.cfg.MaxUserLoginAttempts {
			until := now.Add(s.cfg.LockoutDuration)
			sources = slices.DeleteFunc(sources, func(e store.LoginSource) bool { return e.Source == allSources })
			// The sources that counted are spent: after this lock each
			// starts again.
			for j := range sources {
				if !running(sources[j], now) {
					sources[j].Failures = 0
				}
			}
			sources = append(sources, store.LoginSource{Source: allSources, Failures: recent, Last: now, LockedUntil: &until})
			locked = allSources
		}
		x.LoginSources = pruneSources(sources, now, s.cfg.LockoutDuration)
		x.FailedLoginAttempts++
		x.LockedUntil = latestLock(x.LoginSources, now)
		return x, nil
	})
	if err != nil {
		return unavailable("count failed login", err)
	}
	s.record(ctx, m, "login.failure", outcomeFailure, u.ID, map[string]any{"reason": "invalid_password", "source": source})
	if locked != "" {
		details := map[string]any{"source": locked, "locked_until": now.Add(s.cfg.LockoutDuration).UTC().Format(time.RFC3339)}
		if locked == allSources {
			details["attempts"], details["scope"] = s.cfg.MaxUserLoginAttempts, "all_sources"
		} else {
			details["attempts"], details["scope"] = s.cfg.MaxLoginAttempts, "source"
		}
		s.record(ctx, Meta{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, ActorType: "system"},
			"account.locked", outcomeDenied, u.ID, details)
	}
	return errInvalidLogin()
}

// pruneSources drops entries that no longer matter (no running lock, last
// failure older than window and no count) and bounds the rest, forgetting
// the oldest unlocked sources first.
func pruneSources(sources []store.LoginSource, now time.Time, window time.Duration) []store.LoginSource {
	sources = slices.DeleteFunc(sources, func(e store.LoginSource) bool {
		return !running(e, now) && (e.Failures == 0 || now.Sub(e.Last) >= window && e.Source == allSources)
	})
	if len(sources) <= maxLoginSources {
		return sources
	}
	slices.SortStableFunc(sources, func(a, b store.LoginSource) int {
		if ra, rb := running(a, now), running(b, now); ra != rb {
			if ra {
				return 1
			}
			return -1
		}
		return a.Last.Compare(b.Last)
	})
	return sources[len(sources)-maxLoginSources:]
}

// Unlock clears a user's lock and failed-attempt count.
func (s *Service) Unlock(ctx context.Context, id string, m Meta) (store.User, error) {
	u, err := s.cfg.Store.UpdateUser(ctx, id, func(x store.User) (store.User, error) {
		x.LockedUntil, x.FailedLoginAttempts, x.LoginSources = nil, 0, nil
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
// active only while its user exists and is active, and its
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
	// A lockout refuses new logins only: the tokens of a session opened
	// before it keep working, or an attacker could end them by failing.
	if !u.Active {
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
