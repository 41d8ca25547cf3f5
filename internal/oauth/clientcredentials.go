package oauth

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// clientCredentials is the client_credentials grant (RFC 6749 §4.4).
type clientCredentials struct{ p *Provider }

func (g clientCredentials) Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	scopes, err := GrantScopes(c.ScopeNames(), req.Scopes)
	if err != nil {
		return nil, err
	}
	aud, err := g.p.Audience(c, req.Resources)
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
	}
	return g.p.Issue(claims, time.Duration(c.AccessTokenLifetime)*time.Second)
}

// Issue mints an access token for claims and wraps it in a token response.
func (p *Provider) Issue(claims wire.Claims, ttl time.Duration) (*TokenResult, error) {
	if ttl <= 0 {
		ttl = time.Hour
	}
	tok, signed, err := p.cfg.Tokens.Mint(claims, ttl)
	if err != nil {
		return nil, err
	}
	return &TokenResult{
		TokenResponse: wire.TokenResponse{AccessToken: tok, TokenType: wire.TokenTypeBearer,
			ExpiresIn: int64(ttl / time.Second), Scope: signed.Scope},
		Claims: signed,
	}, nil
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
		if contains(held, r) {
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

// Audience resolves RFC 8707 resources to the token's aud: each must be an
// allowed audience of the client; none means the client's default (the
// first), or the issuer when the client has none.
func (p *Provider) Audience(c *store.Client, resources []string) (wire.Audience, error) {
	if len(resources) == 0 {
		if len(c.Audiences) > 0 {
			return wire.Audience{c.Audiences[0]}, nil
		}
		return wire.Audience{p.cfg.Issuer}, nil
	}
	aud := make(wire.Audience, 0, len(resources))
	for _, r := range resources {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "Resource must be an absolute URI without a fragment")
		}
		allowed := contains(c.Audiences, r) || (len(c.Audiences) == 0 && r == p.cfg.Issuer)
		if !allowed {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "Resource %s is not allowed for this client", web.QuoteList([]string{r}, 1))
		}
		if !aud.Contains(r) {
			aud = append(aud, r)
		}
	}
	return aud, nil
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

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
