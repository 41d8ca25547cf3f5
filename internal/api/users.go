package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Users are addressed by UUID. The literal paths (/me, /profile,
// /register, /stats/overview, /password-reset/..., /email-verification/...)
// are more specific than /{id}, so each is reachable.
func (p *people) mountUsers(mux *http.ServeMux) {
	p.handle(mux, "POST /api/v1/users/register", p.register)
	p.handle(mux, "GET /api/v1/users", p.listUsers)
	p.handle(mux, "POST /api/v1/users", p.createUser)
	p.handle(mux, "GET /api/v1/users/stats/overview", p.userStats)
	for _, me := range []string{"me", "profile"} {
		p.handle(mux, "GET /api/v1/users/"+me, p.getMe)
		p.handle(mux, "PUT /api/v1/users/"+me, p.updateMe)
	}
	p.handle(mux, "POST /api/v1/users/password-reset/request", p.resetRequest)
	p.handle(mux, "POST /api/v1/users/password-reset/confirm", p.resetConfirm)
	p.handle(mux, "POST /api/v1/users/email-verification/request", p.verifyRequest)
	p.handle(mux, "POST /api/v1/users/email-verification/confirm", p.verifyConfirm)
	p.handle(mux, "GET /api/v1/users/{id}", p.getUser)
	p.handle(mux, "PUT /api/v1/users/{id}", p.updateUser)
	p.handle(mux, "DELETE /api/v1/users/{id}", p.deleteUser)
	p.handle(mux, "PUT /api/v1/users/{id}/password", p.changePassword)
	p.handle(mux, "POST /api/v1/users/{id}/unlock", p.unlockUser)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func newUserResponse(u store.User, now time.Time) apitype.User {
	out := apitype.User{ID: u.ID, Username: u.Username, Email: u.Email, FirstName: nullable(u.FirstName),
		LastName: nullable(u.LastName), DisplayName: nullable(u.DisplayName), Bio: nullable(u.Bio),
		IsActive: u.Active, IsVerified: u.Verified, IsSuperuser: u.Superuser, IsLocked: account.Locked(&u, now),
		FailedLoginAttempts: u.FailedLoginAttempts, LastLogin: u.LastLogin, PasswordChangedAt: u.PasswordChangedAt,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Roles: []apitype.RoleBrief{}, Scopes: rbac.UserScopes(&u),
		Lockouts: []apitype.Lockout{}}
	if out.IsLocked {
		out.LockedUntil = u.LockedUntil
	}
	for _, l := range u.LoginSources {
		if l.LockedUntil != nil && l.LockedUntil.After(now) {
			out.Lockouts = append(out.Lockouts, apitype.Lockout{Source: l.Source, LockedUntil: *l.LockedUntil})
		}
	}
	switch full := strings.TrimSpace(u.FirstName + " " + u.LastName); {
	case full != "":
		out.FullName = full
	case u.DisplayName != "":
		out.FullName = u.DisplayName
	default:
		out.FullName = u.Username
	}
	for _, r := range u.Roles {
		out.Roles = append(out.Roles, apitype.RoleBrief{ID: r.ID, Name: r.Name, Description: r.Description})
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	out.ScopeNames = out.Scopes
	return out
}

func (p *people) writeUser(w http.ResponseWriter, status int, u store.User) {
	web.WriteJSON(w, status, newUserResponse(u, p.cfg.Now()))
}

// requireUser authenticates a user token: service tokens are refused (the
// user-state and session checks ran in VerifyAccess).
func (p *people) requireUser(r *http.Request) (*wire.Claims, error) {
	c, err := p.authenticate(r)
	if err != nil {
		return nil, err
	}
	if c.Type != wire.ClaimTypeAccess {
		return nil, web.Unauthorized(realm, true, "This endpoint requires a user's access token")
	}
	return c, nil
}

// isAdmin reports whether the caller holds scope (directly or implied) or,
// for user administration, is a superuser.
func (p *people) isAdmin(ctx context.Context, c *wire.Claims, scope string) (bool, error) {
	if wire.HasScope(c.Scopes, scope) {
		return true, nil
	}
	if scope != "admin:users" || c.Type != wire.ClaimTypeAccess || !store.IsID(c.Subject) {
		return false, nil
	}
	u, err := p.cfg.Store.GetUser(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, web.Unavailable(err)
	}
	return u.Superuser, nil
}

// requireAdmin authenticates the caller and requires scope (superusers
// pass admin:users). A missing scope is 403 insufficient_scope, audited.
func (p *people) requireAdmin(r *http.Request, scope string) (*wire.Claims, error) {
	c, err := p.authenticate(r)
	if err != nil {
		return nil, err
	}
	ok, err := p.isAdmin(r.Context(), c, scope)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.denied(r, c, scope)
	}
	return c, nil
}

func (p *people) denied(r *http.Request, c *wire.Claims, scope string) error {
	p.record(r.Context(), p.event(r, c, "authz.denied", audit.Denied, "", map[string]any{"required_scope": scope, "path": r.URL.Path}))
	return web.Forbidden(wire.ErrInsufficientScope, "This request requires the %s scope", scope).
		WithHeader("WWW-Authenticate", `Bearer realm="permiso", error="insufficient_scope", scope="`+scope+`"`).
		With("required_scopes", []string{scope})
}

// selfOrAdmin authenticates a user token whose subject is the path's {id},
// or an administrator of users. It returns the claims and whether the
// caller is that user.
func (p *people) selfOrAdmin(r *http.Request) (*wire.Claims, string, bool, error) {
	c, err := p.authenticate(r)
	if err != nil {
		return nil, "", false, err
	}
	id := strings.ToLower(r.PathValue("id"))
	self := c.Type == wire.ClaimTypeAccess && c.Subject == id
	if self {
		return c, id, true, nil
	}
	ok, err := p.isAdmin(r.Context(), c, "admin:users")
	if err != nil {
		return nil, "", false, err
	}
	if !ok {
		p.record(r.Context(), p.event(r, c, "authz.denied", audit.Denied, truncateUA(id), map[string]any{"required_scope": "admin:users", "path": r.URL.Path}))
		return nil, "", false, web.Forbidden(wire.ErrForbidden, "Access denied: you may only access your own account (other accounts need the admin:users scope)").
			With("required_scopes", []string{"admin:users"})
	}
	return c, id, false, nil
}

// meta is the audit context of an account action by c.
func (p *people) meta(r *http.Request, c *wire.Claims) account.Meta {
	m := account.Meta{IP: web.ClientIP(r.Context()), UserAgent: truncateUA(r.UserAgent()), RequestID: web.RequestID(r.Context()), ActorType: "anonymous"}
	if c != nil {
		m.ActorID, m.ActorType = c.Subject, "user"
		if c.Type == wire.ClaimTypeService {
			m.ActorType = "client"
		}
	}
	return m
}

// newUser turns the API's creation body into the account package's.
func newUser(in apitype.UserCreate) account.NewUser {
	return account.NewUser{Username: in.Username, Email: in.Email, Password: in.Password, FirstName: in.FirstName,
		LastName: in.LastName, DisplayName: in.DisplayName, Bio: in.Bio, Active: in.IsActive == nil || *in.IsActive,
		Verified: in.IsVerified != nil && *in.IsVerified}
}

// register is public self-registration: active, unverified, default role.
// Choosing one's own roles or verified flag is refused (403). Attempts
// are limited per client address.
func (p *people) register(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if lim := p.cfg.Limiter; lim != nil {
		ip := web.ClientIP(ctx)
		if ok, wait := lim.AllowAuthAttempt(ctx, "register", ip); !ok {
			p.record(ctx, p.event(r, nil, "user.register_limited", audit.Denied, "", nil))
			return web.TooManyRequests(int((wait + time.Second - 1) / time.Second))
		}
		lim.FailedAuth(ctx, "register", ip) // every attempt counts
	}
	var in apitype.UserCreate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.RoleIDs != nil && len(*in.RoleIDs) > 0 {
		return account.ErrForbiddenSelf("roles")
	}
	if in.IsVerified != nil && *in.IsVerified || in.IsActive != nil && !*in.IsActive {
		return account.ErrForbiddenSelf("active or verified flags")
	}
	u, err := p.pc.Accounts.Register(ctx, newUser(in), p.meta(r, nil))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusCreated, u)
	return nil
}

// createUser is an administrator's creation, with flags and roles (by id
// or name).
func (p *people) createUser(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireAdmin(r, "admin:users")
	if err != nil {
		return err
	}
	var in apitype.UserCreate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	nu := newUser(in)
	if in.RoleIDs != nil {
		if nu.RoleIDs, err = p.resolveRoles(r.Context(), *in.RoleIDs); err != nil {
			return err
		}
		if err := p.mayGrantRoles(r, c, "user "+in.Username, nu.RoleIDs); err != nil {
			return err
		}
	}
	u, err := p.pc.Accounts.Create(r.Context(), nu, p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusCreated, u)
	return nil
}

// resolveRoles turns role ids or names into ids; unknown ones are one 422.
func (p *people) resolveRoles(ctx context.Context, refs []string) ([]string, error) {
	if len(refs) > account.MaxRoles {
		return nil, web.Invalid("role_ids: at most %d roles", account.MaxRoles)
	}
	ids := []string{}
	var unknown []string
	for _, ref := range refs {
		role, err := p.findRole(ctx, strings.TrimSpace(ref))
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, ref)
		case err != nil:
			return nil, web.Unavailable(err)
		default:
			ids = append(ids, role.ID)
		}
	}
	if len(unknown) > 0 {
		return nil, web.Invalid("role_ids: unknown roles %s (give role names or ids)", web.QuoteList(unknown, 10))
	}
	return ids, nil
}

