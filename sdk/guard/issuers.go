package guard

import (
	"context"
	"log/slog"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// A guard for several issuers (Config.Issuers) is a parent that holds one
// single-issuer guard per issuer: its own metadata, key set, revocation
// list, introspection client and verified-token cache. The parent only
// routes a token by the iss it claims; the chosen guard then verifies it,
// iss included, with its own keys. So a kid published by one issuer can
// never verify a token that names another, and a token naming an issuer
// that is not listed is refused before any key is fetched.

// newIssuers builds the per-issuer guards of a parent guard.
func newIssuers(ctx context.Context, cfg Config) (map[string]*Guard, error) {
	out := make(map[string]*Guard, len(cfg.Issuers))
	for _, iss := range cfg.Issuers {
		c := cfg
		c.Issuer, c.Issuers = iss, nil
		c.Logger = cfg.Logger.With(slog.String("issuer", iss))
		g, err := New(ctx, c)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out[iss] = g
	}
	return out, nil
}

// forIssuer returns the guard of the issuer raw claims to come from. It
// reads the unverified payload only to route: the guard it returns checks
// everything, iss again among it.
func (g *Guard) forIssuer(raw string) (*Guard, error) {
	tok, err := jwt.ParseUnverified(raw)
	if err != nil {
		return nil, invalid("%v", err)
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if err := tok.Decode(&claims); err != nil {
		return nil, invalid("%v", err)
	}
	if claims.Issuer == "" {
		return nil, invalid("token has no iss")
	}
	child, ok := g.issuers[claims.Issuer]
	if !ok {
		return nil, invalid("issuer %q is not accepted", claims.Issuer)
	}
	return child, nil
}

// IssuerStatus is the state of one accepted issuer.
type IssuerStatus struct {
	Issuer string
	Status
}

// Issuers reports, for a guard of several issuers, the status of each (in
// the configured order); for a guard of one issuer, that issuer alone.
func (g *Guard) Issuers() []IssuerStatus {
	if g.issuers == nil {
		return []IssuerStatus{{Issuer: g.cfg.Issuer, Status: g.Status()}}
	}
	out := make([]IssuerStatus, 0, len(g.cfg.Issuers))
	for _, iss := range g.cfg.Issuers {
		out = append(out, IssuerStatus{Issuer: iss, Status: g.issuers[iss].Status()})
	}
	return out
}

// Issuer returns the verified iss of the token whose claims ctx carries
// (see [ClaimsFrom]), or "" when it carries none. A service that accepts
// several issuers (Config.Issuers) maps it to its own tenant; the value is
// the one the token was verified against, never a request header.
func Issuer(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Issuer
	}
	return ""
}

// issuerOf is the iss a verified introspection answer stands for: the one
// it names, or the issuer asked when it names none (RFC 7662 makes iss
// optional).
func issuerOf(ir *wire.IntrospectionResponse, asked string) string {
	if ir.Iss != "" {
		return ir.Iss
	}
	return asked
}
