package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
)

const usersAPI = "/api/v1/users"

func (c *Console) userList(w http.ResponseWriter, r *http.Request, sess *session) error {
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	q := url.Values{"page": {strconv.Itoa(pageParam(r))}, "per_page": {"25"}}
	if search != "" {
		q.Set("search", search)
	}
	var list userList
	if err := c.getJSON(r, sess, usersAPI+"?"+q.Encode(), &list); err != nil {
		return err
	}
	roles, _ := c.roleOptions(r, sess)
	keep := url.Values{}
	if search != "" {
		keep.Set("search", search)
	}
	c.render(w, r, http.StatusOK, "users", sess, struct {
		listData[userList]
		Roles []roleView
	}{listData[userList]{List: list, Search: search, Base: Path + "/users", Query: keep}, roles})
	return nil
}

// roleOptions lists roles for the role pickers. A refusal leaves the
// picker empty; the page itself still shows.
func (c *Console) roleOptions(r *http.Request, sess *session) ([]roleView, error) {
	var roles roleList
	if err := c.getJSON(r, sess, "/api/v1/roles?per_page=100", &roles); err != nil {
		return nil, err
	}
	return roles.Roles, nil
}

func (c *Console) userDetail(w http.ResponseWriter, r *http.Request, sess *session) error {
	var u userView
	if err := c.getJSON(r, sess, usersAPI+"/"+url.PathEscape(r.PathValue("id")), &u); err != nil {
		return err
	}
	roles, rolesErr := c.roleOptions(r, sess)
	data := struct {
		User       userView
		Roles      []roleView
		RolesError string
	}{User: u, Roles: roles}
	if rolesErr != nil {
		data.RolesError = errorText(rolesErr)
	}
	c.render(w, r, http.StatusOK, "user", sess, data)
	return nil
}

func (c *Console) userCreate(r *http.Request, sess *session) (string, *flash, error) {
	active := true
	body := apitype.UserCreate{Username: strings.TrimSpace(r.PostFormValue("username")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Password: r.PostFormValue("password"), IsActive: &active}
	if roles := r.PostForm["role_ids"]; len(roles) > 0 {
		body.RoleIDs = &roles
	}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: usersAPI, JSON: body})
	if err != nil {
		return Path + "/users", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/users", nil, err
	}
	var u userView
	if err := res.Decode(&u); err != nil {
		return Path + "/users", nil, err
	}
	return Path + "/users/" + url.PathEscape(u.ID), &flash{Kind: "ok", Message: "User " + u.Username + " created."}, nil
}

func userBack(r *http.Request) string { return Path + "/users/" + url.PathEscape(r.PathValue("id")) }

func (c *Console) userStatus(r *http.Request, sess *session) (string, *flash, error) {
	active := r.PostFormValue("active") == "1"
	msg := "User disabled: their sessions and tokens stop working."
	if active {
		msg = "User enabled."
	}
	err := c.send(r, sess, http.MethodPut, usersAPI+"/"+url.PathEscape(r.PathValue("id")), apitype.UserUpdate{IsActive: &active})
	return userBack(r), &flash{Kind: "ok", Message: msg}, err
}

func (c *Console) userUnlock(r *http.Request, sess *session) (string, *flash, error) {
	err := c.send(r, sess, http.MethodPost, usersAPI+"/"+url.PathEscape(r.PathValue("id"))+"/unlock", nil)
	return userBack(r), &flash{Kind: "ok", Message: "User unlocked."}, err
}

func (c *Console) userRoles(r *http.Request, sess *session) (string, *flash, error) {
	roles := r.PostForm["role_ids"]
	if roles == nil {
		roles = []string{}
	}
	err := c.send(r, sess, http.MethodPut, usersAPI+"/"+url.PathEscape(r.PathValue("id"))+"/roles", apitype.UserRoles{RoleIDs: &roles})
	return userBack(r), &flash{Kind: "ok", Message: "Roles saved. They apply to tokens issued from now on."}, err
}

func (c *Console) userDelete(r *http.Request, sess *session) (string, *flash, error) {
	if r.PostFormValue("confirm") != "1" {
		return userBack(r), &flash{Kind: "error", Message: "Tick the box to confirm the deletion."}, nil
	}
	if err := c.send(r, sess, http.MethodDelete, usersAPI+"/"+url.PathEscape(r.PathValue("id")), nil); err != nil {
		return userBack(r), nil, err
	}
	return Path + "/users", &flash{Kind: "ok", Message: "User deleted."}, nil
}

// getJSON fetches path and decodes a 2xx answer into v.
func (c *Console) getJSON(r *http.Request, sess *session, path string, v any) error {
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: path})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	return res.Decode(v)
}

// errorText is the sentence for a refusal shown inside a page section.
func errorText(err error) string {
	if ae, ok := err.(*apiError); ok {
		return describe(ae)
	}
	return "Not available right now."
}
