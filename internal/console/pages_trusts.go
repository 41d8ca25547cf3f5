package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// Trusts (workload identity federation, docs/machine-identity.md) are
// read and bound with admin:clients; creating, changing and deleting one
// needs admin:system. The pages only call /api/v1/trusts.

const trustsAPI = "/api/v1/trusts"

// keySources are the ways a trust's keys are found, for the forms.
var keySources = []struct{ Value, Label string }{
	{"oidc", "OIDC discovery of the issuer (Kubernetes, CI providers, clouds)"},
	{"jwks_uri", "a JWKS URL"},
	{"jwks", "a static JWK Set pasted here"},
	{"spiffe", "a SPIFFE trust bundle (JWT-SVIDs)"},
}

// trustPage is the data of the trust page.
type trustPage struct {
	Trust      apitype.Trust
	Keys       *apitype.TrustKeys
	Sources    any
	Conditions map[string]string // binding id → conditions as written in the form
}

func (c *Console) trustList(w http.ResponseWriter, r *http.Request, sess *session) error {
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: trustsAPI})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	var list apitype.TrustList
	if err := res.Decode(&list); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "trusts", sess, struct {
		List    apitype.TrustList
		Sources any
	}{list, keySources})
	return nil
}

func trustPath(name string) string { return Path + "/trusts/" + url.PathEscape(name) }

func (c *Console) trustDetail(w http.ResponseWriter, r *http.Request, sess *session) error {
	name := r.PathValue("name")
	res, err := c.api(r, sess, call{Method: http.MethodGet, Path: trustsAPI + "/" + url.PathEscape(name)})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return err
	}
	p := trustPage{Sources: keySources, Conditions: map[string]string{}}
	if err := res.Decode(&p.Trust); err != nil {
		return err
	}
	for _, b := range p.Trust.Bindings {
		p.Conditions[b.ID] = formatConditions(b.Conditions)
	}
	// The key check fetches from the network, so it runs when asked.
	if r.URL.Query().Get("check") == "keys" {
		res, err := c.api(r, sess, call{Method: http.MethodGet, Path: trustsAPI + "/" + url.PathEscape(name) + "/keys"})
		if err != nil {
			return err
		}
		if err := res.Err(); err != nil {
			return err
		}
		p.Keys = &apitype.TrustKeys{}
		if err := res.Decode(p.Keys); err != nil {
			return err
		}
	}
	c.render(w, r, http.StatusOK, "trust", sess, p)
	return nil
}

// trustFields reads the trust form: the fields of the chosen key source,
// and only those, so switching the source clears nothing by accident.
func trustFields(r *http.Request, create bool) (apitype.TrustFields, *flash) {
	src := r.PostFormValue("key_source")
	f := apitype.TrustFields{KeySource: &src, Description: ptr(r.PostFormValue("description"))}
	if create {
		f.Name = ptr(strings.TrimSpace(r.PostFormValue("name")))
	}
	text := func(name string) *string { return ptr(strings.TrimSpace(r.PostFormValue(name))) }
	jsonField := func(name, label string) (*json.RawMessage, *flash) {
		v := strings.TrimSpace(r.PostFormValue(name))
		if v == "" {
			return nil, nil
		}
		if !json.Valid([]byte(v)) {
			return nil, &flash{Kind: "error", Message: label + " is not valid JSON."}
		}
		raw := json.RawMessage(v)
		return &raw, nil
	}
	if v := *text("issuer"); v != "" || src != "spiffe" || !create {
		f.Issuer = &v
	}
	var bad *flash
	switch src {
	case "jwks_uri":
		f.JWKSURI = text("jwks_uri")
	case "jwks":
		f.JWKS, bad = jsonField("jwks", "The JWK Set")
	case "spiffe":
		f.TrustDomain = text("trust_domain")
		f.SPIFFEBundle, bad = jsonField("spiffe_bundle", "The SPIFFE bundle")
		if f.SPIFFEBundle == nil {
			f.SPIFFEBundleEndpoint = text("spiffe_bundle_endpoint")
		}
	}
	if bad != nil {
		return f, bad
	}
	if aud := strings.TrimSpace(r.PostFormValue("audience")); aud != "" || !create {
		f.Audience = &aud
	}
	if bad := intFields(r, map[string]func(int){"max_token_age": func(n int) { f.MaxTokenAge = &n }}); bad != nil {
		return f, bad
	}
	return f, nil
}

