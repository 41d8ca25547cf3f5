package guard

import (
	"context"

	"github.com/permiso-auth/permiso/sdk/wire"
)

type authKey struct{}

// auth is what the guard learnt about a request: one context value, so
// letting a request through costs one allocation however much it carries.
type auth struct {
	claims  *wire.Claims
	token   string  // the access token itself, for exchanging it
	binding Binding // how the request proved it holds the token
	proof   string  // the DPoP proof of a DPoP-bound token
	txn     *wire.TxnClaims
	rawTxn  string
}

func authFrom(ctx context.Context) *auth {
	a, _ := ctx.Value(authKey{}).(*auth)
	return a
}

// WithClaims returns a copy of ctx carrying c, as [Guard.Require] does for
// the requests it lets through.
func WithClaims(ctx context.Context, c *wire.Claims) context.Context {
	return context.WithValue(ctx, authKey{}, &auth{claims: c})
}

// WithToken returns a copy of ctx carrying c and the bearer token it was
// verified from, as [Guard.Require] does: [AccessToken] returns it, so the
// service can exchange it for a token meant for the next service.
func WithToken(ctx context.Context, c *wire.Claims, token string) context.Context {
	return context.WithValue(ctx, authKey{}, &auth{claims: c, token: token})
}

// WithBinding returns a copy of ctx carrying c, the token it was verified
// from and how the request proved it holds the token, as [Guard.Require]
// does.
func WithBinding(ctx context.Context, c *wire.Claims, token string, b Binding) context.Context {
	return context.WithValue(ctx, authKey{}, &auth{claims: c, token: token, binding: b})
}

// BindingFrom says how the request carried by ctx proved it holds its
// token: [Bearer] (the token alone), [DPoP] or [MTLS]; "" when ctx
// carries no verified request or none was recorded.
func BindingFrom(ctx context.Context) Binding {
	if a := authFrom(ctx); a != nil {
		return a.binding
	}
	return ""
}

// DPoPProof returns the DPoP proof the request presented its DPoP-bound
// token with, or "". A service that exchanges the token forwards it (the
// Exchanger's transport does), so that the authorization server sees the
// token's key was proved: nobody but the key's holder could have made it.
func DPoPProof(ctx context.Context) string {
	if a := authFrom(ctx); a != nil {
		return a.proof
	}
	return ""
}

// ClaimsFrom returns the verified claims carried by ctx, if any. They must
// not be modified.
func ClaimsFrom(ctx context.Context) (*wire.Claims, bool) {
	a := authFrom(ctx)
	if a == nil || a.claims == nil {
		return nil, false
	}
	return a.claims, true
}

// AccessToken returns the bearer token the request was let through with,
// or "". It is a credential: pass it only to the authorization server's
// token exchange (see clientcredentials.Exchanger), never to a log or to
// another service.
func AccessToken(ctx context.Context) string {
	if a := authFrom(ctx); a != nil {
		return a.token
	}
	return ""
}

// TxnToken returns the verified transaction token of the request (the
// Txn-Token header), if the guard reads them (Config.TrustDomain) and the
// request carried one. The claims must not be modified.
func TxnToken(ctx context.Context) (*wire.TxnClaims, bool) {
	a := authFrom(ctx)
	if a == nil || a.txn == nil {
		return nil, false
	}
	return a.txn, true
}

// RawTxnToken returns the request's transaction token as received, to be
// passed unmodified to the next workload in its Txn-Token header, or "".
func RawTxnToken(ctx context.Context) string {
	if a := authFrom(ctx); a != nil {
		return a.rawTxn
	}
	return ""
}

// Subject returns the token's sub (a user id, or the client id of a
// service token), or "" when ctx carries no claims.
func Subject(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Subject
	}
	return ""
}

// ClientID returns the token's client_id, or "" when ctx carries no claims.
func ClientID(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.ClientID
	}
	return ""
}

// Scopes returns the token's scopes, or nil when ctx carries no claims.
func Scopes(ctx context.Context) []string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Scopes
	}
	return nil
}

// Roles returns the token's roles (user tokens), or nil.
func Roles(ctx context.Context) []string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Roles
	}
	return nil
}

// TokenID returns the token's jti, or "" when ctx carries no claims.
func TokenID(ctx context.Context) string {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.ID
	}
	return ""
}

// IsTrusted reports the token's is_trusted claim; false when absent.
func IsTrusted(ctx context.Context) bool {
	c, ok := ClaimsFrom(ctx)
	return ok && c.Trusted()
}

// Actors returns the actor chain of a delegated token (RFC 8693 §4.1): the
// party acting for the subject now first, the earliest last. It is empty
// when the caller acts for itself or for no one else.
func Actors(ctx context.Context) []wire.Actor {
	if c, ok := ClaimsFrom(ctx); ok {
		return c.Act.Chain()
	}
	return nil
}

// Actor returns the party acting for the subject now (the outermost act
// claim), and whether there is one.
func Actor(ctx context.Context) (wire.Actor, bool) {
	if c, ok := ClaimsFrom(ctx); ok && c.Act != nil {
		return wire.Actor{Subject: c.Act.Subject, ClientID: c.Act.ClientID}, true
	}
	return wire.Actor{}, false
}

// IsActingForUser reports whether the token is a user's token used by
// another party on the user's behalf: its subject is a user and it names
// an actor.
func IsActingForUser(ctx context.Context) bool {
	c, ok := ClaimsFrom(ctx)
	return ok && actingForUser(c)
}

func actingForUser(c *wire.Claims) bool {
	return c.Type == wire.ClaimTypeAccess && c.Act != nil
}

// IsImpersonated reports whether the token was obtained by impersonation:
// it was derived from another token by token exchange (root_jti) but does
// not name the party that obtained it (its client_id) as the current actor,
// so its caller is indistinguishable from the subject.
func IsImpersonated(ctx context.Context) bool {
	c, ok := ClaimsFrom(ctx)
	return ok && impersonated(c)
}

func impersonated(c *wire.Claims) bool {
	return c.RootID != "" && (c.Act == nil || c.Act.ClientID != c.ClientID)
}
