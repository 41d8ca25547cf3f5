package api

import (
	"context"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// PeopleConfig is what the people endpoints (users, logins, sessions,
// permission checks, admin) need beyond the rest of the API's Config.
type PeopleConfig struct {
	Accounts *account.Service
	Tokens   *oauth.UserTokens
	// Started is when the server started, for uptime.
	Started time.Time
	// Checks are extra health checks by component name, run by
	// GET /api/v1/admin/system/health next to the database and keys.
	Checks map[string]func(context.Context) error
}

// people serves the endpoints about people; it shares the API's helpers.
type people struct {
	*API
	pc PeopleConfig
}

// mountPeople registers the people endpoints: the original's login,
// refresh and logout, users, user roles, sessions, permission checks and
// admin reports.
func (a *API) mountPeople(mux *http.ServeMux) {
	p := &people{API: a, pc: a.cfg.People}
	p.mountLogin(mux)
	p.mountUsers(mux)
	p.mountUserRoles(mux)
	p.mountSessions(mux)
	p.mountPermissions(mux)
	p.mountAdmin(mux)
}

func (p *people) mountLogin(mux *http.ServeMux) {
	p.handle(mux, "POST /api/v1/auth/token", p.login)
	p.handle(mux, "POST /api/v1/auth/refresh", p.refresh)
	p.handle(mux, "POST /api/v1/auth/logout", p.logout)
}

// login is the original's password login: a form with username (or
// email), password and an optional scope; client_id and client_secret are
// ignored. Tokens are issued to the first-party client.
func (p *people) login(w http.ResponseWriter, r *http.Request) error {
	form, err := web.ParseForm(w, r)
	if err != nil {
		return AuthError(err)
	}
	if g := form.Get("grant_type"); g != "" && g != wire.GrantPassword {
		return AuthError(web.Errorf(http.StatusBadRequest, wire.ErrUnsupportedGrantType, "This endpoint accepts only the password grant"))
	}
	var problems web.Fields
	if form.Get("username") == "" {
		problems.Addf("username: field required")
	}
	if form.Get("password") == "" {
		problems.Addf("password: field required")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	form.Set("grant_type", wire.GrantPassword)
	form.Del("client_id")
	form.Del("client_secret")
	r.Header.Del("Authorization")
	req, err := oauth.ParseTokenRequest(r, form)
	if err != nil {
		return AuthError(err)
	}
	res, err := p.pc.Tokens.Login(r.Context(), req)
	if err != nil {
		return AuthError(err)
	}
	oauth.WriteToken(w, OriginalToken(res))
	return nil
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh is the original's refresh: JSON {refresh_token}. Every failure
// is 401 invalid_grant in the E-AUTH envelope.
func (p *people) refresh(w http.ResponseWriter, r *http.Request) error {
	var body refreshBody
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.RefreshToken == "" {
		return web.Invalid("refresh_token: field required")
	}
	req := &oauth.TokenRequest{GrantType: wire.GrantRefreshToken, RefreshToken: body.RefreshToken,
		IP: web.ClientIP(r.Context()), UserAgent: truncateUA(r.UserAgent()), RequestID: web.RequestID(r.Context())}
	res, err := p.pc.Tokens.Refresh(r.Context(), req, nil)
	if err != nil {
		if e, ok := web.AsError(err); ok && e.Code == wire.ErrInvalidGrant {
			out := *e
			out.Status = http.StatusUnauthorized
			return AuthError(&out)
		}
		return AuthError(err)
	}
	oauth.WriteToken(w, OriginalToken(res))
	return nil
}

// logout revokes the caller's access token, ends its session and revokes
// the session's refresh tokens. The user's other sessions (other devices)
// stay; DELETE /api/v1/sessions ends them all.
func (p *people) logout(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireUser(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := p.cfg.Revocations.Revoke(ctx, c.ID, time.Unix(c.Expiry, 0)); err != nil {
		return web.Unavailable(err)
	}
	n := 0
	if c.SessionID != "" {
		live, err := p.pc.Accounts.EndSession(ctx, c.SessionID, p.meta(r, c), "logout")
		if err != nil {
			if e, ok := web.AsError(err); !ok || e.Status >= 500 {
				return err
			}
		}
		if live {
			n = 1
		}
	}
	p.record(ctx, p.event(r, c, "auth.logout", "success", c.Subject, map[string]any{"session_id": c.SessionID, "jti": c.ID}))
	web.WriteJSON(w, http.StatusOK, map[string]any{"message": "Logged out successfully", "sessions_terminated": n})
	return nil
}

func truncateUA(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}
