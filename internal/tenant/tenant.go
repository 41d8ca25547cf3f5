package tenant

import (
	"context"
	"errors"
	"strings"

	"github.com/permiso-auth/permiso/internal/store"
)

// PathPrefix starts the path of every tenant but the default one:
// /t/{name}/... .
const PathPrefix = "/t/"

// DefaultName is the reserved name of the default tenant, which is served
// at the root and never under PathPrefix.
const DefaultName = "default"

// MaxNameLen is the longest tenant name: a DNS label, so that a host name
// per tenant can use it.
const MaxNameLen = 63

// ErrName describes what a tenant name may be.
var ErrName = errors.New("a tenant name is 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")

// ValidName checks a new tenant's name: a lower-case DNS label that is not
// reserved.
func ValidName(name string) error {
	if !isLabel(name) {
		return ErrName
	}
	if name == DefaultName {
		return errors.New(`the name "default" is reserved for the default tenant`)
	}
	return nil
}

// isLabel reports whether s is a lower-case DNS label (RFC 1123).
func isLabel(s string) bool {
	if s == "" || len(s) > MaxNameLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Issuer returns the issuer URL of the tenant named name under base (the
// server's issuer, without a trailing slash): base itself for the default
// tenant.
func Issuer(base, name string) string {
	base = strings.TrimSuffix(base, "/")
	if name == DefaultName || name == "" {
		return base
	}
	return base + PathPrefix + name
}

// Info is the tenant a request belongs to, as the edge decided it.
type Info struct {
	ID     string // the store's tenant id
	Name   string
	Issuer string
}

// Default reports whether i is the default tenant.
func (i Info) Default() bool { return i.ID == store.DefaultTenant }

type ctxKey struct{}

// NewContext returns ctx carrying the request's tenant. Only the edge
// calls it.
func NewContext(ctx context.Context, i Info) context.Context {
	return context.WithValue(ctx, ctxKey{}, i)
}

// FromContext returns the tenant the edge decided for the request.
func FromContext(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(ctxKey{}).(Info)
	return i, ok
}
