package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// Permission checks (admin:permissions). The literal
// /roles/permissions/check and /check-bulk are more specific than the
// roles resource's /roles/{role}/{sub}, so ServeMux routes them here.
func (p *people) mountPermissions(mux *http.ServeMux) {
	p.handle(mux, "POST /api/v1/roles/permissions/check", p.checkPermission)
	p.handle(mux, "POST /api/v1/roles/permissions/check-bulk", p.checkPermissions)
	p.handle(mux, "GET /api/v1/roles/permissions/user/{user_id}", p.userPermissions)
}

// maxBulkChecks bounds one bulk request.
const maxBulkChecks = 100

// permissionCheck is one {resource, action} question, with the optional
// context of the original (context.user_id: whose resource it is).
type permissionCheck struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	Context  *struct {
		UserID string `json:"user_id"`
	} `json:"context,omitempty"`
}

type permissionResult struct {
	Resource       string   `json:"resource"`
	Action         string   `json:"action"`
	Allowed        bool     `json:"allowed"`
	Reason         string   `json:"reason"`
	MatchingScopes []string `json:"matching_scopes"`
}

// decide answers whether u may take action on resource, as the original's
// User.can_access_resource (§4.6): superusers always; writes and admin on
// roles, permissions or scopes need admin:users or admin:system; a
// resource owned by another user (ownerID) needs admin:users or
// admin:system, and one's own is allowed; otherwise action:resource,
// admin:resource, or admin:system (for actions other than admin) grant it.
func decide(u *store.User, resource, action, ownerID string) permissionResult {
	res := permissionResult{Resource: resource, Action: action, MatchingScopes: []string{}}
	if u.Superuser {
		res.Allowed, res.Reason = true, "Superuser access"
		return res
	}
	held := rbac.UserScopes(u)
	grant := func(candidates ...string) {
		for _, s := range candidates {
			if slices.Contains(held, s) && !slices.Contains(res.MatchingScopes, s) {
				res.MatchingScopes = append(res.MatchingScopes, s)
			}
		}
		res.Allowed = len(res.MatchingScopes) > 0
	}
	switch {
	case (action == "write" || action == "admin") && (resource == "roles" || resource == "permissions" || resource == "scopes"):
		grant("admin:users", "admin:system")
	case ownerID != "" && ownerID == u.ID:
		res.Allowed, res.Reason = true, "Owner access"
		return res
	case ownerID != "":
		grant("admin:users", "admin:system")
	default:
		c := []string{action + ":" + resource, "admin:" + resource}
		if action != "admin" {
			c = append(c, "admin:system")
		}
		grant(c...)
	}
	if res.Allowed {
		res.Reason = "Granted by scopes: " + strings.Join(res.MatchingScopes, ", ")
	} else {
		res.Reason = "No matching permissions found"
	}
	return res
}

// permissionUser loads the user a check is about; a malformed or unknown
// id is 404.
func (p *people) permissionUser(r *http.Request, id string) (store.User, error) {
	return p.pc.Accounts.Get(r.Context(), id)
}

func roleNames(u *store.User) []string {
	out := []string{}
	for _, r := range u.Roles {
		out = append(out, r.Name)
	}
	return out
}

func checkFields(c permissionCheck, problems *web.Fields) {
	for _, f := range [...]struct{ name, v string }{{"resource", c.Resource}, {"action", c.Action}} {
		if f.v == "" || len(f.v) > 100 || !web.PlainText(f.v, false) {
			problems.Addf("%s: 1 to 100 characters of plain text", f.name)
		}
	}
}

func (p *people) checkPermission(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:permissions"); err != nil {
		return err
	}
	var b struct {
		UserID string `json:"user_id"`
		permissionCheck
	}
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	var problems web.Fields
	checkFields(b.permissionCheck, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	u, err := p.permissionUser(r, b.UserID)
	if err != nil {
		return err
	}
	owner := ""
	if b.Context != nil {
		owner = strings.ToLower(b.Context.UserID)
	}
	res := decide(&u, b.Resource, b.Action, owner)
	web.WriteJSON(w, http.StatusOK, map[string]any{"allowed": res.Allowed, "reason": res.Reason,
		"matching_scopes": res.MatchingScopes, "user_roles": roleNames(&u)})
	return nil
}

func (p *people) checkPermissions(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:permissions"); err != nil {
		return err
	}
	var b struct {
		UserID      string            `json:"user_id"`
		Permissions []permissionCheck `json:"permissions"`
	}
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if len(b.Permissions) > maxBulkChecks {
		return web.Invalid("permissions: at most %d checks", maxBulkChecks)
	}
	u, err := p.permissionUser(r, b.UserID)
	if err != nil {
		return err
	}
	results := []permissionResult{}
	for _, c := range b.Permissions {
		var problems web.Fields
		if checkFields(c, &problems); len(problems) > 0 {
			continue // the original skips pairs missing a resource or action
		}
		owner := ""
		if c.Context != nil {
			owner = strings.ToLower(c.Context.UserID)
		}
		results = append(results, decide(&u, c.Resource, c.Action, owner))
	}
	scopes := rbac.UserScopes(&u)
	if scopes == nil {
		scopes = []string{}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"results": results, "user_roles": roleNames(&u), "user_scopes": scopes})
	return nil
}

// userPermissions groups a user's scopes by resource.
func (p *people) userPermissions(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.requireAdmin(r, "admin:permissions"); err != nil {
		return err
	}
	u, err := p.permissionUser(r, r.PathValue("user_id"))
	if err != nil {
		return err
	}
	type resourcePerms struct {
		Resource string   `json:"resource"`
		Actions  []string `json:"actions"`
		Scopes   []string `json:"scopes"`
	}
	resources := []*resourcePerms{}
	global := []string{}
	for _, s := range rbac.UserScopes(&u) {
		action, resource, ok := strings.Cut(s, ":")
		if !ok {
			global = append(global, s)
			continue
		}
		i := slices.IndexFunc(resources, func(x *resourcePerms) bool { return x.Resource == resource })
		if i < 0 {
			resources = append(resources, &resourcePerms{Resource: resource})
			i = len(resources) - 1
		}
		if !slices.Contains(resources[i].Actions, action) {
			resources[i].Actions = append(resources[i].Actions, action)
		}
		resources[i].Scopes = append(resources[i].Scopes, s)
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "username": u.Username, "resources": resources,
		"global_permissions": global, "is_superuser": u.Superuser})
	return nil
}
