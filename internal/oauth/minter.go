package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Minter is what every grant shares to turn its decision into a token
// response: the issuer, the audience rule and the access-token signer. It
// holds no state of its own, so the provider, the user-token issuer and the
// authorize handler each take the same value at construction.
type Minter struct {
	Issuer string
	// APIAudiences are the audiences of Permiso's own API besides the
	// issuer (the --api-audience option).
	APIAudiences []string
	Tokens       *tokens.Service
}

// Issue mints an access token for claims and wraps it in a token response.
func (m Minter) Issue(claims wire.Claims, ttl time.Duration) (*TokenResult, error) {
	if ttl <= 0 {
		ttl = time.Hour
	}
	tok, signed, err := m.Tokens.Mint(claims, ttl)
	if err != nil {
		return nil, err
	}
	typ := wire.TokenTypeBearer
	if claims.Cnf != nil && claims.Cnf.JKT != "" {
		typ = wire.TokenTypeDPoP // RFC 9449 §5
	}
	return &TokenResult{
		TokenResponse: wire.TokenResponse{AccessToken: tok, TokenType: typ,
			ExpiresIn: int64(ttl / time.Second), Scope: signed.Scope},
		Claims: signed,
	}, nil
}

// Audience resolves RFC 8707 resources to the token's aud: each must be an
// allowed audience of the client, or Permiso's own (the issuer and the
// APIAudiences: every client may call Permiso's API, which accepts only
// tokens naming it); none means the client's default (the first), or the
// issuer when the client has none.
func (m Minter) Audience(c *store.Client, resources []string) (wire.Audience, error) {
	if len(resources) == 0 {
		if len(c.Audiences) > 0 {
			return wire.Audience{c.Audiences[0]}, nil
		}
		return wire.Audience{m.Issuer}, nil
	}
	aud := make(wire.Audience, 0, len(resources))
	for _, r := range resources {
		u, err := url.Parse(r)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "Resource must be an absolute URI without a fragment")
		}
		allowed := slices.Contains(c.Audiences, r) || r == m.Issuer || slices.Contains(m.APIAudiences, r)
		if !allowed {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "Resource %s is not allowed for this client", web.QuoteList([]string{r}, 1))
		}
		if !aud.Contains(r) {
			aud = append(aud, r)
		}
	}
	return aud, nil
}
