package oauth

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Store is what the protocol needs from the store.
type Store interface {
	store.ClientStore
	store.ScopeStore
}

// Limiter decides whether a request may proceed. Allow returns how long to
// wait when it may not. A nil Limiter allows everything.
type Limiter interface {
	// AllowToken is asked before a client is issued a token.
	AllowToken(ctx context.Context, c *store.Client) (bool, time.Duration)
	// AllowAuthAttempt is asked before checking credentials for key (a
	// client id or an IP); FailedAuth counts a failure against it.
	AllowAuthAttempt(ctx context.Context, kind, key string) (bool, time.Duration)
	FailedAuth(ctx context.Context, kind, key string)
}

// Observer receives protocol events for metrics. Nil fields are skipped.
type Observer struct {
	TokenIssued   func(clientID, grant string)
	AuthFailure   func(reason string)
	Introspection func(active bool)
	Revocation    func()
	RateLimited   func(kind string)
}

// Config configures a Provider: everything it needs, including every grant
// and client authentication method, is given here at construction. Store,
// Tokens, Revocations, Keys and Secrets are required.
type Config struct {
	Issuer string
	// APIAudiences are the audiences of Permiso's own API besides the
	// issuer; like the issuer, every client may ask for them (see Minter).
	APIAudiences []string
	Store        Store
	Tokens       *tokens.Service
	Revocations  *tokens.RevocationList
	Keys         *keys.Manager
	Secrets      *Secrets
	// Grants are the token endpoint's grant types besides the built-in
	// client_credentials: password and refresh_token ([UserTokens.Grants]),
	// authorization_code (the authorize handler), and any later one. A
	// grant_type given twice is a wiring bug: New panics, as
	// http.ServeMux does on a duplicate pattern.
	Grants []GrantType
	// Subjects checks that the user behind a user token may still act;
	// nil: user tokens are judged by signature, time, revocation and
	// client only.
	Subjects SubjectChecker
	// RefreshTokens handles opaque refresh tokens at the introspection and
	// revocation endpoints; nil: every refresh token is inactive.
	RefreshTokens RefreshTokens
	// AuthorizationEndpoint makes the metadata advertise /oauth2/authorize
	// (served by package authorize).
	AuthorizationEndpoint bool
	Audit                 audit.Recorder // nil: audit.Discard
	Usage                 *Usage         // nil: usage is not counted
	Limiter               Limiter        // nil: no limits
	Observer              Observer
	Logger                *slog.Logger
	Now                   func() time.Time

	// Client authentication beyond secrets (see clientauth.go).
	//
	// Replay records the jti of private_key_jwt assertions, shared by
	// replicas; nil keeps them in this process's memory.
	Replay *replay.Records
	// RemoteKeys fetches clients' jwks_uri; nil: such clients cannot
	// authenticate.
	RemoteKeys *remotekeys.Cache
	// Federation holds the trusts; nil: no federated clients.
	Federation *federation.Federation
	// ClientCAs are the roots of tls_client_auth certificates; nil: none.
	ClientCAs *x509.CertPool
	// MTLS says a client certificate can reach Permiso (its own
	// client-certificate listener, or a trusted proxy's header), so the
	// mutual-TLS methods are offered. MTLSBaseURL is where the endpoints
	// are reached with a certificate (RFC 8705 §5 mtls_endpoint_aliases).
	MTLS        bool
	MTLSBaseURL string
	// MaxAssertionLifetime bounds how far ahead a private_key_jwt
	// assertion's exp may be; default 5m. AssertionLeeway is the clock
	// skew allowed; default 30s.
	MaxAssertionLifetime time.Duration
	AssertionLeeway      time.Duration

	// FeedRequiresAuth makes the revocation feed answer only
	// authenticated clients; by default it is public.
	FeedRequiresAuth bool

	// DPoP tunes DPoP proofs (RFC 9449) at the token endpoint and on
	// Permiso's own API; proof ids are recorded in Replay.
	DPoP DPoPConfig
}

// Grant issues tokens for one grant type. The dispatcher has already
// authenticated the client and checked that it may use the grant.
type Grant interface {
	Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error)
}

// GrantType plugs a [Grant] into the token endpoint under its grant_type.
type GrantType struct {
	Name  string // the grant_type value, e.g. wire.GrantPassword
	Grant Grant
	// Public lets public clients (client_id, no secret) use the grant.
	Public bool
}

// TokenResult is a successful token response and what was issued.
type TokenResult struct {
	wire.TokenResponse
	Claims    wire.Claims
	SessionID string
	// Audited says the grant recorded the issue in the audit log itself,
	// with more than the dispatcher knows.
	Audited bool
}

// Provider is the OAuth protocol engine: the token endpoint's dispatcher,
// client authentication, introspection, revocation and metadata.
type Provider struct {
	cfg    Config
	grants map[string]GrantType

	jwks              jwksCache
	assertionVerifier *jwt.Verifier       // private_key_jwt assertions
	replay            *replay.Records     // cfg.Replay, or records in this process's memory
	chains            *mtls.ChainVerifier // tls_client_auth chains that verified
	proofs            *dpop.Verifier
}

