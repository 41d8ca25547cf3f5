package api

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Roles are addressed by UUID or by name. The literal /stats and /defaults
// are more specific than {role}, so they are reachable (the original
// shadowed them); a role literally named "stats" is reachable by its id.
//
// PUT /roles/{role}/scopes is registered as /roles/{role}/{sub}: the
// narrower /roles/{role}/scopes would overlap /roles/scopes/{scope} with
// neither more specific, which ServeMux refuses at registration.
func (a *API) mountRoles(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/roles", a.listRoles)
	a.handle(mux, "POST /api/v1/roles", a.createRole)
	a.handle(mux, "GET /api/v1/roles/stats", a.roleStats)
	a.handle(mux, "GET /api/v1/roles/defaults", a.roleDefaults)
	a.handle(mux, "GET /api/v1/roles/{role}", a.getRole)
	a.handle(mux, "PUT /api/v1/roles/{role}", a.updateRole)
	a.handle(mux, "DELETE /api/v1/roles/{role}", a.deleteRole)
	a.handle(mux, "PUT /api/v1/roles/{role}/{sub}", a.setRoleScopes)
}

const roleNotFound = "Role"

// newRoleResponse is the API form of r, held by users users.
func newRoleResponse(r store.Role, users int) apitype.Role {
	return apitype.Role{ID: r.ID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Scopes: briefScopes(r.Scopes), UserCount: users}
}

// writeRole answers one role with its user count.
func (a *API) writeRole(w http.ResponseWriter, r *http.Request, status int, role store.Role) error {
	counts, err := a.cfg.Store.RoleUserCounts(r.Context())
	if err != nil {
		return web.Unavailable(err)
	}
	web.WriteJSON(w, status, newRoleResponse(role, counts[role.ID]))
	return nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	paging := parseListPaging(q, &problems)
	f := store.RoleFilter{Page: paging.store(), Search: searchParam(q, &problems)}
	scopeID, err := a.scopeFilterRef(r.Context(), q, &problems)
	if err != nil {
		return err
	}
	f.ScopeID = scopeID
	if err := problems.Err(); err != nil {
		return err
	}
	roles, total, err := a.cfg.Store.ListRoles(r.Context(), f)
	if err != nil {
		return web.Unavailable(err)
	}
	counts, err := a.cfg.Store.RoleUserCounts(r.Context())
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]apitype.Role, len(roles))
	for i, role := range roles {
		out[i] = newRoleResponse(role, counts[role.ID])
	}
	web.WriteJSON(w, http.StatusOK, apitype.RoleList{Paging: paging.page(total), Roles: out})
	return nil
}

// roleInput is the body of POST and PUT (apitype.RoleFields).
type roleInput apitype.RoleFields

// applyRole validates in (resolving scope references) and applies it to role.
func (a *API) applyRole(r *http.Request, in roleInput, role *store.Role, creating bool) error {
	var problems web.Fields
	switch {
	case in.Name != nil:
		role.Name = *in.Name
		if n := utf8.RuneCountInString(role.Name); n < 2 || n > 50 {
			problems.Addf("name must be 2 to 50 characters")
		} else if strings.TrimSpace(role.Name) != role.Name || !utf8.ValidString(role.Name) || strings.ContainsFunc(role.Name, func(c rune) bool {
			return c == '/' || !unicode.IsPrint(c)
		}) {
			// Names appear in paths (/roles/{role}); keep them printable
			// and slash-free so every role can be addressed by name.
			problems.Addf("name must be printable, without '/' or surrounding spaces")
		}
	case creating:
		problems.Addf("name is required")
	}
	if in.Description != nil {
		role.Description = *in.Description
		if utf8.RuneCountInString(role.Description) > 500 || !web.PlainText(role.Description, true) {
			problems.Addf("description must be at most 500 characters of text")
		}
	}
	if in.ScopeIDs != nil {
		ids, err := a.resolveScopeRefs(r.Context(), "scope_ids", *in.ScopeIDs, &problems)
		if err != nil {
			return err
		}
		role.ScopeIDs = ids
	}
	return problems.Err()
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	var in roleInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	role := store.Role{ScopeIDs: []string{}}
	if err := a.applyRole(r, in, &role, true); err != nil {
		return err
	}
	if err := a.mayGrantScopeIDs(r, c, "role "+role.Name, role.ScopeIDs); err != nil {
		return err
	}
	role, err = a.cfg.Store.CreateRole(r.Context(), role)
	if err != nil {
		return storeErr(err, roleNotFound, "Role name already exists")
	}
	a.record(r.Context(), a.event(r, c, "role.created", audit.Success, role.Name,
		map[string]any{"role_id": role.ID, "scopes": scopeNames(role.Scopes)}))
	return a.writeRole(w, r, http.StatusCreated, role)
}

