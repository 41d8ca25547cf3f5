package oauth

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4).
type clientCredentials struct{ m Minter }

func (g clientCredentials) Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	scopes, err := GrantScopes(c.ScopeNames(), req.Scopes)
	if err != nil {
		return nil, err
	}
	aud, err := g.m.Audience(c, req.Resources)
	if err != nil {
		return nil, err
	}
	trusted := c.Trusted
	claims := wire.Claims{
		Subject:   c.ClientID,
		Audience:  aud,
		ClientID:  c.ClientID,
		Scope:     strings.Join(scopes, " "),
		Scopes:    scopes,
		Type:      wire.ClaimTypeService,
		IsTrusted: &trusted,
		Cnf:       req.Bind,
		MayAct:    MayActOf(c),
	}
	return g.m.Issue(claims, time.Duration(c.AccessTokenLifetime)*time.Second)
}

// GrantScopes applies the scope policy: no request means everything the
// client holds; a request must be a subset, or it fails with invalid_scope
// naming what is not allowed.
func GrantScopes(held, requested []string) ([]string, error) {
	if requested == nil {
		return append([]string{}, held...), nil
	}
	out := make([]string, 0, len(requested))
	var refused []string
	seen := make(map[string]bool, len(requested))
	for _, r := range requested {
		if seen[r] {
			continue
		}
		seen[r] = true
		if slices.Contains(held, r) {
			out = append(out, r)
		} else {
			refused = append(refused, r)
		}
	}
	if len(refused) > 0 {
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidScope, "Scope not allowed for this client: %s", web.QuoteList(refused, 5))
	}
	return out, nil
}

// checkIP enforces the client's allowed_ips (addresses and CIDRs).
func checkIP(c *store.Client, ip string) error {
	if len(c.AllowedIPs) == 0 {
		return nil
	}
	addr, err := netip.ParseAddr(ip)
	if err == nil {
		addr = addr.Unmap()
		for _, a := range c.AllowedIPs {
			if IPAllowed(a, addr) {
				return nil
			}
		}
	}
	return web.Errorf(http.StatusUnauthorized, wire.ErrInvalidClient, "Client authentication failed").
		WithHeader("WWW-Authenticate", `Basic realm="permiso"`)
}

// IPAllowed reports whether entry (an address, a CIDR or "*") admits addr.
func IPAllowed(entry string, addr netip.Addr) bool {
	entry = strings.TrimSpace(entry)
	if entry == "*" {
		return true
	}
	if strings.Contains(entry, "/") {
		pre, err := netip.ParsePrefix(entry)
		return err == nil && pre.Masked().Contains(addr)
	}
	a, err := netip.ParseAddr(entry)
	return err == nil && a.Unmap() == addr
}
