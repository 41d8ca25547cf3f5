package api

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

type nameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// roleStats is the original's GET /roles/stats: the five roles held by
// the most users and the five scopes held by the fewest roles, from two
// aggregate queries.
func (a *API) roleStats(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	ctx := r.Context()
	counts, err := a.cfg.Store.RoleUserCounts(ctx)
	if err != nil {
		return web.Unavailable(err)
	}
	var roles []nameCount
	err = eachPage(func(p store.Page) (int, error) {
		page, _, err := a.cfg.Store.ListRoles(ctx, store.RoleFilter{Page: p})
		for _, role := range page {
			roles = append(roles, nameCount{role.Name, counts[role.ID]})
		}
		return len(page), err
	})
	if err != nil {
		return web.Unavailable(err)
	}
	byScope, err := a.cfg.Store.ScopeRoleCounts(ctx)
	if err != nil {
		return web.Unavailable(err)
	}
	scopes := make([]nameCount, 0, len(byScope))
	for name, n := range byScope {
		scopes = append(scopes, nameCount{name, n})
	}
	// Stable sorts on name first make ties come out in a fixed order.
	byName := func(x, y nameCount) int { return cmp.Compare(x.Name, y.Name) }
	slices.SortFunc(roles, byName)
	slices.SortStableFunc(roles, func(x, y nameCount) int { return cmp.Compare(y.Count, x.Count) })
	slices.SortFunc(scopes, byName)
	slices.SortStableFunc(scopes, func(x, y nameCount) int { return cmp.Compare(x.Count, y.Count) })
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"total_roles":       len(roles),
		"total_scopes":      len(scopes),
		"most_common_roles": nonNil(roles[:min(5, len(roles))]),
		"least_used_scopes": nonNil(scopes[:min(5, len(scopes))]),
	})
	return nil
}

// eachPage calls list with successive pages of the largest size the store
// serves until a short page says the end is reached.
func eachPage(list func(store.Page) (int, error)) error {
	const size = 1000
	for off := 0; ; off += size {
		n, err := list(store.Page{Offset: off, Limit: size})
		if err != nil || n < size {
			return err
		}
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// roleDefaults is the original's GET /roles/defaults.
func (a *API) roleDefaults(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:roles"); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"roles":       rbac.DefaultRoleNames(),
		"description": "Roles seeded on first start; new users receive the configured default role (user unless changed).",
	})
	return nil
}