func (c *Console) trustCreate(r *http.Request, sess *session) (string, *flash, error) {
	back := Path + "/trusts"
	body, bad := trustFields(r, true)
	if bad != nil {
		return back, bad, nil
	}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: trustsAPI, JSON: body})
	if err != nil {
		return back, nil, err
	}
	if err := res.Err(); err != nil {
		return back, nil, err
	}
	var t apitype.Trust
	if err := res.Decode(&t); err != nil {
		return back, nil, err
	}
	return trustPath(t.Name), &flash{Kind: "ok", Message: "Trust " + t.Name + " created. Bind clients to its identities below."}, nil
}

func (c *Console) trustUpdate(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	body, bad := trustFields(r, false)
	if bad != nil {
		return trustPath(name), bad, nil
	}
	err := c.send(r, sess, http.MethodPut, trustsAPI+"/"+url.PathEscape(name), body)
	return trustPath(name), &flash{Kind: "ok", Message: "Trust " + name + " saved."}, err
}

func (c *Console) trustStatus(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	active := r.PostFormValue("active") == "1"
	msg := "Trust " + name + " disabled: its tokens authenticate no client."
	if active {
		msg = "Trust " + name + " enabled."
	}
	err := c.send(r, sess, http.MethodPut, trustsAPI+"/"+url.PathEscape(name), apitype.TrustFields{IsActive: &active})
	return trustPath(name), &flash{Kind: "ok", Message: msg}, err
}

func (c *Console) trustDelete(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != "1" {
		return trustPath(name), &flash{Kind: "error", Message: "Tick the box to confirm the deletion."}, nil
	}
	if err := c.send(r, sess, http.MethodDelete, trustsAPI+"/"+url.PathEscape(name), nil); err != nil {
		return trustPath(name), nil, err
	}
	return Path + "/trusts", &flash{Kind: "ok", Message: "Trust " + name + " and its bindings deleted."}, nil
}

func (c *Console) bindingCreate(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	cond, bad := parseConditions(r.PostFormValue("conditions"))
	if bad != "" {
		return trustPath(name), &flash{Kind: "error", Message: bad}, nil
	}
	body := apitype.TrustBindingFields{ClientID: strings.TrimSpace(r.PostFormValue("client_id")),
		Subject: strings.TrimSpace(r.PostFormValue("subject")), Conditions: cond}
	err := c.send(r, sess, http.MethodPost, trustsAPI+"/"+url.PathEscape(name)+"/bindings", body)
	return trustPath(name), &flash{Kind: "ok", Message: "Client " + body.ClientID + " bound to " + body.Subject + "."}, err
}

func (c *Console) bindingDelete(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	err := c.send(r, sess, http.MethodDelete, trustsAPI+"/"+url.PathEscape(name)+"/bindings/"+url.PathEscape(r.PathValue("id")), nil)
	return trustPath(name), &flash{Kind: "ok", Message: "Binding removed: that identity no longer authenticates the client."}, err
}

// parseConditions reads binding conditions written one per line as
// "claim = value, value". The second result is a message for the form.
func parseConditions(s string) (map[string][]string, string) {
	out := map[string][]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		claim, values, ok := strings.Cut(line, "=")
		claim = strings.TrimSpace(claim)
		var vals []string
		for _, v := range strings.Split(values, ",") {
			if v = strings.TrimSpace(v); v != "" {
				vals = append(vals, v)
			}
		}
		if !ok || claim == "" || len(vals) == 0 {
			return nil, "Condition on line " + strconv.Itoa(i+1) + " must read claim = value (several values separated by commas)."
		}
		out[claim] = append(out[claim], vals...)
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, ""
}

// formatConditions writes conditions as parseConditions reads them.
func formatConditions(m map[string][]string) string {
	claims := make([]string, 0, len(m))
	for k := range m {
		claims = append(claims, k)
	}
	slices.Sort(claims)
	var b strings.Builder
	for i, k := range claims {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(k + " = " + strings.Join(m[k], ", "))
	}
	return b.String()
}
