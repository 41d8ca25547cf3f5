package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// The delegation rule: nobody grants or acts upon more than they hold.
// Every write of the API that grants scopes or acts on a principal asks
// this file, and nothing else decides it:
//
//   - granting scopes (to a client, a role, or a user through roles) needs
//     every granted scope to be held by the caller;
//   - acting on a client or a user needs every scope the target holds to be
//     held by the caller (a superuser target holds every scope);
//   - the scopes of a role the caller holds are not the caller's to change,
//     and changing or deleting any other role needs its scopes;
//   - creating, renaming or deleting a scope needs the caller to hold it,
//     and the seeded admin:* scopes are never renamed or deleted.
//
// "Held" is wire.HasScope over the caller's token scopes, the rule every
// resource server applies to a token, implied scopes included. Superusers
// hold everything; so does a full administrator, whose token holds every
// scope (the bootstrap client): only such a caller may create a scope that
// nobody holds yet, and the clients holding every scope are given each new
// scope so that they stay full (see fullAdmin and followNewScope).

// caller is the authenticated administrator as the delegation rule sees it.
type caller struct {
	claims    *wire.Claims
	superuser bool
	roleIDs   []string // a user's current roles
}

// callerOf loads what the rule needs beyond the token: whether a user
// caller is a superuser and which roles they hold now (read live, so a
// change counts at once).
func (a *API) callerOf(ctx context.Context, c *wire.Claims) (caller, error) {
	out := caller{claims: c}
	if c.Type != wire.ClaimTypeAccess || !store.IsID(c.Subject) {
		return out, nil
	}
	u, err := a.cfg.Store.GetUser(ctx, c.Subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return out, nil
	case err != nil:
		return out, web.Unavailable(err)
	}
	out.superuser, out.roleIDs = u.Superuser, u.RoleIDs
	return out, nil
}

// lacking returns the scopes of want the caller does not hold.
func (a *API) lacking(ctx context.Context, cl caller, want []string) ([]string, error) {
	if cl.superuser {
		return nil, nil
	}
	missing := wire.MissingScopes(cl.claims.Scopes, want)
	if len(missing) == 0 {
		return nil, nil
	}
	full, err := a.fullAdmin(ctx, cl)
	if err != nil || full {
		return nil, err
	}
	return missing, nil
}

// fullAdmin reports whether the caller holds every scope there is: a
// superuser, a token holding every scope, or a token holding every admin:*
// scope of a client that holds every scope now (the bootstrap client after
// it created a scope: the scope was added to the client, not to the token
// it holds, and that token could get a new one holding it anyway).
func (a *API) fullAdmin(ctx context.Context, cl caller) (bool, error) {
	if cl.superuser {
		return true, nil
	}
	all, err := a.allScopeNames(ctx)
	if err != nil {
		return false, err
	}
	c := cl.claims
	if len(wire.MissingScopes(c.Scopes, all)) == 0 {
		return true, nil
	}
	if c.Type != wire.ClaimTypeService || c.ClientID == "" || len(wire.MissingScopes(c.Scopes, rbac.AdminScopes)) > 0 {
		return false, nil
	}
	client, err := a.cfg.Store.GetClient(ctx, c.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, web.Unavailable(err)
	}
	return len(wire.MissingScopes(client.ScopeNames(), all)) == 0, nil
}

// allScopeNames lists the name of every scope.
func (a *API) allScopeNames(ctx context.Context) ([]string, error) {
	var names []string
	err := eachPage(func(p store.Page) (int, error) {
		page, _, err := a.cfg.Store.ListScopes(ctx, store.ScopeFilter{Page: p})
		for _, s := range page {
			names = append(names, s.Name)
		}
		return len(page), err
	})
	if err != nil {
		return nil, web.Unavailable(err)
	}
	return names, nil
}

// check is the one comparison: it returns nil when the caller holds every
// scope of want, else the 403 built by refusal from what is missing.
func (a *API) check(r *http.Request, c *wire.Claims, want []string, refusal func(missing []string) error) error {
	if len(want) == 0 {
		return nil
	}
	cl, err := a.callerOf(r.Context(), c)
	if err != nil {
		return err
	}
	missing, err := a.lacking(r.Context(), cl, want)
	if err != nil || len(missing) == 0 {
		return err
	}
	return refusal(missing)
}

