package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

const clientsAPI = "/api/v1/service-clients"

// listData is what the list pages and the shared pager get.
type listData[T any] struct {
	List   T
	Search string
	Base   string
	Query  url.Values
}

func pageParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (c *Console) clientList(w http.ResponseWriter, r *http.Request, sess *session) error {
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	q := url.Values{"page": {strconv.Itoa(pageParam(r))}, "per_page": {"25"}}
	if search != "" {
		q.Set("search", search)
	}
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: clientsAPI + "?" + q.Encode()})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	var list clientList
	if err := res.Decode(&list); err != nil {
		return err
	}
	keep := url.Values{}
	if search != "" {
		keep.Set("search", search)
	}
	c.render(w, r, http.StatusOK, "clients", sess, listData[clientList]{List: list, Search: search, Base: Path + "/clients", Query: keep})
	return nil
}

func (c *Console) clientDetail(w http.ResponseWriter, r *http.Request, sess *session) error {
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: clientsAPI + "/" + url.PathEscape(r.PathValue("id"))})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	var cl clientView
	if err := res.Decode(&cl); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "client", sess, struct{ Client clientView }{cl})
	return nil
}

// intField adds a numeric form field to body when it was filled in.
func intField(r *http.Request, body map[string]any, name string) {
	if v := strings.TrimSpace(r.PostFormValue(name)); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			body[name] = n
		} else {
			body[name] = v // let the API say what is wrong with it
		}
	}
}

func (c *Console) clientCreate(r *http.Request, sess *session) (string, *flash, error) {
	typ := r.PostFormValue("client_type")
	body := map[string]any{
		"name": strings.TrimSpace(r.PostFormValue("name")), "description": r.PostFormValue("description"),
		"client_type": typ, "scope_ids": splitList(r.PostFormValue("scopes")),
		"audiences": splitList(r.PostFormValue("audiences")), "is_trusted": r.PostFormValue("is_trusted") == "1",
	}
	if id := strings.TrimSpace(r.PostFormValue("client_id")); id != "" {
		body["client_id"] = id
	}
	redirects := splitList(r.PostFormValue("redirect_uris"))
	if len(redirects) > 0 {
		body["redirect_uris"] = redirects
	}
	switch {
	case typ == "public":
		body["grant_types"] = []string{"authorization_code", "refresh_token"}
	case len(redirects) > 0:
		body["grant_types"] = []string{"client_credentials", "authorization_code", "refresh_token"}
	}
	intField(r, body, "access_token_lifetime")
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: clientsAPI, JSON: body})
	if err != nil {
		return Path + "/clients", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/clients", nil, err
	}
	var out struct {
		Client       clientView `json:"client"`
		ClientSecret string     `json:"client_secret"`
	}
	if err := res.Decode(&out); err != nil {
		return Path + "/clients", nil, err
	}
	f := &flash{Kind: "ok", Message: "Client " + out.Client.ClientID + " created.", Secret: out.ClientSecret, Client: out.Client.ClientID}
	return Path + "/clients/" + url.PathEscape(out.Client.ClientID), f, nil
}

func (c *Console) clientUpdate(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	back := Path + "/clients/" + url.PathEscape(id)
	body := map[string]any{
		"name": strings.TrimSpace(r.PostFormValue("name")), "description": r.PostFormValue("description"),
		"scope_ids": splitList(r.PostFormValue("scopes")), "audiences": splitList(r.PostFormValue("audiences")),
		"redirect_uris": splitList(r.PostFormValue("redirect_uris")), "allowed_ips": splitList(r.PostFormValue("allowed_ips")),
		"is_trusted": r.PostFormValue("is_trusted") == "1",
	}
	for _, f := range []string{"access_token_lifetime", "refresh_token_lifetime", "rate_limit_per_minute", "rate_limit_per_hour"} {
		intField(r, body, f)
	}
	return back, &flash{Kind: "ok", Message: "Settings of " + id + " saved."}, c.send(r, sess, http.MethodPut, clientsAPI+"/"+url.PathEscape(id), body)
}

func (c *Console) clientStatus(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	active := r.PostFormValue("active") == "1"
	msg := "Client " + id + " disabled: it can no longer get tokens."
	if active {
		msg = "Client " + id + " enabled."
	}
	err := c.send(r, sess, http.MethodPut, clientsAPI+"/"+url.PathEscape(id), map[string]any{"is_active": active})
	return Path + "/clients/" + url.PathEscape(id), &flash{Kind: "ok", Message: msg}, err
}

func (c *Console) clientRotate(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	back := Path + "/clients/" + url.PathEscape(id)
	grace, err := strconv.Atoi(r.PostFormValue("grace_period_seconds"))
	if err != nil || grace < 0 {
		return back, &flash{Kind: "error", Message: "Choose how long the old secret keeps working."}, nil
	}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: clientsAPI + "/" + url.PathEscape(id) + "/rotate-secret",
		JSON: map[string]any{"grace_period_seconds": grace}})
	if err != nil {
		return back, nil, err
	}
	if err := res.Err(); err != nil {
		return back, nil, err
	}
	var out struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := res.Decode(&out); err != nil {
		return back, nil, err
	}
	msg := "Secret of " + id + " rotated; the old one stopped working."
	if grace > 0 {
		msg = "Secret of " + id + " rotated; the old one keeps working for " + strconv.Itoa(grace) + " seconds."
	}
	return back, &flash{Kind: "ok", Message: msg, Secret: out.ClientSecret, Client: id}, nil
}

func (c *Console) clientDelete(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	if r.PostFormValue("confirm") != "1" {
		return Path + "/clients/" + url.PathEscape(id), &flash{Kind: "error", Message: "Tick the box to confirm the deletion."}, nil
	}
	if err := c.send(r, sess, http.MethodDelete, clientsAPI+"/"+url.PathEscape(id), nil); err != nil {
		return Path + "/clients/" + url.PathEscape(id), nil, err
	}
	return Path + "/clients", &flash{Kind: "ok", Message: "Client " + id + " deleted."}, nil
}

// send makes a call whose answer only matters as success or refusal.
func (c *Console) send(r *http.Request, sess *session, method, path string, body any) error {
	res, err := c.api(r, sess, call{Method: method, Path: path, JSON: body})
	if err != nil {
		return err
	}
	return res.Err()
}
