package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// This file holds what the scope, role and client resources share: naming a
// scope or role by UUID or by name, the paginated list envelope, and small
// request helpers.

// findScope returns the scope whose id or name is ref. The error wraps
// store.ErrNotFound when there is none.
func (a *API) findScope(ctx context.Context, ref string) (store.Scope, error) {
	if !web.PlainText(ref, false) || len(ref) > 255 {
		return store.Scope{}, store.ErrNotFound
	}
	if store.IsID(ref) {
		s, err := a.cfg.Store.GetScope(ctx, strings.ToLower(ref))
		if !errors.Is(err, store.ErrNotFound) {
			return s, err
		}
	}
	return a.cfg.Store.GetScopeByName(ctx, ref)
}

// findRole returns the role whose id or name is ref.
func (a *API) findRole(ctx context.Context, ref string) (store.Role, error) {
	if !web.PlainText(ref, false) || len(ref) > 255 {
		return store.Role{}, store.ErrNotFound
	}
	if store.IsID(ref) {
		r, err := a.cfg.Store.GetRole(ctx, strings.ToLower(ref))
		if !errors.Is(err, store.ErrNotFound) {
			return r, err
		}
	}
	return a.cfg.Store.GetRoleByName(ctx, ref)
}

// resolveScopeRefs turns scope names or ids into scope ids, deduplicated in
// the order given. Unknown references are added to problems by name, so one
// 422 lists them together with every other validation problem.
func (a *API) resolveScopeRefs(ctx context.Context, field string, refs []string, problems *web.Fields) ([]string, error) {
	ids := make([]string, 0, len(refs))
	var unknown []string
	for _, ref := range refs {
		ref = strings.TrimSpace(ref)
		if ref == "" || len(ref) > 100 {
			unknown = append(unknown, ref)
			continue
		}
		s, err := a.findScope(ctx, ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, ref)
		case err != nil:
			return nil, web.Unavailable(err)
		case !slices.Contains(ids, s.ID):
			ids = append(ids, s.ID)
		}
	}
	if len(unknown) > 0 {
		problems.Addf("%s: unknown scopes %s (give scope names or ids)", field, web.QuoteList(unknown, 10))
	}
	return ids, nil
}

// scopeFilterRef resolves the scope_id query filter (a name or an id).
func (a *API) scopeFilterRef(ctx context.Context, q url.Values, problems *web.Fields) (string, error) {
	ref := q.Get("scope_id")
	if ref == "" {
		return "", nil
	}
	ids, err := a.resolveScopeRefs(ctx, "scope_id", []string{ref}, problems)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// listPaging is the page and per_page of a list request.
type listPaging struct {
	Page, PerPage int
}

// parseListPaging reads page (>= 1, default 1) and per_page (1..100,
// default 20), adding a problem for each bad value.
func parseListPaging(q url.Values, problems *web.Fields) listPaging {
	p := listPaging{Page: 1, PerPage: 20}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			problems.Addf("page must be an integer of at least 1")
		} else {
			p.Page = n
		}
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			problems.Addf("per_page must be an integer between 1 and 100")
		} else {
			p.PerPage = n
		}
	}
	return p
}

func (p listPaging) store() store.Page {
	return store.Page{Offset: (p.Page - 1) * p.PerPage, Limit: p.PerPage}
}

// page is the original's list envelope (total, page, per_page, pages)
// for this request and total items.
func (p listPaging) page(total int) apitype.Paging {
	return apitype.NewPaging(p.Page, p.PerPage, total)
}

// searchParam reads the search query parameter, bounded.
func searchParam(q url.Values, problems *web.Fields) string {
	s := strings.TrimSpace(q.Get("search"))
	if len(s) > 200 || !web.PlainText(s, false) {
		problems.Addf("search must be at most 200 characters of plain text")
		return ""
	}
	return s
}

// boolParam reads an optional boolean query parameter.
func boolParam(q url.Values, name string, problems *web.Fields) *bool {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		problems.Addf("%s must be true or false", name)
		return nil
	}
	return &b
}

// decodeOptionalJSON decodes a JSON body if there is one; an absent or
// empty body leaves v untouched. Some endpoints take an optional body and
// clients send none at all (the original's docs call rotate-secret so).
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return web.DecodeJSON(w, r, v)
}

// briefScopes is the compact form of scopes embedded in roles and clients.
func briefScopes(scopes []store.Scope) []apitype.ScopeBrief {
	out := make([]apitype.ScopeBrief, len(scopes))
	for i, s := range scopes {
		out[i] = apitype.ScopeBrief{ID: s.ID, Name: s.Name, Description: s.Description, Resource: s.Resource, Action: rbac.Action(s.Name)}
	}
	return out
}

// storeErr maps a store error to a response: not found and conflict get
// the given messages; anything else means the database is unavailable.
func storeErr(err error, notFound, conflict string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound(notFound)
	case errors.Is(err, store.ErrConflict) && conflict != "":
		return web.Conflict("%s", conflict)
	}
	return web.Unavailable(err)
}
