package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// UserGetter reads a user with their roles and scopes.
type UserGetter interface {
	GetUser(ctx context.Context, id string) (store.User, error)
}

// ExchangeConfig configures [NewExchange]. Minter, Verifier and Users are
// required.
type ExchangeConfig struct {
	Minter Minter
	// Verifier is the one access-token verification path; Permiso tokens
	// presented as subject or actor tokens pass it whole (signature,
	// revocation, client, user and session).
	Verifier AccessVerifier
	// Users re-resolves a user's scopes from their roles at the time of
	// the exchange.
	Users UserGetter
	// Federation verifies external subject tokens against the trusts;
	// nil: only Permiso's own tokens are accepted.
	Federation *federation.Federation
	// Roots remembers which tokens were exchanged, shared by replicas: the
	// provider's Config.Replay (the same records), so that revoking one of
	// them revokes what was derived from it.
	Roots *replay.Records
	// TrustDomain is the aud of transaction tokens and the one audience a
	// transaction-token request may name; empty turns them off.
	TrustDomain string
	// TxnLifetime bounds transaction tokens; default 60 s.
	TxnLifetime time.Duration
	Audit       audit.Recorder // nil: audit.Discard
	Logger      *slog.Logger
	Now         func() time.Time
}

// Exchange is the token-exchange grant (RFC 8693), which also issues
// transaction tokens (draft-ietf-oauth-transaction-tokens-11). See
// docs/delegation.md for the rules it applies.
type Exchange struct{ cfg ExchangeConfig }

// NewExchange returns the grant; give [Exchange.Grant] to the provider.
func NewExchange(cfg ExchangeConfig) (*Exchange, error) {
	if cfg.Minter.Tokens == nil || cfg.Verifier.Tokens == nil || cfg.Verifier.Revocations == nil ||
		cfg.Verifier.Clients == nil || cfg.Users == nil || cfg.Roots == nil {
		return nil, errors.New("oauth: token exchange needs a minter, the access-token verifier, the users and the root records")
	}
	if cfg.TxnLifetime <= 0 {
		cfg.TxnLifetime = time.Minute
	}
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Exchange{cfg: cfg}, nil
}

// exchangeRoots is the namespace of the replay records that remember the
// tokens that were exchanged (the roots of derived tokens). Revoking a
// root publishes a root_jti entry only when it has derivations, so the
// revocation feed does not grow by an entry for every other revoked token.
const exchangeRoots = "exchange-root"

// noteRoot remembers that root was exchanged, until it expires. Without a
// record a later revocation could miss what was derived from it, so a
// failure refuses the exchange.
func noteRoot(ctx context.Context, rec *replay.Records, root string, exp time.Time) error {
	err := rec.Use(ctx, exchangeRoots, root, exp)
	if err == nil || errors.Is(err, replay.ErrReplayed) {
		return nil
	}
	return web.Unavailable(fmt.Errorf("record exchanged token: %w", err))
}

// exchangedRoot reports whether the token with jti root was exchanged;
// when the records cannot tell, it says yes.
func exchangedRoot(ctx context.Context, rec *replay.Records, root string, exp time.Time) bool {
	return rec.Use(ctx, exchangeRoots, root, exp) != nil
}

// Grant returns the grant for the provider's Config.Grants.
func (x *Exchange) Grant() GrantType { return GrantType{Name: wire.GrantTokenExchange, Grant: x} }

// exchangeError is a refusal: its code and description go to the client,
// its reason to the audit log.
func exchangeError(code, reason, format string, args ...any) *web.Error {
	e := web.Errorf(http.StatusBadRequest, code, format, args...)
	e.Err = errors.New(reason)
	return e
}

// exchange is what one request decides, for the token and the audit log.
type exchange struct {
	subject  *wire.Claims
	external string // the trust, for a subject token of another issuer
	act      *wire.Actor
	mode     string // delegation, impersonation or transaction
	cnf      *wire.Confirmation
	aud      wire.Audience
	scopes   []string
}

// Token implements [Grant]. Every exchange, granted or refused, is
// audited with its subject, actor chain, audience and scopes.
func (x *Exchange) Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	ex := &exchange{}
	res, err := x.token(ctx, req, c, ex)
	x.record(ctx, req, c, ex, res, err)
	if err != nil {
		return nil, err
	}
	res.Audited = true
	return res, nil
}

