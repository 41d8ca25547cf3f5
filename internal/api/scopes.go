package api

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// Scopes live under /api/v1/roles/scopes, as in the original, and are
// addressed by UUID or by name. The literal "scopes" segment is more
// specific than the roles' {role} wildcard, so ServeMux routes
// /api/v1/roles/scopes here in both slash forms (the original shadowed it).
func (a *API) mountScopes(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/roles/scopes", a.listScopes)
	a.handle(mux, "POST /api/v1/roles/scopes", a.createScope)
	a.handle(mux, "GET /api/v1/roles/scopes/{scope}", a.getScope)
	a.handle(mux, "PUT /api/v1/roles/scopes/{scope}", a.updateScope)
	a.handle(mux, "DELETE /api/v1/roles/scopes/{scope}", a.deleteScope)
}

const scopeNotFound = "Scope"

// scopeResponse is the API form of s with its role count.
func (a *API) scopeResponse(r *http.Request, s store.Scope) (apitype.Scope, error) {
	roles, _, err := a.cfg.Store.ScopeUsage(r.Context(), s.ID)
	if err != nil {
		return apitype.Scope{}, web.Unavailable(err)
	}
	return apitype.Scope{ID: s.ID, Name: s.Name, Description: s.Description, Resource: s.Resource, Action: rbac.Action(s.Name),
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, RoleCount: roles}, nil
}

func (a *API) listScopes(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	paging := parseListPaging(q, &problems)
	f := store.ScopeFilter{Page: paging.store(), Search: searchParam(q, &problems), Resource: q.Get("resource"), Action: q.Get("action")}
	if len(f.Resource) > 50 || len(f.Action) > 50 || !web.PlainText(f.Resource, false) || !web.PlainText(f.Action, false) {
		problems.Addf("resource and action filters must be at most 50 characters of plain text")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	scopes, total, err := a.cfg.Store.ListScopes(r.Context(), f)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]apitype.Scope, 0, len(scopes))
	for _, s := range scopes {
		sr, err := a.scopeResponse(r, s)
		if err != nil {
			return err
		}
		out = append(out, sr)
	}
	web.WriteJSON(w, http.StatusOK, apitype.ScopeList{Paging: paging.page(total), Scopes: out})
	return nil
}

// scopeInput is the body of POST and PUT (apitype.ScopeFields).
type scopeInput apitype.ScopeFields

// apply validates in and applies it to s. creating says whether the name
// is required.
func (in scopeInput) apply(s *store.Scope, creating bool) error {
	var problems web.Fields
	oldName := s.Name
	switch {
	case in.Name != nil:
		s.Name = *in.Name
		if n := utf8.RuneCountInString(s.Name); n < 2 || n > 100 {
			problems.Addf("name must be 2 to 100 characters")
		} else if !rbac.ScopeNamePattern.MatchString(s.Name) {
			problems.Addf("name may contain only letters, digits and _ . : - (for example trade:read)")
		}
	case creating:
		problems.Addf("name is required")
	}
	if in.Description != nil {
		s.Description = *in.Description
		if utf8.RuneCountInString(s.Description) > 500 || !web.PlainText(s.Description, true) {
			problems.Addf("description must be at most 500 characters of text")
		}
	}
	switch {
	case in.Resource != nil:
		s.Resource = *in.Resource
		if utf8.RuneCountInString(s.Resource) > 50 || !web.PlainText(s.Resource, false) {
			problems.Addf("resource must be at most 50 characters of plain text")
		}
	case creating || s.Resource == rbac.Resource(oldName):
		// A resource derived from the name follows a rename; one the
		// administrator chose stays.
		s.Resource = rbac.Resource(s.Name)
	}
	if in.Action != nil && *in.Action != rbac.Action(s.Name) {
		problems.Addf("action %s does not agree with the name: the action is the text before the first ':' (%s)",
			web.QuoteList([]string{*in.Action}, 10), web.QuoteList([]string{rbac.Action(s.Name)}, 10))
	}
	return problems.Err()
}

func (a *API) createScope(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	var in scopeInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var s store.Scope
	if err := in.apply(&s, true); err != nil {
		return err
	}
	if err := a.mayManageScope(r, c, "create", nil, s.Name); err != nil {
		return err
	}
	s, err = a.cfg.Store.CreateScope(r.Context(), s)
	if err != nil {
		return storeErr(err, scopeNotFound, "Scope name already exists")
	}
	if err := a.followNewScope(r, c, s); err != nil {
		return err
	}
	a.record(r.Context(), a.event(r, c, "scope.created", audit.Success, s.Name, map[string]any{"scope_id": s.ID}))
	out, err := a.scopeResponse(r, s)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// pathScope loads the scope named by the {scope} path value.
func (a *API) pathScope(r *http.Request) (store.Scope, error) {
	s, err := a.findScope(r.Context(), r.PathValue("scope"))
	if err != nil {
		return store.Scope{}, storeErr(err, scopeNotFound, "")
	}
	return s, nil
}

func (a *API) getScope(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	s, err := a.pathScope(r)
	if err != nil {
		return err
	}
	out, err := a.scopeResponse(r, s)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) updateScope(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	s, err := a.pathScope(r)
	if err != nil {
		return err
	}
	var in scopeInput
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	oldName := s.Name
	probe := s
	if err := in.apply(&probe, false); err != nil {
		return err
	}
	action, names := "change", []string{oldName}
	if probe.Name != oldName {
		action, names = "rename", []string{oldName, probe.Name}
	}
	if err := a.mayManageScope(r, c, action, &s, names...); err != nil {
		return err
	}
	s, err = a.cfg.Store.UpdateScope(r.Context(), s.ID, func(old store.Scope) (store.Scope, error) {
		if old.Name != oldName {
			return old, web.Conflict("The scope changed while this request was checked; try again")
		}
		return old, in.apply(&old, false)
	})
	if err != nil {
		if _, ok := web.AsError(err); ok {
			return err
		}
		return storeErr(err, scopeNotFound, "Scope name already exists")
	}
	details := map[string]any{"scope_id": s.ID}
	if oldName != s.Name {
		details["renamed_from"] = oldName
	}
	a.record(r.Context(), a.event(r, c, "scope.updated", audit.Success, s.Name, details))
	out, err := a.scopeResponse(r, s)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteScope(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:roles")
	if err != nil {
		return err
	}
	s, err := a.pathScope(r)
	if err != nil {
		return err
	}
	if err := a.mayManageScope(r, c, "delete", &s, s.Name); err != nil {
		return err
	}
	full, err := a.fullClients(r.Context(), "")
	if err != nil {
		return err
	}
	roles, clients, err := a.cfg.Store.ScopeUsage(r.Context(), s.ID)
	if err != nil {
		return web.Unavailable(err)
	}
	// Clients that hold every scope (the bootstrap and console clients)
	// lose this one with it; only other holders stand in the way.
	if clients -= len(full); roles > 0 || clients > 0 {
		return web.Conflict("Scope is assigned to %d roles and %d clients; remove it from them first", roles, clients)
	}
	for _, fc := range full {
		if err := a.setClientScope(r, c, fc.ClientID, s, false); err != nil {
			return err
		}
	}
	if err := a.cfg.Store.DeleteScope(r.Context(), s.ID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return web.Conflict("Scope is assigned to roles or clients; remove it from them first")
		}
		return storeErr(err, scopeNotFound, "")
	}
	a.record(r.Context(), a.event(r, c, "scope.deleted", audit.Success, s.Name, map[string]any{"scope_id": s.ID}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
