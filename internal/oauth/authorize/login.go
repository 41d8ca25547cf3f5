package authorize

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// authorize is GET /oauth2/authorize: check the request, then show the
// login page for it.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := parseParams(q)
	if err != nil {
		return err
	}
	req, err := h.validate(r.Context(), p)
	if req != nil && req.redirect != "" {
		if e := paramProblem(q); e != nil {
			err = e
		}
	}
	if ae, ok := errors.AsType[*authzError](err); ok {
		h.record(r, "authorize.refused", audit.Failure, "client", p.ClientID, map[string]any{"error": ae.code})
		h.redirectError(w, r, req, ae)
		return nil
	}
	if err != nil {
		return err
	}
	cookie := h.csrfCookie(w, r)
	sealed, err := h.sign.sealPending(pending{Params: p, Expires: h.now().Add(h.cfg.FormLifetime).Unix()}, cookie)
	if err != nil {
		return err
	}
	h.renderLogin(w, http.StatusOK, req, loginView{Request: sealed, CSRF: h.sign.csrfToken(cookie), Username: p.LoginHint})
	return nil
}

// loginView is what the login template shows besides the client.
type loginView struct {
	Request, CSRF, Username, Error string
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, req *authRequest, v loginView) {
	name := req.client.Name
	if name == "" {
		name = req.client.ClientID
	}
	h.render(w, status, "login.html", map[string]any{
		"ClientName": name, "Action": PathLogin, "Request": v.Request, "CSRF": v.CSRF,
		"Username": v.Username, "Error": v.Error, "Scopes": req.scopes,
	}, req.redirect)
}

// login is POST /oauth2/login: check the form's CSRF token and pending
// request, sign the user in, and send the browser back with a code.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	form, err := web.ParseForm(w, r)
	if err != nil {
		return errBadRequestPage("The sign-in form could not be read.")
	}
	cookie := h.readCookie(r)
	if !h.sign.checkCSRF(cookie, form.Get("csrf_token")) {
		h.record(r, "authorize.csrf_failed", audit.Denied, "", "", nil)
		return errForbidden(errors.New("CSRF token missing or wrong"))
	}
	pend, err := h.sign.openPending(form.Get("request"), cookie, h.now())
	switch {
	case errors.Is(err, errExpiredForm):
		return &pageError{status: http.StatusBadRequest, title: "This sign-in form has expired",
			detail: "Return to the application and start signing in again."}
	case err != nil:
		return errForbidden(fmt.Errorf("pending request: %w", err))
	}
	req, err := h.validate(ctx, pend.Params)
	if ae, ok := errors.AsType[*authzError](err); ok {
		h.redirectError(w, r, req, ae)
		return nil
	}
	if err != nil {
		return err
	}
	ip, ua := web.ClientIP(ctx), truncate(r.UserAgent(), 256)
	if form.Get("action") == "cancel" {
		h.record(r, "authorize.denied", audit.Denied, "client", req.client.ClientID, map[string]any{"reason": "user_cancelled"})
		h.redirectError(w, r, req, &authzError{code: wire.ErrAccessDenied, description: "The user cancelled the sign-in"})
		return nil
	}
	username, password := strings.TrimSpace(form.Get("username")), form.Get("password")
	view := loginView{Request: form.Get("request"), CSRF: form.Get("csrf_token"), Username: truncate(username, maxLoginLen)}
	if username == "" || password == "" || len(username) > maxLoginLen || len(password) > maxPassword {
		view.Error = "Enter your username (or email) and your password."
		h.renderLogin(w, http.StatusBadRequest, req, view)
		return nil
	}
	if lim := h.cfg.Limiter; lim != nil {
		if ok, wait := lim.AllowAuthAttempt(ctx, "ip", ip); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			view.Error = "Too many sign-in attempts from your network. Wait a minute and try again."
			h.renderLogin(w, http.StatusTooManyRequests, req, view)
			return nil
		}
	}
	u, err := h.cfg.Accounts.Authenticate(ctx, username, password, ip, ua)
	if err != nil {
		return h.loginFailed(w, r, req, view, err)
	}
	return h.issueCode(w, r, req, u)
}