func (x *Exchange) token(ctx context.Context, req *TokenRequest, c *store.Client, ex *exchange) (*TokenResult, error) {
	txn, err := x.checkRequest(req)
	if err != nil {
		return nil, err
	}
	pol := &c.TokenExchange
	if len(pol.Targets) == 0 {
		return nil, exchangeError(wire.ErrUnauthorizedClient, "no_policy", "This client has no token-exchange policy")
	}
	if ex.subject, ex.external, err = x.subject(ctx, req); err != nil {
		return nil, err
	}
	sub := ex.subject
	if !acceptsSubject(pol, sub, c.ClientID) {
		return nil, exchangeError(wire.ErrInvalidRequest, "subject_not_for_client",
			"The subject token was not issued for this client, and its may_act does not name it")
	}
	// A subject token bound to a key is exchanged only with proof of that
	// key, and what is derived from it stays bound.
	if ex.cnf, err = x.possession(ctx, req, sub); err != nil {
		return nil, err
	}
	if ex.aud, err = x.audience(pol, req, txn); err != nil {
		return nil, err
	}
	if ex.scopes, err = x.scopes(ctx, pol, sub, ex.aud, req.Scopes, txn); err != nil {
		return nil, err
	}
	if sub.RootID == "" && ex.external == "" {
		if err := noteRoot(ctx, x.cfg.Roots, sub.ID, time.Unix(sub.Expiry, 0)); err != nil {
			return nil, err
		}
	}
	if txn {
		ex.mode, ex.act = "transaction", sub.Act
		return x.issueTxn(req, c, ex)
	}
	if ex.act, ex.mode, err = x.actor(ctx, req, c, pol, sub.Act); err != nil {
		return nil, err
	}
	if d := ex.act.Depth(); d > pol.Depth() {
		return nil, exchangeError(wire.ErrInvalidRequest, "chain_too_deep",
			"The actor chain would be %d long; this client's policy allows %d", d, pol.Depth())
	}
	return x.issue(req, c, ex)
}

// checkRequest applies RFC 8693 §2.1 to the parameters and reports whether
// a transaction token is asked for.
func (x *Exchange) checkRequest(req *TokenRequest) (txn bool, err error) {
	switch {
	case req.SubjectToken == "":
		return false, exchangeError(wire.ErrInvalidRequest, "no_subject_token", "The subject_token parameter is required")
	case req.SubjectTokenType == "":
		return false, exchangeError(wire.ErrInvalidRequest, "no_subject_token_type", "The subject_token_type parameter is required")
	case req.ActorToken != "" && req.ActorTokenType == "":
		return false, exchangeError(wire.ErrInvalidRequest, "no_actor_token_type", "The actor_token_type parameter is required with actor_token")
	case req.ActorToken == "" && req.ActorTokenType != "":
		return false, exchangeError(wire.ErrInvalidRequest, "actor_token_type_alone", "The actor_token_type parameter is only allowed with actor_token")
	}
	switch req.RequestedTokenType {
	case "", wire.TokenTypeAccessToken, wire.TokenTypeJWT:
		if req.RequestContext != "" || req.RequestDetails != "" {
			return false, exchangeError(wire.ErrInvalidRequest, "txn_parameters",
				"request_context and request_details belong to a transaction-token request")
		}
		return false, nil
	case wire.TokenTypeTxnToken:
		if x.cfg.TrustDomain == "" {
			return false, exchangeError(wire.ErrInvalidRequest, "txn_disabled", "Transaction tokens are not enabled on this server")
		}
		if req.ActorToken != "" {
			return false, exchangeError(wire.ErrInvalidRequest, "txn_actor_token",
				"A transaction-token request takes no actor_token: the requesting client is req_wl")
		}
		if len(req.Scopes) == 0 {
			return false, exchangeError(wire.ErrInvalidRequest, "txn_no_scope", "A transaction-token request needs a scope: the purpose of the transaction")
		}
		return true, nil
	}
	return false, exchangeError(wire.ErrInvalidRequest, "requested_token_type",
		"requested_token_type must be %s, %s or %s", wire.TokenTypeAccessToken, wire.TokenTypeJWT, wire.TokenTypeTxnToken)
}

// acceptsSubject is the rule against confused deputies: a client exchanges
// only a token that was meant for it (its aud names a resource the client
// serves) or that names it in may_act.
func acceptsSubject(pol *store.ExchangePolicy, sub *wire.Claims, clientID string) bool {
	for _, r := range pol.Resources {
		if sub.Audience.Contains(r) {
			return true
		}
	}
	return sub.MayAct.Allows(clientID)
}

