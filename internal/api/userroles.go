package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// User ↔ role assignment, for administrators of users. Nobody changes
// their own roles, administrators included (403), so an administrator
// cannot lock themselves out by accident or grant themselves more.
func (p *people) mountUserRoles(mux *http.ServeMux) {
	p.handle(mux, "PUT /api/v1/users/{id}/roles", p.setUserRoles)
	p.handle(mux, "POST /api/v1/users/{id}/roles", p.addUserRole)
	p.handle(mux, "DELETE /api/v1/users/{id}/roles/{role}", p.removeUserRole)
}

// roleAdmin authorises a role change of the path's user and loads them.
func (p *people) roleAdmin(r *http.Request) (*wire.Claims, store.User, error) {
	c, err := p.requireAdmin(r, "admin:users")
	if err != nil {
		return nil, store.User{}, err
	}
	id := strings.ToLower(r.PathValue("id"))
	if c.Type == wire.ClaimTypeAccess && c.Subject == id {
		p.record(r.Context(), p.event(r, c, "user.self_escalation_denied", "denied", id, nil))
		return nil, store.User{}, account.ErrForbiddenSelf("roles")
	}
	u, err := p.targetUser(r, c, id)
	if err != nil {
		return nil, store.User{}, err
	}
	return c, u, nil
}

// setUserRoles replaces the user's roles: {role_ids:[id or name]}.
func (p *people) setUserRoles(w http.ResponseWriter, r *http.Request) error {
	c, u, err := p.roleAdmin(r)
	if err != nil {
		return err
	}
	var b apitype.UserRoles
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.RoleIDs == nil {
		return web.Invalid("role_ids: field required")
	}
	ids, err := p.resolveRoles(r.Context(), *b.RoleIDs)
	if err != nil {
		return err
	}
	if err := p.mayGrantRoles(r, c, "user "+u.Username, ids); err != nil {
		return err
	}
	out, err := p.pc.Accounts.Update(r.Context(), u.ID, account.Update{RoleIDs: &ids}, p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, out)
	return nil
}

// addUserRole adds one role: {role_name} (a name or an id).
func (p *people) addUserRole(w http.ResponseWriter, r *http.Request) error {
	c, u, err := p.roleAdmin(r)
	if err != nil {
		return err
	}
	var b struct {
		RoleName string `json:"role_name"`
	}
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if b.RoleName == "" {
		return web.Invalid("role_name: field required")
	}
	role, err := p.findRole(r.Context(), b.RoleName)
	if err != nil {
		return storeErr(err, roleNotFound, "")
	}
	if err := p.mayGrant(r, c, "user "+u.Username, scopeNames(role.Scopes)); err != nil {
		return err
	}
	ids := slices.Clone(u.RoleIDs)
	if !slices.Contains(ids, role.ID) {
		ids = append(ids, role.ID)
	}
	out, err := p.pc.Accounts.Update(r.Context(), u.ID, account.Update{RoleIDs: &ids}, p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, out)
	return nil
}

// removeUserRole removes one role (by name or id); 404 when the user does
// not hold it.
func (p *people) removeUserRole(w http.ResponseWriter, r *http.Request) error {
	c, u, err := p.roleAdmin(r)
	if err != nil {
		return err
	}
	role, err := p.findRole(r.Context(), r.PathValue("role"))
	if errors.Is(err, store.ErrNotFound) || err == nil && !slices.Contains(u.RoleIDs, role.ID) {
		return web.NotFound("Role assignment")
	}
	if err != nil {
		return web.Unavailable(err)
	}
	ids := slices.DeleteFunc(slices.Clone(u.RoleIDs), func(id string) bool { return id == role.ID })
	out, err := p.pc.Accounts.Update(r.Context(), u.ID, account.Update{RoleIDs: &ids}, p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, out)
	return nil
}
