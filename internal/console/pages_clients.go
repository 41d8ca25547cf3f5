package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
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
	var list apitype.ClientList
	if err := res.Decode(&list); err != nil {
		return err
	}
	keep := url.Values{}
	if search != "" {
		keep.Set("search", search)
	}
	c.render(w, r, http.StatusOK, "clients", sess, listData[apitype.ClientList]{List: list, Search: search, Base: Path + "/clients", Query: keep})
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
	var cl apitype.Client
	if err := res.Decode(&cl); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "client", sess, struct{ Client apitype.Client }{cl})
	return nil
}

// intFields reads the numeric form fields that were filled in: each
// non-empty one is set through its pointer. A field that is not a whole
// number comes back as a message for the form.
func intFields(r *http.Request, fields map[string]func(int)) *flash {
	for name, set := range fields {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return &flash{Kind: "error", Message: strings.ReplaceAll(name, "_", " ") + " must be a whole number."}
		}
		set(n)
	}
	return nil
}

// ptr returns a pointer to v, for the optional fields of API bodies.
func ptr[T any](v T) *T { return &v }

func (c *Console) clientCreate(r *http.Request, sess *session) (string, *flash, error) {
	typ := r.PostFormValue("client_type")
	body := apitype.ClientFields{
		Name: ptr(strings.TrimSpace(r.PostFormValue("name"))), Description: ptr(r.PostFormValue("description")),
		ClientType: &typ, ScopeIDs: ptr(splitList(r.PostFormValue("scopes"))),
		Audiences: ptr(splitList(r.PostFormValue("audiences"))), IsTrusted: ptr(r.PostFormValue("is_trusted") == "1"),
	}
	if id := strings.TrimSpace(r.PostFormValue("client_id")); id != "" {
		body.ClientID = &id
	}
	redirects := splitList(r.PostFormValue("redirect_uris"))
	if len(redirects) > 0 {
		body.RedirectURIs = &redirects
	}
	switch {
	case typ == "public":
		body.GrantTypes = &[]string{"authorization_code", "refresh_token"}
	case len(redirects) > 0:
		body.GrantTypes = &[]string{"client_credentials", "authorization_code", "refresh_token"}
	}
	if f := intFields(r, map[string]func(int){"access_token_lifetime": func(n int) { body.AccessTokenLifetime = &n }}); f != nil {
		return Path + "/clients", f, nil
	}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: clientsAPI, JSON: body})
	if err != nil {
		return Path + "/clients", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/clients", nil, err
	}
	var out apitype.ClientCreated
	if err := res.Decode(&out); err != nil {
		return Path + "/clients", nil, err
	}
	f := &flash{Kind: "ok", Message: "Client " + out.Client.ClientID + " created.", Client: out.Client.ClientID}
	if out.ClientSecret != nil {
		f.Secret = *out.ClientSecret
	}
	return Path + "/clients/" + url.PathEscape(out.Client.ClientID), f, nil
}

func (c *Console) clientUpdate(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	back := Path + "/clients/" + url.PathEscape(id)
	body := apitype.ClientFields{
		Name: ptr(strings.TrimSpace(r.PostFormValue("name"))), Description: ptr(r.PostFormValue("description")),
		ScopeIDs: ptr(splitList(r.PostFormValue("scopes"))), Audiences: ptr(splitList(r.PostFormValue("audiences"))),
		RedirectURIs: ptr(splitList(r.PostFormValue("redirect_uris"))), AllowedIPs: ptr(apitype.IPList(splitList(r.PostFormValue("allowed_ips")))),
		IsTrusted: ptr(r.PostFormValue("is_trusted") == "1"),
	}
	if f := intFields(r, map[string]func(int){
		"access_token_lifetime":  func(n int) { body.AccessTokenLifetime = &n },
		"refresh_token_lifetime": func(n int) { body.RefreshTokenLifetime = apitype.NullableInt{Set: true, Value: &n} },
		"rate_limit_per_minute":  func(n int) { body.RateLimitPerMinute = &n },
		"rate_limit_per_hour":    func(n int) { body.RateLimitPerHour = &n },
	}); f != nil {
		return back, f, nil
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
	err := c.send(r, sess, http.MethodPut, clientsAPI+"/"+url.PathEscape(id), apitype.ClientFields{IsActive: &active})
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
		JSON: apitype.SecretRotation{GracePeriodSeconds: ptr(int64(grace))}})
	if err != nil {
		return back, nil, err
	}
	if err := res.Err(); err != nil {
		return back, nil, err
	}
	var out apitype.SecretRotated
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