func scopeNames(scopes []store.Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = s.Name
	}
	return out
}

func (a *API) pathRole(r *http.Request) (store.Role, error) {
	role, err := a.findRole(r.Context(), r.PathValue("role"))
	if err != nil {
		return store.Role{}, storeErr(err, roleNotFound, "")
	}
	return role, nil
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	role, err := a.pathRole(r)
	if err != nil {
		return err
	}
	return a.writeRole(w, r, http.StatusOK, role)
}

func (a *API) updateRole(w http.ResponseWriter, r *http.Request) error {
	var in roleInput
	return a.changeRole(w, r, "role.updated", func() error { return web.DecodeJSON(w, r, &in) }, &in)
}

// setRoleScopes is PUT /roles/{role}/scopes: {scope_ids} replaces the set.
func (a *API) setRoleScopes(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("sub") != "scopes" {
		return web.Errorf(http.StatusNotFound, wire.ErrNotFound, "No route for %s %s", r.Method, web.QuoteList([]string{r.URL.Path}, 10))
	}
	var body struct {
		ScopeIDs *[]string `json:"scope_ids"`
	}
	in := roleInput{}
	return a.changeRole(w, r, "role.scopes_updated", func() error {
		if err := web.DecodeJSON(w, r, &body); err != nil {
			return err
		}
		if body.ScopeIDs == nil {
			return web.Invalid("scope_ids is required (a list of scope names or ids; [] removes every scope)")
		}
		in.ScopeIDs = body.ScopeIDs
		return nil
	}, &in)
}

// changeRole authorises, loads the path's role, decodes the body into in
// and applies it in one store transaction.
func (a *API) changeRole(w http.ResponseWriter, r *http.Request, event string, decode func() error, in *roleInput) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	role, err := a.pathRole(r)
	if err != nil {
		return err
	}
	if err := decode(); err != nil {
		return err
	}
	// Validate and resolve scopes before the transaction, so the lookups
	// do not run while the row is locked.
	probe := role
	if err := a.applyRole(r, *in, &probe, false); err != nil {
		return err
	}
	if in.ScopeIDs != nil {
		names, err := a.scopeNamesOf(r.Context(), probe.ScopeIDs)
		if err != nil {
			return err
		}
		if err := a.mayChangeRoleScopes(r, c, role, names); err != nil {
			return err
		}
	} else if err := a.mayTouchRole(r, c, role); err != nil {
		return err
	}
	checked := role.ScopeIDs
	role, err = a.cfg.Store.UpdateRole(r.Context(), role.ID, func(old store.Role) (store.Role, error) {
		if !sameSet(old.ScopeIDs, checked) {
			// The scopes the rule was checked against changed meanwhile.
			return old, web.Conflict("The role changed while this request was checked; try again")
		}
		if in.Name != nil {
			old.Name = probe.Name
		}
		if in.Description != nil {
			old.Description = probe.Description
		}
		if in.ScopeIDs != nil {
			old.ScopeIDs = probe.ScopeIDs
		}
		return old, nil
	})
	if err != nil {
		if _, ok := web.AsError(err); ok {
			return err
		}
		return storeErr(err, roleNotFound, "Role name already exists")
	}
	a.record(r.Context(), a.event(r, c, event, audit.Success, role.Name,
		map[string]any{"role_id": role.ID, "scopes": scopeNames(role.Scopes)}))
	return a.writeRole(w, r, http.StatusOK, role)
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	role, err := a.pathRole(r)
	if err != nil {
		return err
	}
	if err := a.mayTouchRole(r, c, role); err != nil {
		return err
	}
	if err := a.cfg.Store.DeleteRole(r.Context(), role.ID); err != nil {
		return storeErr(err, roleNotFound, "Role is assigned to users; remove it from them first")
	}
	a.record(r.Context(), a.event(r, c, "role.deleted", audit.Success, role.Name, map[string]any{"role_id": role.ID}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