// audience returns the new token's aud: the requested resources and
// audiences, each a target of the client's policy; none means the first
// target (the trust domain for a transaction token).
func (x *Exchange) audience(pol *store.ExchangePolicy, req *TokenRequest, txn bool) (wire.Audience, error) {
	if txn {
		if len(req.Resources) > 1 || (len(req.Resources) == 1 && req.Resources[0] != x.cfg.TrustDomain) {
			return nil, exchangeError(wire.ErrInvalidTarget, "txn_audience",
				"A transaction token's audience is the trust domain %s alone", web.QuoteList([]string{x.cfg.TrustDomain}, 1))
		}
		if _, ok := pol.Target(x.cfg.TrustDomain); !ok {
			return nil, exchangeError(wire.ErrInvalidTarget, "txn_not_allowed", "This client may not obtain transaction tokens")
		}
		return wire.Audience{x.cfg.TrustDomain}, nil
	}
	if len(req.Resources) == 0 {
		for _, t := range pol.Targets {
			if t.Audience != x.cfg.TrustDomain || x.cfg.TrustDomain == "" {
				return wire.Audience{t.Audience}, nil
			}
		}
		return nil, exchangeError(wire.ErrInvalidTarget, "no_target", "This client may exchange tokens for no audience")
	}
	var aud wire.Audience
	var refused []string
	for _, r := range req.Resources {
		if _, ok := pol.Target(r); !ok || (r == x.cfg.TrustDomain && x.cfg.TrustDomain != "") {
			refused = append(refused, r)
		} else if !aud.Contains(r) {
			aud = append(aud, r)
		}
	}
	if len(refused) > 0 {
		return nil, exchangeError(wire.ErrInvalidTarget, "target_not_allowed",
			"This client may not exchange tokens for %s", web.QuoteList(refused, 3))
	}
	return aud, nil
}

// scopes narrows: the result holds only scopes that the subject holds now
// (a user's re-resolved from their roles), that the client's policy allows
// for every audience, and, when scope was sent, that were asked for.
func (x *Exchange) scopes(ctx context.Context, pol *store.ExchangePolicy, sub *wire.Claims, aud wire.Audience, requested []string, txn bool) ([]string, error) {
	held := sub.Scopes
	if len(held) == 0 && sub.Scope != "" {
		held = strings.Fields(sub.Scope)
	}
	if sub.Type == wire.ClaimTypeAccess {
		u, err := x.cfg.Users.GetUser(ctx, sub.Subject)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, exchangeError(wire.ErrInvalidRequest, "user_gone", "The subject token is invalid, expired or revoked")
			}
			return nil, web.Unavailable(fmt.Errorf("load user of subject token: %w", err))
		}
		now := UserScopes(&u, nil, nil)
		held = slices.DeleteFunc(slices.Clone(held), func(s string) bool { return !wire.HasScope(now, s) })
	}
	allowed := func(s string) bool {
		if !wire.HasScope(held, s) {
			return false
		}
		for _, a := range aud {
			t, _ := pol.Target(a)
			if !wire.HasScope(t.Scopes, s) {
				return false
			}
		}
		return true
	}
	out := []string{}
	if requested == nil {
		for _, s := range held {
			if allowed(s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out, nil
	}
	var refused []string
	for _, s := range requested {
		switch {
		case slices.Contains(out, s):
		case allowed(s):
			out = append(out, s)
		default:
			refused = append(refused, s)
		}
	}
	if len(refused) > 0 {
		what := "the subject token"
		if txn {
			what = "the transaction's subject"
		}
		return nil, exchangeError(wire.ErrInvalidScope, "scope_not_allowed",
			"Scope not held by %s or not allowed for this client at the audience: %s", what, web.QuoteList(refused, 5))
	}
	return out, nil
}

// actor returns the new token's act claim and the exchange's mode. With an
// actor token the client delegates for the party it names; without one
// the client itself acts, impersonating the subject when its policy allows
// that, and delegating otherwise.
// The subject token's own chain (prior) is kept under the new actor.
func (x *Exchange) actor(ctx context.Context, req *TokenRequest, c *store.Client, pol *store.ExchangePolicy, prior *wire.Actor) (*wire.Actor, string, error) {
	if req.ActorToken == "" && pol.Impersonate {
		return prior, "impersonation", nil
	}
	if !pol.Delegate {
		return nil, "", exchangeError(wire.ErrUnauthorizedClient, "delegation_not_allowed", "This client may not act for others")
	}
	act := &wire.Actor{Subject: c.ClientID, ClientID: c.ClientID, Act: prior}
	if req.ActorToken != "" {
		a, err := x.actorToken(ctx, req, c)
		if err != nil {
			return nil, "", err
		}
		act.Subject = a.Subject
	}
	return act, "delegation", nil
}