// mayGrant checks that the caller holds every scope in scopes; what names
// the grantee for the answer ("client x", "role y").
func (a *API) mayGrant(r *http.Request, c *wire.Claims, what string, scopes []string) error {
	return a.check(r, c, scopes, func(missing []string) error {
		return a.refuse(r, c, "grant", what, missing,
			"You cannot grant scopes you do not hold: %s (to %s)", web.QuoteList(missing, 10), what)
	})
}

// mayGrantScopeIDs is mayGrant for scopes given by id.
func (a *API) mayGrantScopeIDs(r *http.Request, c *wire.Claims, what string, ids []string) error {
	names, err := a.scopeNamesOf(r.Context(), ids)
	if err != nil {
		return err
	}
	return a.mayGrant(r, c, what, names)
}

// mayGrantRoles is mayGrant for the scopes of the roles with ids.
func (a *API) mayGrantRoles(r *http.Request, c *wire.Claims, what string, roleIDs []string) error {
	names, err := a.roleScopesOf(r.Context(), roleIDs)
	if err != nil {
		return err
	}
	return a.mayGrant(r, c, what, names)
}

// principal is a client or user an administrator acts upon.
type principal struct {
	kind      string // "client" or "user"
	name      string // client_id or username, for the answer
	scopes    []string
	superuser bool
}

func clientPrincipal(c store.Client) principal {
	return principal{kind: "client", name: c.ClientID, scopes: c.ScopeNames()}
}

func userPrincipal(u store.User) principal {
	return principal{kind: "user", name: u.Username, scopes: rbac.UserScopes(&u), superuser: u.Superuser}
}

// mayActOn checks that the caller holds every scope the target holds.
func (a *API) mayActOn(r *http.Request, c *wire.Claims, t principal) error {
	held := t.scopes
	if t.superuser {
		// A superuser holds every scope, whatever their roles say.
		var err error
		if held, err = a.allScopeNames(r.Context()); err != nil {
			return err
		}
	}
	return a.check(r, c, held, func(missing []string) error {
		return a.refuse(r, c, "act_on_"+t.kind, t.kind+" "+t.name, missing,
			"The %s %s holds scopes you do not hold: %s", t.kind, web.QuoteList([]string{t.name}, 1), web.QuoteList(missing, 10))
	})
}

// mayTouchRole checks that the caller holds every scope of role: renaming,
// changing or deleting a role acts on every holder (a role's name is in
// their tokens too).
func (a *API) mayTouchRole(r *http.Request, c *wire.Claims, role store.Role) error {
	return a.check(r, c, scopeNames(role.Scopes), func(missing []string) error {
		return a.refuse(r, c, "act_on_role", "role "+role.Name, missing,
			"The role %s holds scopes you do not hold: %s", web.QuoteList([]string{role.Name}, 1), web.QuoteList(missing, 10))
	})
}

// mayChangeRoleScopes refuses changing the scopes of a role the caller
// holds (that would change the caller's own scopes, as changing one's own
// roles would), and otherwise needs the role's current and new scopes.
func (a *API) mayChangeRoleScopes(r *http.Request, c *wire.Claims, role store.Role, newScopes []string) error {
	cl, err := a.callerOf(r.Context(), c)
	if err != nil {
		return err
	}
	if !cl.superuser && (slices.Contains(cl.roleIDs, role.ID) || slices.Contains(c.Roles, role.Name)) {
		a.record(r.Context(), a.event(r, c, "authz.denied", audit.Denied, role.Name,
			map[string]any{"rule": "delegation", "action": "own_role_scopes", "role_id": role.ID}))
		return web.Forbidden(wire.ErrForbidden, "You cannot change the scopes of the role %s: you hold it yourself",
			web.QuoteList([]string{role.Name}, 1))
	}
	if err := a.mayTouchRole(r, c, role); err != nil {
		return err
	}
	return a.mayGrant(r, c, "role "+role.Name, newScopes)
}

