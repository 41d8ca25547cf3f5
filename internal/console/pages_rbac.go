package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
)

const (
	rolesAPI  = "/api/v1/roles"
	scopesAPI = "/api/v1/roles/scopes"
)

func (c *Console) rolesPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	var roles roleList
	if err := c.getJSON(r, sess, rolesAPI+"?per_page=100", &roles); err != nil {
		return err
	}
	var scopes apitype.ScopeList
	if err := c.getJSON(r, sess, scopesAPI+"?per_page=100", &scopes); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "roles", sess, struct {
		Roles  []roleView
		Scopes []apitype.Scope
	}{roles.Roles, scopes.Scopes})
	return nil
}

func (c *Console) roleCreate(r *http.Request, sess *session) (string, *flash, error) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	body := apitype.RoleFields{Name: &name, Description: ptr(r.PostFormValue("description")),
		ScopeIDs: ptr(splitList(r.PostFormValue("scopes")))}
	err := c.send(r, sess, http.MethodPost, rolesAPI, body)
	return Path + "/roles", &flash{Kind: "ok", Message: "Role " + name + " created."}, err
}

func (c *Console) roleScopes(r *http.Request, sess *session) (string, *flash, error) {
	ids := r.PostForm["scope_ids"]
	if ids == nil {
		ids = []string{}
	}
	err := c.send(r, sess, http.MethodPut, rolesAPI+"/"+url.PathEscape(r.PathValue("id"))+"/scopes", apitype.RoleFields{ScopeIDs: &ids})
	return Path + "/roles", &flash{Kind: "ok", Message: "Scopes of the role saved. They apply to tokens issued from now on."}, err
}

func (c *Console) roleDelete(r *http.Request, sess *session) (string, *flash, error) {
	err := c.send(r, sess, http.MethodDelete, rolesAPI+"/"+url.PathEscape(r.PathValue("id")), nil)
	return Path + "/roles", &flash{Kind: "ok", Message: "Role deleted."}, err
}

func (c *Console) scopeCreate(r *http.Request, sess *session) (string, *flash, error) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	resource, action, _ := strings.Cut(name, ":")
	body := apitype.ScopeFields{Name: &name, Description: ptr(r.PostFormValue("description")), Resource: &resource, Action: &action}
	err := c.send(r, sess, http.MethodPost, scopesAPI, body)
	return Path + "/roles", &flash{Kind: "ok", Message: "Scope " + name + " created."}, err
}

func (c *Console) scopeDelete(r *http.Request, sess *session) (string, *flash, error) {
	err := c.send(r, sess, http.MethodDelete, scopesAPI+"/"+url.PathEscape(r.PathValue("id")), nil)
	return Path + "/roles", &flash{Kind: "ok", Message: "Scope deleted."}, err
}
