package account

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Sessions returns a user's live sessions, oldest first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	list, err := s.cfg.Store.ListSessions(ctx, userID, s.cfg.Now())
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	return list, nil
}

// Session returns a session by id; 404 for an unknown or malformed id.
func (s *Service) Session(ctx context.Context, id string) (store.Session, error) {
	if !store.IsID(id) {
		return store.Session{}, sessionNotFound()
	}
	sess, err := s.cfg.Store.GetSession(ctx, strings.ToLower(id))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, sessionNotFound()
	}
	if err != nil {
		return store.Session{}, unavailable("load session", err)
	}
	return sess, nil
}

func sessionNotFound() *web.Error {
	return web.Errorf(http.StatusNotFound, "session_not_found", "Session not found")
}

// RenewSession extends a live session to now + SessionLifetime. An ended
// or expired session cannot be renewed (400 renewal_failed).
func (s *Service) RenewSession(ctx context.Context, id string, m Meta) (store.Session, error) {
	now := s.cfg.Now()
	sess, err := s.cfg.Store.UpdateSession(ctx, strings.ToLower(id), func(x store.Session) (store.Session, error) {
		if x.RevokedAt != nil || !x.ExpiresAt.After(now) {
			return x, web.Errorf(http.StatusBadRequest, "renewal_failed", "The session has ended or expired and cannot be renewed")
		}
		x.ExpiresAt, x.LastActivity = now.Add(s.cfg.SessionLifetime), now
		return x, nil
	})
	if err != nil {
		if we, ok := web.AsError(err); ok {
			return store.Session{}, we
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.Session{}, sessionNotFound()
		}
		return store.Session{}, unavailable("renew session", err)
	}
	s.record(ctx, m, "session.renewed", outcomeSuccess, sess.UserID, map[string]any{"session_id": sess.ID})
	return sess, nil
}

// EndSession ends a session and revokes its refresh tokens; the access
// tokens issued in it fail the subject check from now on. It returns
// whether the session was live.
func (s *Service) EndSession(ctx context.Context, id string, m Meta, reason string) (bool, error) {
	now := s.cfg.Now()
	live := false
	sess, err := s.cfg.Store.UpdateSession(ctx, strings.ToLower(id), func(x store.Session) (store.Session, error) {
		live = x.RevokedAt == nil && x.ExpiresAt.After(now)
		if x.RevokedAt == nil {
			x.RevokedAt = &now
		}
		return x, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, sessionNotFound()
	}
	if err != nil {
		return false, unavailable("end session", err)
	}
	n, err := s.cfg.Store.RevokeSessionRefreshTokens(ctx, sess.ID, now)
	if err != nil {
		return false, unavailable("revoke session refresh tokens", err)
	}
	if err := s.publishEnded(ctx, sess.ID); err != nil {
		return false, err
	}
	s.record(ctx, m, "session.ended", outcomeSuccess, sess.UserID, map[string]any{"session_id": sess.ID,
		"reason": reason, "refresh_tokens_revoked": n})
	return live, nil
}

// publishEnded puts an ended session on the revocation list for as long
// as a token issued in it may live, plus a minute for one issued while it
// ended.
func (s *Service) publishEnded(ctx context.Context, sessionID string) error {
	if s.cfg.Sessions == nil {
		return nil
	}
	exp := s.cfg.Now().Add(s.cfg.TokenLifetime + time.Minute)
	if err := s.cfg.Sessions.RevokeSession(ctx, sessionID, exp); err != nil {
		return unavailable("publish ended session", err)
	}
	return nil
}

// EndAllSessions ends every live session of a user except keep (may be
// empty) and revokes the user's refresh tokens outside keep. It returns
// how many sessions ended.
func (s *Service) EndAllSessions(ctx context.Context, userID, keep string, m Meta, reason string) (int, error) {
	n, err := s.endAllSessions(ctx, userID, keep)
	if err != nil {
		return 0, err
	}
	s.record(ctx, m, "session.ended_all", outcomeSuccess, userID, map[string]any{"sessions_terminated": n,
		"reason": reason, "kept_session": keep})
	return n, nil
}

func (s *Service) endAllSessions(ctx context.Context, userID, keep string) (int, error) {
	now := s.cfg.Now()
	list, err := s.cfg.Store.ListSessions(ctx, userID, now)
	if err != nil {
		return 0, unavailable("list sessions", err)
	}
	if keep == "" {
		n, err := s.cfg.Store.RevokeUserSessions(ctx, userID, now)
		if err != nil {
			return 0, unavailable("end sessions", err)
		}
		if _, err := s.cfg.Store.RevokeUserRefreshTokens(ctx, userID, now); err != nil {
			return 0, unavailable("revoke refresh tokens", err)
		}
		for _, sess := range list {
			if err := s.publishEnded(ctx, sess.ID); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	n := 0
	for _, sess := range list {
		if sess.ID == keep {
			continue
		}
		if _, err := s.cfg.Store.UpdateSession(ctx, sess.ID, func(x store.Session) (store.Session, error) {
			if x.RevokedAt == nil {
				x.RevokedAt = &now
			}
			return x, nil
		}); err != nil {
			return n, unavailable("end session", err)
		}
		if _, err := s.cfg.Store.RevokeSessionRefreshTokens(ctx, sess.ID, now); err != nil {
			return n, unavailable("revoke refresh tokens", err)
		}
		if err := s.publishEnded(ctx, sess.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SessionStats counts sessions: active now, created since midnight UTC,
// expired, and all.
func (s *Service) SessionStats(ctx context.Context) (store.SessionStats, error) {
	now := s.cfg.Now()
	st, err := s.cfg.Store.SessionStats(ctx, now, now.UTC().Truncate(24*time.Hour))
	if err != nil {
		return store.SessionStats{}, unavailable("session stats", err)
	}
	return st, nil
}

// CleanupSessions deletes expired sessions (and their refresh tokens).
func (s *Service) CleanupSessions(ctx context.Context, m Meta) (int, error) {
	n, err := s.cfg.Store.DeleteExpiredSessions(ctx, s.cfg.Now())
	if err != nil {
		return 0, unavailable("delete expired sessions", err)
	}
	s.record(ctx, m, "session.cleanup", outcomeSuccess, "", map[string]any{"sessions_cleaned": n})
	return n, nil
}

// ErrSessionForbidden is the answer for another user's session.
func ErrSessionForbidden() error {
	return web.Errorf(http.StatusForbidden, wire.ErrAccessDenied, "The session belongs to another user")
}