// mayManageScope checks a scope's creation, change, rename or deletion:
// it acts on every holder, so the caller must hold every name involved.
// The seeded admin:* scopes keep their names: the API's own authorisation
// depends on them.
func (a *API) mayManageScope(r *http.Request, c *wire.Claims, action string, old *store.Scope, names ...string) error {
	if old != nil && slices.Contains(rbac.AdminScopes, old.Name) && (action == "delete" || action == "rename") {
		a.record(r.Context(), a.event(r, c, "authz.denied", audit.Denied, old.Name,
			map[string]any{"rule": "seeded_scope", "action": action}))
		return web.Forbidden(wire.ErrForbidden, "The scope %s is one of Permiso's own admin scopes: it cannot be renamed or deleted",
			web.QuoteList([]string{old.Name}, 1))
	}
	return a.check(r, c, names, func(missing []string) error {
		return a.refuse(r, c, action+"_scope", "scope "+names[0], missing,
			"Only a holder of a scope may %s it; you do not hold %s", action, web.QuoteList(missing, 10))
	})
}

// fullClients returns the clients that hold every scope except, when
// given, the scope with id except: the bootstrap client and the console's
// client as created. A scope created later is added to them and a scope
// deleted is taken from them, so they stay full administrators (the
// console's tokens carry a signed-in user's scopes only as far as its
// client holds them).
func (a *API) fullClients(ctx context.Context, except string) ([]store.Client, error) {
	var need []string
	err := eachPage(func(p store.Page) (int, error) {
		page, _, err := a.cfg.Store.ListScopes(ctx, store.ScopeFilter{Page: p})
		for _, s := range page {
			if s.ID != except {
				need = append(need, s.ID)
			}
		}
		return len(page), err
	})
	if err != nil {
		return nil, web.Unavailable(err)
	}
	if len(need) == 0 {
		return nil, nil
	}
	// A full client holds any one scope: list the holders of one.
	var out []store.Client
	err = eachPage(func(p store.Page) (int, error) {
		page, _, err := a.cfg.Store.ListClients(ctx, store.ClientFilter{Page: p, ScopeID: need[0]})
		for _, c := range page {
			if !slices.ContainsFunc(need, func(id string) bool { return !slices.Contains(c.ScopeIDs, id) }) {
				out = append(out, c)
			}
		}
		return len(page), err
	})
	if err != nil {
		return nil, web.Unavailable(err)
	}
	return out, nil
}

// followNewScope gives a scope just created to every full client.
func (a *API) followNewScope(r *http.Request, c *wire.Claims, created store.Scope) error {
	full, err := a.fullClients(r.Context(), created.ID)
	if err != nil {
		return err
	}
	for _, fc := range full {
		if err := a.setClientScope(r, c, fc.ClientID, created, true); err != nil {
			return err
		}
	}
	return nil
}

// setClientScope adds (or removes) s to the client clientID, audited.
func (a *API) setClientScope(r *http.Request, c *wire.Claims, clientID string, s store.Scope, add bool) error {
	_, err := a.cfg.Store.UpdateClient(r.Context(), clientID, func(cl store.Client) (store.Client, error) {
		ids := slices.DeleteFunc(slices.Clone(cl.ScopeIDs), func(id string) bool { return id == s.ID })
		if add {
			ids = append(ids, s.ID)
		}
		cl.ScopeIDs = ids
		return cl, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return web.Unavailable(err)
	}
	change := map[bool]string{true: "added", false: "removed"}[add]
	a.record(r.Context(), a.event(r, c, "client.scopes_updated", audit.Success, clientID,
		map[string]any{change: []string{s.Name}, "reason": "the client holds every scope"}))
	return nil
}

// refuse audits a delegation refusal and returns the 403 naming the
// missing scopes.
func (a *API) refuse(r *http.Request, c *wire.Claims, action, target string, missing []string, format string, args ...any) error {
	a.record(r.Context(), a.event(r, c, "authz.denied", audit.Denied, truncateUA(target),
		map[string]any{"rule": "delegation", "action": action, "missing_scopes": missing, "path": r.URL.Path}))
	return web.Forbidden(wire.ErrInsufficientScope, format, args...).With("missing_scopes", missing)
}

// scopeNamesOf returns the names of the scopes with ids, in order.
func (a *API) scopeNamesOf(ctx context.Context, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		s, err := a.cfg.Store.GetScope(ctx, id)
		if err != nil {
			return nil, storeErr(err, scopeNotFound, "")
		}
		out = append(out, s.Name)
	}
	return out, nil
}

// roleScopesOf returns the union of the scopes of the roles with ids.
func (a *API) roleScopesOf(ctx context.Context, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		role, err := a.cfg.Store.GetRole(ctx, id)
		if err != nil {
			return nil, storeErr(err, roleNotFound, "")
		}
		for _, s := range role.Scopes {
			if !slices.Contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	return out, nil
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
