package api

import (
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Sessions: users list, renew and end their own; holders of admin:sessions
// may end or renew anyone's, and see stats and clean up. Ending a session
// revokes its refresh tokens, and its access tokens fail the session check.
func (p *people) mountSessions(mux *http.ServeMux) {
	p.handle(mux, "GET /api/v1/sessions", p.listSessions)
	p.handle(mux, "DELETE /api/v1/sessions", p.endAllSessions)
	p.handle(mux, "GET /api/v1/sessions/stats", p.sessionStats)
	p.handle(mux, "POST /api/v1/sessions/cleanup", p.cleanupSessions)
	p.handle(mux, "POST /api/v1/sessions/{id}/renew", p.renewSession)
	p.handle(mux, "DELETE /api/v1/sessions/{id}", p.endSession)
}

func (p *people) listSessions(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireUser(r)
	if err != nil {
		return err
	}
	list, err := p.pc.Accounts.Sessions(r.Context(), c.Subject)
	if err != nil {
		return err
	}
	out := make([]apitype.Session, len(list))
	for i, s := range list {
		out[i] = apitype.Session{SessionID: s.ID, UserID: s.UserID, Username: c.Username, ClientID: s.ClientID,
			IPAddress: s.IP, UserAgent: s.UserAgent, CreatedAt: s.CreatedAt, LastActivity: s.LastActivity,
			ExpiresAt: s.ExpiresAt, Current: s.ID == c.SessionID}
	}
	web.WriteJSON(w, http.StatusOK, apitype.SessionList{Sessions: out, Total: len(out)})
	return nil
}

// ownSession loads the path's session and checks that the caller owns it
// or holds admin:sessions: 404 for unknown ids, 403 for another's.
func (p *people) ownSession(r *http.Request) (*wire.Claims, store.Session, error) {
	c, err := p.authenticate(r)
	if err != nil {
		return nil, store.Session{}, err
	}
	admin := wire.HasScope(c.Scopes, "admin:sessions")
	if c.Type != wire.ClaimTypeAccess && !admin {
		// A service has no sessions of its own: it needs the admin scope.
		return nil, store.Session{}, p.denied(r, c, "admin:sessions")
	}
	s, err := p.pc.Accounts.Session(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, store.Session{}, err
	}
	if s.UserID != c.Subject && !admin {
		p.record(r.Context(), p.event(r, c, "authz.denied", "denied", s.UserID, map[string]any{"session_id": s.ID}))
		return nil, store.Session{}, web.Forbidden(wire.ErrAccessDenied, "The session belongs to another user")
	}
	if s.UserID != c.Subject {
		// An administrator ending or renewing someone's session acts on them.
		if _, err := p.targetUser(r, c, s.UserID); err != nil {
			return nil, store.Session{}, err
		}
	}
	return c, s, nil
}

func (p *people) renewSession(w http.ResponseWriter, r *http.Request) error {
	c, s, err := p.ownSession(r)
	if err != nil {
		return err
	}
	s, err = p.pc.Accounts.RenewSession(r.Context(), s.ID, p.meta(r, c))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": "Session renewed successfully", "session_id": s.ID, "expires_at": s.ExpiresAt})
	return nil
}

func (p *people) endSession(w http.ResponseWriter, r *http.Request) error {
	c, s, err := p.ownSession(r)
	if err != nil {
		return err
	}
	if _, err := p.pc.Accounts.EndSession(r.Context(), s.ID, p.meta(r, c), "ended_by_request"); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": "Session invalidated successfully", "session_id": s.ID})
	return nil
}

// endAllSessions ends every session of the caller, the current one
// included, and revokes the caller's access token.
func (p *people) endAllSessions(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireUser(r)
	if err != nil {
		return err
	}
	n, err := p.pc.Accounts.EndAllSessions(r.Context(), c.Subject, "", p.meta(r, c), "ended_by_request")
	if err != nil {
		return err
	}
	if err := p.cfg.Revocations.Revoke(r.Context(), c.ID, time.Unix(c.Expiry, 0)); err != nil {
		return web.Unavailable(err)
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": "All sessions invalidated successfully", "sessions_terminated": n})
	return nil
}

func (p *people) sessionStats(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:sessions"); err != nil {
		return err
	}
	st, err := p.pc.Accounts.SessionStats(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, apitype.SessionStats{Active: st.Active, CreatedToday: st.CreatedSince,
		Expired: st.Expired, Total: st.Total})
	return nil
}

func (p *people) cleanupSessions(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireAdmin(r, "admin:sessions")
	if err != nil {
		return err
	}
	n, err := p.pc.Accounts.CleanupSessions(r.Context(), p.meta(r, c))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, apitype.SessionsCleaned{Message: "Expired sessions cleaned up", Cleaned: n})
	return nil
}
