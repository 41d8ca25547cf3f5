package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// introspect asks the issuer about raw (RFC 7662) and caches an active
// answer for IntrospectionCacheTTL, never beyond the token's exp.
func (g *Guard) introspect(ctx context.Context, raw string, now time.Time) (*wire.Claims, error) {
	ch := g.group.DoChan("introspect\x00"+raw, func() (any, error) {
		return g.introspectOnce(context.WithoutCancel(ctx), raw)
	})
	var c *wire.Claims
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		c = r.Val.(*wire.Claims)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	}
	until := now.Add(g.cfg.IntrospectionCacheTTL)
	if exp := time.Unix(c.Expiry, 0); c.Expiry != 0 && exp.Before(until) {
		until = exp
	}
	g.cache.put(raw, c, until, now)
	return c, nil
}

func (g *Guard) introspectOnce(ctx context.Context, raw string) (*wire.Claims, error) {
	md, err := g.metadata(ctx)
	if err != nil {
		return nil, err
	}
	if md.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("%w: issuer metadata has no introspection_endpoint", ErrUnavailable)
	}
	form := url.Values{"token": {raw}, "token_type_hint": {wire.HintAccessToken}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.IntrospectionEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: build introspection request: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(g.cfg.ClientID), url.QueryEscape(g.cfg.ClientSecret))
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: introspection: HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	var ir wire.IntrospectionResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ir); err != nil {
		return nil, fmt.Errorf("%w: decode introspection response: %v", ErrUnavailable, err)
	}
	return g.introspectionClaims(&ir)
}

// introspectionClaims checks an introspection answer against the guard's
// issuer and clock, and returns it as claims; the caller checks the
// audience.
func (g *Guard) introspectionClaims(ir *wire.IntrospectionResponse) (*wire.Claims, error) {
	now := g.cfg.Now()
	switch {
	case !ir.Active:
		return nil, invalid("inactive")
	case ir.Sub == "":
		// As a local verification requires sub (RFC 9068 §2.2): a token
		// that names no subject cannot be attributed.
		return nil, invalid("no sub")
	case ir.Iss != "" && ir.Iss != g.cfg.Issuer:
		return nil, invalid("iss %q", ir.Iss)
	case ir.Exp != 0 && !now.Before(time.Unix(ir.Exp, 0).Add(g.cfg.Leeway)):
		return nil, invalid("expired")
	}
	c := &wire.Claims{
		Issuer: issuerOf(ir, g.cfg.Issuer), Subject: ir.Sub, Audience: ir.Aud, Expiry: ir.Exp,
		IssuedAt: ir.Iat, NotBefore: ir.Nbf, ID: ir.Jti, ClientID: ir.ClientID,
		Scope: ir.Scope, Scopes: ir.Scopes, Type: ir.Type, IsTrusted: ir.IsTrusted,
		Username: ir.Username, Roles: ir.Roles, Cnf: ir.Cnf,
	}
	normalizeScopes(c)
	return c, nil
}
