package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/sdk/wire"
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
	var cl clientView
	if err := res.Decode(&cl.Client); err != nil {
		return err
	}
	if cl.Federated() {
		// The identities it is bound to; a user who may not read trusts
		// sees the client without them.
		res, err := c.api(r, sess, call{Method: http.MethodGet, Path: trustsAPI})
		if err != nil {
			return err
		}
		var list apitype.TrustList
		if res.OK() && res.Decode(&list) == nil {
			for _, t := range list.Trusts {
				for _, b := range t.Bindings {
					if b.ClientID == cl.ClientID {
						cl.Bindings = append(cl.Bindings, b)
					}
				}
			}
		}
	}
	c.render(w, r, http.StatusOK, "client", sess, struct{ Client clientView }{cl})
	return nil
}

// tlsFields are the certificate subject fields of tls_client_auth (RFC
// 8705 §2.1.2), as the forms name them.
var tlsFields = []string{"subject_dn", "san_dns", "san_uri", "san_ip", "san_email"}

// credentialFields reads the authentication method and its credentials
// from a form into body. On update an empty key set or URL removes it.
func credentialFields(r *http.Request, body *apitype.ClientFields, update bool) *flash {
	method := r.PostFormValue("auth_method")
	if method == "" {
		return nil
	}
	body.TokenEndpointAuthMethod = &method
	if v := strings.TrimSpace(r.PostFormValue("jwks")); v != "" {
		if !json.Valid([]byte(v)) {
			return &flash{Kind: "error", Message: `The public keys are not valid JSON: paste a JWK Set, {"keys": [...]}.`}
		}
		body.JWKS = apitype.NullableJSON{Set: true, Value: json.RawMessage(v)}
	} else if update {
		body.JWKS = apitype.NullableJSON{Set: true}
	}
	if v := strings.TrimSpace(r.PostFormValue("jwks_uri")); v != "" || update {
		body.JWKSURI = &v
	}
	value := strings.TrimSpace(r.PostFormValue("tls_value"))
	if value == "" && !update {
		return nil
	}
	field := r.PostFormValue("tls_field")
	if !slices.Contains(tlsFields, field) {
		return &flash{Kind: "error", Message: "Choose which certificate field the value is."}
	}
	for _, f := range tlsFields {
		v := ""
		if f == field {
			v = value
		}
		switch f {
		case "subject_dn":
			body.TLSSubjectDN = &v
		case "san_dns":
			body.TLSSANDNS = &v
		case "san_uri":
			body.TLSSANURI = &v
		case "san_ip":
			body.TLSSANIP = &v
		case "san_email":
			body.TLSSANEmail = &v
		}
	}
	return nil
}

func (c *Console) clientCredentials(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	back := Path + "/clients/" + url.PathEscape(id)
	var body apitype.ClientFields
	if f := credentialFields(r, &body, true); f != nil {
		return back, f, nil
	}
	if body.TokenEndpointAuthMethod == nil {
		return back, &flash{Kind: "error", Message: "Choose how the client authenticates."}, nil
	}
	msg := "Client " + id + " now authenticates with " + *body.TokenEndpointAuthMethod + "."
	if m := *body.TokenEndpointAuthMethod; m != "client_secret_basic" && m != "client_secret_post" {
		msg += " Its secrets, if it had any, no longer work."
	}
	return back, &flash{Kind: "ok", Message: msg}, c.send(r, sess, http.MethodPut, clientsAPI+"/"+url.PathEscape(id), body)
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
	if typ != "public" {
		if f := credentialFields(r, &body, false); f != nil {
			return Path + "/clients", f, nil
		}
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

// exchangeHelp is the message for a policy that does not parse.
const exchangeHelp = `The token-exchange policy must be one JSON object of its members: ` +
	`{"resources": [...], "targets": [{"audience": "...", "scopes": [...]}], "delegate": true, "impersonate": false, "max_depth": 3, "actors": [...]}.`

// clientExchange sets the client's token-exchange policy
// (docs/delegation.md) and whether it may use the grant. An empty policy
// removes it; the API applies its rules (and the delegation rule: the
// administrator must hold every scope the policy lets the client carry).
func (c *Console) clientExchange(r *http.Request, sess *session) (string, *flash, error) {
	id := r.PathValue("id")
	back := Path + "/clients/" + url.PathEscape(id)
	var pol apitype.ExchangePolicy
	if v := strings.TrimSpace(r.PostFormValue("token_exchange")); v != "" {
		// Unknown members are refused, so a misspelt one is not dropped.
		dec := json.NewDecoder(strings.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pol); err != nil {
			return back, &flash{Kind: "error", Message: exchangeHelp}, nil
		}
		if _, err := dec.Token(); err != io.EOF {
			return back, &flash{Kind: "error", Message: exchangeHelp}, nil
		}
	}
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: clientsAPI + "/" + url.PathEscape(id)})
	if err != nil {
		return back, nil, err
	}
	if err := res.Err(); err != nil {
		return back, nil, err
	}
	var cl apitype.Client
	if err := res.Decode(&cl); err != nil {
		return back, nil, err
	}
	grants := slices.DeleteFunc(slices.Clone(cl.GrantTypes), func(g string) bool { return g == wire.GrantTokenExchange })
	msg := "Token-exchange policy of " + id + " saved; it may not use the grant."
	if r.PostFormValue("grant") == "1" {
		grants = append(grants, wire.GrantTokenExchange)
		msg = "Token-exchange policy of " + id + " saved; it may use the grant."
	}
	body := apitype.ClientFields{TokenExchange: &pol, GrantTypes: &grants}
	return back, &flash{Kind: "ok", Message: msg}, c.send(r, sess, http.MethodPut, clientsAPI+"/"+url.PathEscape(id), body)
}
