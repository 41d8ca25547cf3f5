package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/dpop"
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

// possession checks proof of the key a subject token is bound to and
// returns what the new token is bound to. The holder of a DPoP key proves
// it on the token request itself ([RequirePossession]), and the new token
// stays bound to that key. A service exchanging a DPoP-bound token it was
// called with cannot sign for the caller's key: it forwards the proof the
// token came with (subject_token_dpop). That proof must be signed by the
// token's key, carry the token's hash (ath), be fresh, and not have served
// the same exchange before; the new token is then the service's, bound to
// its own key when it sent a proof of one.
func (x *Exchange) possession(ctx context.Context, req *TokenRequest, sub *wire.Claims) (*wire.Confirmation, error) {
	cnf := sub.Cnf
	if cnf == nil || cnf.JKT == "" || cnf.X5TS256 != "" || (req.Bind != nil && req.Bind.JKT == cnf.JKT) {
		return RequirePossession(req, cnf)
	}
	if req.SubjectTokenDPoP == "" {
		return nil, exchangeError(wire.ErrInvalidDPoPProof, "subject_dpop_missing",
			"The subject token is bound to a DPoP key: forward the DPoP proof it was presented with (subject_token_dpop), or send a proof of that key")
	}
	tok, err := jwt.ParseUnverified(req.SubjectTokenDPoP)
	var target struct {
		HTM string `json:"htm"`
		HTU string `json:"htu"`
	}
	if err != nil || tok.Decode(&target) != nil {
		return nil, exchangeError(wire.ErrInvalidDPoPProof, "subject_dpop_malformed", "subject_token_dpop is not a DPoP proof")
	}
	// The proof was made for the exchanging service's own URL, which Permiso
	// does not know: htm and htu are taken as the proof states them. What
	// ties it to this exchange is the key, the token's hash and its age.
	// A proof serves each exchange (audience and scope) once.
	scope := strings.Join(req.Scopes, " ")
	v, err := x.proofs(strings.Join(req.Resources, " ") + "|" + scope)
	if err != nil {
		return nil, err
	}
	_, err = v.Verify(ctx, dpop.Request{Proofs: []string{req.SubjectTokenDPoP}, Method: target.HTM, URI: target.HTU,
		AccessToken: req.SubjectToken, JKT: cnf.JKT, NoNonce: true})
	switch {
	case err == nil:
		return req.Bind, nil
	case errors.Is(err, dpop.ErrInvalidProof):
		x.cfg.Logger.DebugContext(ctx, "forwarded DPoP proof refused", "err", err)
		return nil, exchangeError(wire.ErrInvalidDPoPProof, "subject_dpop_invalid",
			"subject_token_dpop is not a fresh, unused DPoP proof of the subject token's key for that token")
	default:
		return nil, web.Unavailable(fmt.Errorf("forwarded DPoP proof: %w", err))
	}
}

// proofs returns the verifier of forwarded DPoP proofs whose jtis are
// remembered per exchange (namespace).
func (x *Exchange) proofs(namespace string) (*dpop.Verifier, error) {
	v, err := dpop.NewVerifier(dpop.Config{Replay: forwardedReplay{x.cfg.Roots, "forwarded-dpop|" + namespace}, Now: x.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("forwarded DPoP proof verifier: %w", err)
	}
	return v, nil
}

// forwardedReplay records forwarded proofs in the shared replay records.
type forwardedReplay struct {
	r         *replay.Records
	namespace string
}

func (f forwardedReplay) Use(ctx context.Context, id string, exp time.Time) error {
	err := f.r.Use(ctx, f.namespace, id, exp)
	if errors.Is(err, replay.ErrReplayed) {
		return dpop.ErrReplayed
	}
	return err
}