// New returns a Provider serving the client_credentials grant and
// cfg.Grants.
func New(cfg Config) *Provider {
	if cfg.Audit == nil {
		cfg.Audit = audit.Discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Provider{cfg: cfg, grants: map[string]GrantType{}}
	builtIn := GrantType{Name: wire.GrantClientCredentials, Grant: clientCredentials{Minter{Issuer: cfg.Issuer, APIAudiences: cfg.APIAudiences, Tokens: cfg.Tokens}}}
	for _, g := range append([]GrantType{builtIn}, cfg.Grants...) {
		if g.Name == "" || g.Grant == nil {
			panic("oauth: a grant type needs a name and a grant")
		}
		if _, dup := p.grants[g.Name]; dup {
			panic("oauth: grant type " + g.Name + " given twice")
		}
		p.grants[g.Name] = g
	}
	// Everything client authentication needs is built here, so nothing is
	// set up on a request's path.
	p.replay = cfg.Replay
	if p.replay == nil {
		local, err := replay.New(replay.Config{Now: cfg.Now, Logger: cfg.Logger})
		if err != nil {
			panic("oauth: replay records in memory: " + err.Error()) // only a Redis URL can fail
		}
		p.replay = local
	}
	p.chains = mtls.NewChainVerifier(cfg.ClientCAs)
	p.assertionVerifier = p.newAssertionVerifier()
	proofs, err := p.newProofVerifier()
	if err != nil {
		panic("oauth: DPoP: " + err.Error()) // a wiring bug: the server validates its configuration first
	}
	p.proofs = proofs
	return p
}

// Token runs the token endpoint: authenticate the client, check the grant,
// dispatch, and record the outcome.
func (p *Provider) Token(ctx context.Context, req *TokenRequest) (*TokenResult, error) {
	g, ok := p.grants[req.GrantType]
	if !ok {
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrUnsupportedGrantType, "Grant type %q is not supported", truncate(req.GrantType, 64))
	}
	auth, err := p.Authenticate(ctx, req.Client, req.IP, g.Public)
	if err != nil {
		return nil, err
	}
	req.Auth = auth
	c := auth.Client
	if !allowsGrant(c, req.GrantType) {
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrUnauthorizedClient, "This client may not use the %s grant", req.GrantType)
	}
	if p.cfg.Limiter != nil {
		if ok, wait := p.cfg.Limiter.AllowToken(ctx, c); !ok {
			p.observeLimited("client")
			p.audit(ctx, req, "token.rate_limited", audit.Denied, c.ClientID, nil)
			return nil, web.TooManyRequests(int((wait + time.Second - 1) / time.Second))
		}
	}
	err = p.bind(ctx, req, c)
	var res *TokenResult
	if err == nil {
		res, err = g.Grant.Token(ctx, req, c)
	}
	if err != nil {
		var we *web.Error
		if errors.As(err, &we) {
			p.audit(ctx, req, "token.denied", audit.Failure, c.ClientID, map[string]any{"grant": req.GrantType, "error": we.Code})
		}
		return nil, err
	}
	if f := p.cfg.Observer.TokenIssued; f != nil {
		f(c.ClientID, req.GrantType)
	}
	// Service tokens are audited in aggregate by Usage (one event per
	// client and grant per flush): they are the hot path, and a client's
	// own tokens say nothing new about a person. Tokens issued for a user
	// are audited one by one.
	if p.cfg.Usage != nil {
		p.cfg.Usage.Add(c.ClientID, req.GrantType)
		if res.Claims.Type == wire.ClaimTypeService {
			return res, nil
		}
	}
	if res.Audited {
		return res, nil
	}
	p.audit(ctx, req, "token.issued", audit.Success, c.ClientID, map[string]any{
		"grant": req.GrantType, "jti": res.Claims.ID, "scope": res.Claims.Scope, "sub": res.Claims.Subject})
	return res, nil
}

func (p *Provider) audit(ctx context.Context, req *TokenRequest, typ, outcome, clientID string, details map[string]any) {
	p.cfg.Audit.Record(ctx, store.AuditEvent{Type: typ, Outcome: outcome, ActorType: "client", ActorID: clientID,
		Target: clientID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID, Details: details})
}

func (p *Provider) observeLimited(kind string) { p.cfg.Observer.limited(kind) }

func (o Observer) limited(kind string) {
	if o.RateLimited != nil {
		o.RateLimited(kind)
	}
}

func allowsGrant(c *store.Client, grant string) bool {
	if len(c.GrantTypes) == 0 {
		return grant == wire.GrantClientCredentials && c.Type != wire.ClientTypePublic
	}
	return slices.Contains(c.GrantTypes, grant)
}
