// Package tenant owns what a tenant is at the HTTP edge: the rules for a
// tenant's name, its issuer URL, how a request path names a tenant, and
// the request context that carries the tenant decided there. The edge
// (internal/server) decides the tenant once per request, from the URL
// only; everything after it reads the tenant from the context or, better,
// is already the tenant's own instance. See docs/tenants.md.
package tenant