func (p *people) listUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:users"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	f := store.UserFilter{Search: searchParam(q, &problems), Active: boolParam(q, "is_active", &problems),
		Verified: boolParam(q, "is_verified", &problems)}
	paging := parseListPaging(q, &problems)
	if ref := q.Get("role_id"); ref != "" {
		role, err := p.findRole(r.Context(), ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			problems.Addf("role_id: unknown role %s", web.QuoteList([]string{ref}, 10))
		case err != nil:
			return web.Unavailable(err)
		default:
			f.RoleID = role.ID
		}
	}
	if err := problems.Err(); err != nil {
		return err
	}
	f.Page = paging.store()
	users, total, err := p.cfg.Store.ListUsers(r.Context(), f)
	if err != nil {
		return web.Unavailable(err)
	}
	now := p.cfg.Now()
	out := make([]apitype.User, len(users))
	for i, u := range users {
		out[i] = newUserResponse(u, now)
	}
	web.WriteJSON(w, http.StatusOK, apitype.UserList{Paging: paging.page(total), Users: out})
	return nil
}

func (p *people) userStats(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:users"); err != nil {
		return err
	}
	st, err := p.cfg.Store.UserStats(r.Context(), p.cfg.Now())
	if err != nil {
		return web.Unavailable(err)
	}
	web.WriteJSON(w, http.StatusOK, map[string]int{"total_users": st.Total, "active_users": st.Active,
		"verified_users": st.Verified, "locked_users": st.Locked, "recent_registrations": st.RecentRegistrations})
	return nil
}
