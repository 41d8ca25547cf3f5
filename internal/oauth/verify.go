package oauth

import (
	"context"
	"errors"
	"github.com/permiso-auth/permiso/internal/web"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// ErrInactive is returned for any token that is not currently valid. The
// reason is for logs only; every caller answers it the same way.
var ErrInactive = errors.New("token inactive")

// ErrNotOwner is returned when a caller revokes a token that is not its own.
var ErrNotOwner = errors.New("token belongs to another client or user")

// Revoker is who asks to revoke a token. A client (RFC 7009 §2.1) revokes
// the tokens issued to it; a user (Subject set: the API's revocation with a
// user's bearer token) revokes only tokens of their own subject, since the
// users of one first-party client share its client_id; Admin
// (admin:tokens) revokes any token.
type Revoker struct {
	ClientID string
	Subject  string
	Admin    bool
}

// owns reports whether r may revoke a token issued to clientID for subject.
func (r Revoker) owns(clientID, subject string) bool {
	switch {
	case r.Admin:
		return true
	case r.Subject != "":
		return subject != "" && subject == r.Subject
	default:
		return clientID != "" && clientID == r.ClientID
	}
}

// SubjectChecker decides whether the subject behind a user token may still
// act (the user exists and is active, the session lives; a lockout
// refuses new logins only). The
// account service implements it (Config.Subjects).
type SubjectChecker interface {
	SubjectActive(ctx context.Context, c *wire.Claims) (bool, error)
}

// RefreshTokens handles opaque refresh tokens at the introspection and
// revocation endpoints; [UserTokens] implements it (Config.RefreshTokens).
type RefreshTokens interface {
	IntrospectRefresh(ctx context.Context, token string) (wire.IntrospectionResponse, error)
	RevokeRefresh(ctx context.Context, token string, by Revoker) error
}

// VerifyAccess is the one verification path for access tokens presented to
// Permiso (see [AccessVerifier]).
func (p *Provider) VerifyAccess(ctx context.Context, raw string) (*wire.Claims, error) {
	return p.accessVerifier().Verify(ctx, raw)
}

func (p *Provider) accessVerifier() AccessVerifier {
	return AccessVerifier{Tokens: p.cfg.Tokens, Revocations: p.cfg.Revocations, Clients: p.cfg.Store, Subjects: p.cfg.Subjects}
}

// ClientGetter reads a client by client_id (the store's cache serves it
// from memory).
type ClientGetter interface {
	GetClient(ctx context.Context, clientID string) (store.Client, error)
}

// AccessVerifier is the one verification path for access tokens presented
// to Permiso: signature, issuer, times, the revocation list (the token, its
// session and the token it was derived from), and the current state of the
// client (and user) behind it. Refresh tokens are never bearer credentials.
// It holds no state: the provider and the token-exchange grant each take
// the same parts at construction. Tokens, Revocations and Clients are
// required; without Subjects user tokens are judged by signature, time,
// revocation and client only.
type AccessVerifier struct {
	Tokens      *tokens.Service
	Revocations *tokens.RevocationList
	Clients     ClientGetter
	Subjects    SubjectChecker
}

// Verify checks raw and returns its claims. Every reason a token is not
// valid now is ErrInactive; other errors mean the store could not answer.
func (v AccessVerifier) Verify(ctx context.Context, raw string) (*wire.Claims, error) {
	if strings.HasPrefix(raw, tokens.RefreshPrefix) {
		return nil, ErrInactive
	}
	c, err := v.Tokens.Verify(raw)
	if err != nil {
		return nil, errors.Join(ErrInactive, err)
	}
	if v.Revocations.Covers(c) {
		return nil, ErrInactive
	}
	if c.ClientID != "" {
		cl, err := v.Clients.GetClient(ctx, c.ClientID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !cl.Active) {
			return nil, ErrInactive
		}
		if err != nil {
			return nil, err
		}
	} else if c.Type == wire.ClaimTypeService {
		return nil, ErrInactive
	}
	if c.Type == wire.ClaimTypeAccess && v.Subjects != nil {
		ok, err := v.Subjects.SubjectActive(ctx, c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrInactive
		}
	}
	return c, nil
}

// Introspect answers RFC 7662 for a token. Anything not active is
// {"active":false}; errors are only for a store that is down.
func (p *Provider) Introspect(ctx context.Context, raw string) (wire.IntrospectionResponse, error) {
	if strings.HasPrefix(raw, tokens.RefreshPrefix) {
		if p.cfg.RefreshTokens == nil {
			return wire.IntrospectionResponse{}, nil
		}
		return p.cfg.RefreshTokens.IntrospectRefresh(ctx, raw)
	}
	c, err := p.VerifyAccess(ctx, raw)
	active := err == nil
	if f := p.cfg.Observer.Introspection; f != nil {
		f(active)
	}
	if errors.Is(err, ErrInactive) {
		return wire.IntrospectionResponse{}, nil
	}
	if err != nil {
		return wire.IntrospectionResponse{}, err
	}
	return IntrospectionOf(c), nil
}

// IntrospectionOf builds the RFC 7662 response for active claims. A bound
// token's cnf comes along, and a DPoP-bound token's token_type is DPoP
// (RFC 9449 §6.2, RFC 8705 §3.2), so a resource server that introspects can
// check the binding.
func IntrospectionOf(c *wire.Claims) wire.IntrospectionResponse {
	typ := wire.TokenTypeBearer
	if c.Cnf != nil && c.Cnf.JKT != "" {
		typ = wire.TokenTypeDPoP
	}
	return wire.IntrospectionResponse{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, Username: c.Username,
		TokenType: typ, Exp: c.Expiry, Iat: c.IssuedAt, Nbf: c.NotBefore,
		Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID,
		Scopes: c.Scopes, Type: c.Type, IsTrusted: c.IsTrusted, Roles: c.Roles, Cnf: c.Cnf, Act: c.Act,
	}
}

// Revoke revokes a token on behalf of by. Unknown, malformed and expired
// tokens succeed silently (RFC 7009 §2.2); a valid token that is not by's
// is ErrNotOwner.
func (p *Provider) Revoke(ctx context.Context, raw string, by Revoker) error {
	if strings.HasPrefix(raw, tokens.RefreshPrefix) {
		if p.cfg.RefreshTokens == nil {
			return nil
		}
		return p.cfg.RefreshTokens.RevokeRefresh(ctx, raw, by)
	}
	c, err := p.cfg.Tokens.Verify(raw)
	if err != nil {
		return nil
	}
	if !by.owns(c.ClientID, c.Subject) {
		return ErrNotOwner
	}
	exp := time.Unix(c.Expiry, 0)
	if err := p.cfg.Revocations.Revoke(ctx, c.ID, exp); err != nil {
		return err
	}
	// Revocation follows derivation: the tokens obtained by exchanging this
	// one (they carry its jti as root_jti and never outlive it) go with it.
	if c.RootID == "" && exchangedRoot(ctx, p.replay, c.ID, exp) {
		if err := p.cfg.Revocations.RevokeDerived(ctx, c.ID, exp); err != nil {
			return err
		}
	}
	if f := p.cfg.Observer.Revocation; f != nil {
		f()
	}
	return nil
}

func revokeEvent(r *http.Request, clientID string) store.AuditEvent {
	return store.AuditEvent{Type: "token.revoked", Outcome: "success", ActorType: "client", ActorID: clientID,
		IP: web.ClientIP(r.Context()), UserAgent: truncate(r.UserAgent(), 256), RequestID: web.RequestID(r.Context())}
}
