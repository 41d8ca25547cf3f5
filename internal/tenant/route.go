package tenant

import (
	"path"
	"strings"
)

// Well-known paths that name a tenant after them (RFC 8414 §3.1: the
// well-known path goes between the host and the issuer's path).
var wellKnown = []string{
	"/.well-known/oauth-authorization-server",
	"/.well-known/openid-configuration",
}

// Route is how a request path names a tenant.
type Route struct {
	// Name is the tenant's name; empty for the default tenant.
	Name string
	// Path is what the tenant's own handler serves: the request path
	// without the tenant's prefix (always starting with '/').
	Path string
}

// Split decides, from a request path alone, which tenant it is for and
// what path the tenant serves. ok is false for a path that is not clean
// (dot segments, empty segments, a trailing "/.."): such a path could name
// one tenant to a naive router and another after cleaning, so it is
// refused instead. A name is returned as written; whether such a tenant
// exists is the caller's question.
//
//	/oauth2/token                                   → default, /oauth2/token
//	/t/acme/oauth2/token                            → acme, /oauth2/token
//	/t/acme                                         → acme, /
//	/.well-known/oauth-authorization-server/t/acme  → acme, /.well-known/oauth-authorization-server
//	/.well-known/openid-configuration/t/acme        → acme, /.well-known/openid-configuration
func Split(p string) (r Route, ok bool) {
	if p == "" || p[0] != '/' || !clean(p) {
		return Route{}, false
	}
	if rest, found := strings.CutPrefix(p, PathPrefix); found {
		name, sub, _ := strings.Cut(rest, "/")
		if name == "" {
			return Route{}, false
		}
		return Route{Name: name, Path: "/" + sub}, true
	}
	if p == strings.TrimSuffix(PathPrefix, "/") {
		return Route{}, false // "/t" alone names no tenant
	}
	for _, wk := range wellKnown {
		if rest, found := strings.CutPrefix(p, wk+PathPrefix); found {
			if rest == "" || strings.Contains(rest, "/") {
				return Route{}, false
			}
			return Route{Name: rest, Path: wk}, true
		}
	}
	return Route{Path: p}, true
}

// clean reports whether p is already in the form path.Clean gives it (a
// trailing slash aside, which routes distinguish).
func clean(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}
