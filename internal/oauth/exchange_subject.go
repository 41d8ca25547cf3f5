package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// errSubjectInvalid is the one answer to a subject token that does not
// verify, whatever the reason (the audit log keeps it).
func errSubjectInvalid(reason string) *web.Error {
	return exchangeError(wire.ErrInvalidRequest, reason, "The subject token is invalid, expired or revoked")
}

// subject verifies the subject token and returns its claims: a Permiso
// access token through the one access-token path (signature, revocation,
// client, user and session), or a JWT of a trust's issuer whose subject is
// bound to a client (workload identity federation). external names the
// trust of the latter.
func (x *Exchange) subject(ctx context.Context, req *TokenRequest) (c *wire.Claims, external string, err error) {
	switch req.SubjectTokenType {
	case wire.TokenTypeAccessToken, wire.TokenTypeJWT, wire.TokenTypeIDToken:
	case wire.TokenTypeRefreshToken:
		return nil, "", exchangeError(wire.ErrInvalidRequest, "subject_refresh_token",
			"A refresh token is never a subject token: it is no bearer credential")
	case wire.TokenTypeTxnToken:
		return nil, "", exchangeError(wire.ErrInvalidRequest, "subject_txn_token",
			"A transaction token is not accepted as a subject token")
	default:
		return nil, "", exchangeError(wire.ErrInvalidRequest, "subject_token_type",
			"subject_token_type %s is not supported", web.QuoteList([]string{truncate(req.SubjectTokenType, 100)}, 1))
	}
	tok, err := jwt.ParseUnverified(req.SubjectToken)
	if err != nil {
		return nil, "", errSubjectInvalid("subject_malformed")
	}
	if tok.Claims.Issuer == x.cfg.Minter.Issuer {
		if req.SubjectTokenType == wire.TokenTypeIDToken {
			return nil, "", exchangeError(wire.ErrInvalidRequest, "subject_token_type",
				"This server issues no ID tokens: send its access tokens as %s", wire.TokenTypeAccessToken)
		}
		c, err := x.permisoToken(ctx, req.SubjectToken, "subject")
		return c, "", err
	}
	if x.cfg.Federation == nil {
		return nil, "", errSubjectInvalid("subject_unknown_issuer")
	}
	return x.externalToken(ctx, tok, req.SubjectToken)
}

// permisoToken verifies one of Permiso's access tokens.
func (x *Exchange) permisoToken(ctx context.Context, raw, which string) (*wire.Claims, error) {
	c, err := x.cfg.Verifier.Verify(ctx, raw)
	switch {
	case errors.Is(err, ErrInactive):
		if which == "actor" {
			return nil, exchangeError(wire.ErrInvalidRequest, "actor_invalid", "The actor token is invalid, expired or revoked")
		}
		return nil, errSubjectInvalid("subject_invalid")
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("verify %s token: %w", which, err))
	}
	return c, nil
}

// externalToken verifies a JWT of a trust's issuer (issue 13's workload
// identity federation): its subject is the client bound to that external
// identity, holding that client's scopes.
func (x *Exchange) externalToken(ctx context.Context, tok *jwt.Token, raw string) (*wire.Claims, string, error) {
	fed := x.cfg.Federation
	m, ok, fail := fed.Find(wire.AssertionTypeJWTBearer, tok)
	if !ok {
		return nil, "", errSubjectInvalid("subject_unknown_issuer")
	}
	if fail == nil {
		_, fail = fed.Verify(ctx, m, raw)
	}
	if fail != nil {
		if fail.Unavailable {
			return nil, "", web.Unavailable(fmt.Errorf("verify external subject token: %s: %w", fail.Reason, fail.Err))
		}
		return nil, "", errSubjectInvalid("subject_external_" + fail.Reason)
	}
	bound, err := x.cfg.Verifier.Clients.GetClient(ctx, m.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !bound.Active):
		return nil, "", errSubjectInvalid("subject_client_inactive")
	case err != nil:
		return nil, "", web.Unavailable(fmt.Errorf("load client bound to external subject: %w", err))
	}
	// An external token may carry no jti; its hash then identifies it as
	// the root of what it is exchanged for.
	id := tok.Claims.ID
	if id == "" {
		sum := sha256.Sum256([]byte(raw))
		id = base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	scopes := bound.ScopeNames()
	return &wire.Claims{Issuer: tok.Claims.Issuer, Subject: bound.ClientID, Audience: wire.Audience(tok.Claims.Audience),
		Expiry: int64(tok.Claims.Expiry), IssuedAt: int64(tok.Claims.IssuedAt), ID: id, ClientID: bound.ClientID,
		Scopes: scopes, Type: wire.ClaimTypeService}, m.Trust, nil
}

// actorToken verifies the actor token: one of Permiso's access tokens
// issued to the authenticated client (RFC 8693 §2.1: it represents the
// acting party, which must be the client making the request).
func (x *Exchange) actorToken(ctx context.Context, req *TokenRequest, c *store.Client) (*wire.Claims, error) {
	switch req.ActorTokenType {
	case wire.TokenTypeAccessToken, wire.TokenTypeJWT:
	default:
		return nil, exchangeError(wire.ErrInvalidRequest, "actor_token_type",
			"actor_token_type must be %s or %s", wire.TokenTypeAccessToken, wire.TokenTypeJWT)
	}
	a, err := x.permisoToken(ctx, req.ActorToken, "actor")
	if err != nil {
		return nil, err
	}
	if a.ClientID != c.ClientID || (a.Type == wire.ClaimTypeService && a.Subject != c.ClientID) {
		return nil, exchangeError(wire.ErrInvalidRequest, "actor_not_client",
			"The actor token must be one issued to the client making this request")
	}
	if _, err := RequirePossession(req, a.Cnf); err != nil {
		return nil, err
	}
	return a, nil
}