// loginFailed shows the login page again with a message for the error
// Authenticate returned. Wrong username and wrong password read the same.
func (h *Handler) loginFailed(w http.ResponseWriter, r *http.Request, req *authRequest, v loginView, err error) error {
	we, ok := web.AsError(err)
	if !ok {
		return fmt.Errorf("authenticate: %w", err)
	}
	status := http.StatusOK
	switch {
	case we.Status == http.StatusServiceUnavailable:
		return errUnavailable(err)
	case we.Code == wire.ErrAccountLocked:
		status = http.StatusLocked
		v.Error = "This account is temporarily locked after too many failed sign-in attempts."
		if until := lockedUntil(we); until != "" {
			v.Error += " Try again after " + until + "."
		} else {
			v.Error += " Try again later."
		}
	case we.Code == wire.ErrAccountDisabled:
		status = http.StatusForbidden
		v.Error = "This account is disabled. Contact your administrator."
	case we.Status == http.StatusTooManyRequests:
		status = http.StatusTooManyRequests
		if ra := we.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		v.Error = "Too many sign-in attempts. Wait a minute and try again."
	default:
		if lim := h.cfg.Limiter; lim != nil {
			lim.FailedAuth(r.Context(), "ip", web.ClientIP(r.Context()))
		}
		v.Error = "The username or password is incorrect."
	}
	h.renderLogin(w, status, req, v)
	return nil
}

// lockedUntil formats the locked_until of an account_locked error, when
// it carries one.
func lockedUntil(e *web.Error) string {
	switch t := e.Extra["locked_until"].(type) {
	case time.Time:
		return t.UTC().Format("15:04 UTC")
	case *time.Time:
		if t != nil {
			return t.UTC().Format("15:04 UTC")
		}
	case string:
		if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return p.UTC().Format("15:04 UTC")
		}
	}
	return ""
}

// issueCode opens the session, stores a single-use code bound to the
// client, redirect URI, PKCE challenge, scopes and audience, and sends the
// browser back to the client with code, state and iss (RFC 9207).
func (h *Handler) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, u *store.User) error {
	ctx := r.Context()
	c := req.client
	scopes := intersect(req.scopes, rbac.UserScopes(u))
	sess, err := h.cfg.Accounts.StartSession(ctx, u, c.ClientID, web.ClientIP(ctx), truncate(r.UserAgent(), 256))
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	code, hash := tokens.NewOpaque(tokens.CodePrefix)
	now := h.now()
	err = h.cfg.Store.CreateAuthCode(ctx, store.AuthCode{
		Hash: hash, ClientID: c.ClientID, UserID: u.ID, SessionID: sess.ID,
		// The redirect_uri as sent (empty when it was omitted), because the
		// token request must repeat it exactly when it was sent (§4.1.3).
		RedirectURI:   req.params.RedirectURI,
		CodeChallenge: req.params.CodeChallenge, CodeChallengeMethod: req.params.CodeChallengeMethod,
		DPoPJKT: req.params.DPoPJKT,
		Scope:   strings.Join(scopes, " "), Audience: req.aud, CreatedAt: now, ExpiresAt: now.Add(h.cfg.CodeLifetime),
	})
	if err != nil {
		return fmt.Errorf("store authorization code: %w", err)
	}
	h.record(r, "authorize.code_issued", audit.Success, "user", u.ID, map[string]any{
		"client_id": c.ClientID, "session_id": sess.ID, "scope": strings.Join(scopes, " ")})
	v := url.Values{"code": {code}, "iss": {h.issuer}}
	if req.params.State != "" {
		v.Set("state", req.params.State)
	}
	redirect(w, r, responseURL(req.redirect, v), http.StatusSeeOther)
	return nil
}

func (h *Handler) cookieName() string {
	if h.cfg.SecureCookies {
		return "__Host-permiso_authz"
	}
	return "permiso_authz"
}

func (h *Handler) readCookie(r *http.Request) string {
	c, err := r.Cookie(h.cookieName())
	if err != nil || len(c.Value) != 43 || !unreserved(c.Value) {
		return ""
	}
	return c.Value
}

// csrfCookie returns the browser's CSRF cookie value, setting a new one
// when it has none, so several open login pages share one.
func (h *Handler) csrfCookie(w http.ResponseWriter, r *http.Request) string {
	v := h.readCookie(r)
	if v == "" {
		v = newCSRFCookie()
	}
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: v, Path: "/", HttpOnly: true,
		Secure: h.cfg.SecureCookies, SameSite: http.SameSiteLaxMode, MaxAge: int(h.cfg.FormLifetime / time.Second)})
	return v
}

func (h *Handler) record(r *http.Request, typ, outcome, actorType, actorID string, details map[string]any) {
	h.cfg.Audit.Record(r.Context(), store.AuditEvent{Type: typ, Outcome: outcome, ActorType: actorType,
		ActorID: truncate(actorID, 128), IP: web.ClientIP(r.Context()), UserAgent: truncate(r.UserAgent(), 256),
		RequestID: web.RequestID(r.Context()), Details: details})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
