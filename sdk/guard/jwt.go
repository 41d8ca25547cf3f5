package guard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// invalid returns an error wrapping ErrInvalidToken with a log detail.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// newVerifier returns the verifier of RFC 9068 access tokens for cfg: typ
// at+jwt, keys from the issuer's JWKS, iss and the claims §2.2 requires
// (aud, sub, exp, iat, jti). Which audience aud must contain is checked by
// VerifyFor on every call, cache hits included.
func newVerifier(cfg Config, keys jwt.KeySet) (*jwt.Verifier, error) {
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = -1 // cfg.Leeway is already defaulted: zero here means none
	}
	return jwt.NewVerifier(jwt.Config{
		Keys:       keys,
		Types:      []string{wire.AccessTokenJWTType},
		Algorithms: cfg.Algorithms,
		Issuer:     cfg.Issuer,
		Require:    []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimAudience, jwt.ClaimExpiry, jwt.ClaimIssuedAt, jwt.ClaimID},
		Leeway:     leeway,
		Now:        cfg.Now,
		MaxBytes:   cfg.MaxTokenBytes,
	})
}

// verifyJWT checks a JWT access token (RFC 9068) and returns its claims.
func (g *Guard) verifyJWT(ctx context.Context, raw string) (*wire.Claims, error) {
	tok, err := g.verifier.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, jwt.ErrInvalid) {
			return nil, invalid("%v", err)
		}
		return nil, err // the issuer's keys could not be fetched: ErrUnavailable
	}
	var c wire.Claims
	if err := tok.Decode(&c); err != nil {
		return nil, invalid("%v", err)
	}
	normalizeScopes(&c)
	return &c, nil
}

// normalizeScopes fills whichever of scope and scopes the issuer left out,
// so accessors and requirements see one list.
func normalizeScopes(c *wire.Claims) {
	switch {
	case len(c.Scopes) == 0 && c.Scope != "":
		c.Scopes = strings.Fields(c.Scope)
	case c.Scope == "" && len(c.Scopes) > 0:
		c.Scope = strings.Join(c.Scopes, " ")
	}
}
