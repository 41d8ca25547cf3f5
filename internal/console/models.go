package console

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// The API's shapes are internal/apitype's; the views below only add what
// the pages ask of them.

// splitList splits a form field on commas, spaces and newlines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// userView is the API's user with what the pages ask of it.
type userView struct{ apitype.User }

// Locked reports a lockout in force, as the API decided it on its clock
// (is_locked); the console does not read the time itself.
func (u userView) Locked() bool { return u.IsLocked }

// HasRole reports whether the user holds the role with id.
func (u userView) HasRole(id string) bool {
	for _, r := range u.Roles {
		if r.ID == id {
			return true
		}
	}
	return false
}

type userList struct {
	apitype.Paging
	Users []userView `json:"users"`
}

// roleView is the API's role with what the pages ask of it.
type roleView struct{ apitype.Role }

// HasScope reports whether the role holds the scope with id.
func (r roleView) HasScope(id string) bool {
	for _, s := range r.Scopes {
		if s.ID == id {
			return true
		}
	}
	return false
}

type roleList struct {
	apitype.Paging
	Roles []roleView `json:"roles"`
}

// clientView is the API's client with what the client page asks of it.
type clientView struct {
	apitype.Client
	// Bindings are the trust bindings of a federated client.
	Bindings []apitype.TrustBinding `json:"-"`
}

// authMethods are the methods a confidential client may register, for the
// forms, each with what it asks of the client.
var authMethods = []struct{ Value, Label string }{
	{"client_secret_basic", "client secret (HTTP Basic)"},
	{"client_secret_post", "client secret (form body)"},
	{"private_key_jwt", "private key JWT: the client signs an assertion; register its public keys"},
	{"tls_client_auth", "mutual TLS with a certificate from the client CAs; register its subject"},
	{"self_signed_tls_client_auth", "mutual TLS with a self-signed certificate; register its key as a JWK with x5c"},
	{"federated_jwt", "workload identity: a token of a trust (Kubernetes, CI); bind it on the trust's page"},
	{"spiffe_jwt", "SPIFFE JWT-SVID; the client id is the SPIFFE ID; bind it on the trust's page"},
}

// UsesSecret reports whether the client authenticates with a secret.
func (c clientView) UsesSecret() bool {
	switch c.TokenEndpointAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
		return c.ClientType != "public"
	}
	return false
}

// Federated reports whether the client authenticates with a trust's token.
func (c clientView) Federated() bool {
	return c.TokenEndpointAuthMethod == "federated_jwt" || c.TokenEndpointAuthMethod == "spiffe_jwt"
}

// KeyIDs lists the kid of each registered key ("(no kid)" for a key without).
func (c clientView) KeyIDs() []string {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if len(c.JWKS) == 0 || json.Unmarshal(c.JWKS, &set) != nil {
		return nil
	}
	out := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" {
			k.Kid = "(no kid)"
		}
		out = append(out, k.Kid+" ("+k.Kty+")")
	}
	return out
}

// TLSSubject returns the registered certificate subject field and value.
func (c clientView) TLSSubject() (field, value string) {
	for _, f := range []struct{ name, v string }{
		{"subject_dn", c.TLSClientAuthSubjectDN}, {"san_dns", c.TLSClientAuthSANDNS}, {"san_uri", c.TLSClientAuthSANURI},
		{"san_ip", c.TLSClientAuthSANIP}, {"san_email", c.TLSClientAuthSANEmail},
	} {
		if f.v != "" {
			return f.name, f.v
		}
	}
	return "", ""
}

// TLSField and TLSValue are TLSSubject's halves, for the templates.
func (c clientView) TLSField() string { f, _ := c.TLSSubject(); return f }
func (c clientView) TLSValue() string { _, v := c.TLSSubject(); return v }

// ExchangeGrant reports whether the client may use the token-exchange grant.
func (c clientView) ExchangeGrant() bool {
	return slices.Contains(c.GrantTypes, wire.GrantTokenExchange)
}

// ExchangeJSON is the client's token-exchange policy as indented JSON for
// the form, or "" when it has none.
func (c clientView) ExchangeJSON() string {
	p := c.TokenExchange
	if len(p.Resources) == 0 && len(p.Targets) == 0 && len(p.Actors) == 0 && !p.Delegate && !p.Impersonate {
		return ""
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}
