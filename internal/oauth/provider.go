package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
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

// Config configures a Provider. Store, Tokens, Revocations, Keys and
// Secrets are required.
type Config struct {
	Issuer      string
	Store       Store
	Tokens      *tokens.Service
	Revocations *tokens.RevocationList
	Keys        *keys.Manager
	Secrets     *Secrets
	Audit       audit.Recorder // nil: audit.Discard
	Usage       *Usage         // nil: usage is not counted
	Limiter     Limiter        // nil: no limits
	Observer    Observer
	Logger      *slog.Logger
	Now         func() time.Time
}

// Grant issues tokens for one grant type. The dispatcher has already
// authenticated the client and checked that it may use the grant.
type Grant interface {
	Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error)
}

// TokenResult is a successful token response and what was issued.
type TokenResult struct {
	wire.TokenResponse
	Claims    wire.Claims
	SessionID string
}

// Provider is the OAuth protocol engine.
type Provider struct {
	cfg    Config
	grants map[string]Grant
	// publicGrants may be used by public clients (no secret).
	publicGrants map[string]bool
	authorize    bool
	subjects     SubjectChecker
	refresh      RefreshTokens
}

// New returns a Provider with the client_credentials grant registered.
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
	p := &Provider{cfg: cfg, grants: map[string]Grant{}, publicGrants: map[string]bool{}}
	p.Register(wire.GrantClientCredentials, clientCredentials{p}, false)
	return p
}

// Register adds a grant. public says whether public clients may use it.
func (p *Provider) Register(grantType string, g Grant, public bool) {
	p.grants[grantType] = g
	p.publicGrants[grantType] = public
}

// EnableAuthorizationEndpoint makes the metadata advertise the
// authorization endpoint (registered by the authorize package).
func (p *Provider) EnableAuthorizationEndpoint() { p.authorize = true }

// Config returns the provider's configuration (for packages that extend it).
func (p *Provider) Config() Config { return p.cfg }

// Token runs the token endpoint: authenticate the client, check the grant,
// dispatch, and record the outcome.
func (p *Provider) Token(ctx context.Context, req *TokenRequest) (*TokenResult, error) {
	g, ok := p.grants[req.GrantType]
	if !ok {
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrUnsupportedGrantType, "Grant type %q is not supported", truncate(req.GrantType, 64))
	}
	c, err := p.AuthenticateClient(ctx, req.Client, req.IP, p.publicGrants[req.GrantType])
	if err != nil {
		return nil, err
	}
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
	res, err := g.Token(ctx, req, c)
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
	p.audit(ctx, req, "token.issued", audit.Success, c.ClientID, map[string]any{
		"grant": req.GrantType, "jti": res.Claims.ID, "scope": res.Claims.Scope, "sub": res.Claims.Subject})
	return res, nil
}

func (p *Provider) audit(ctx context.Context, req *TokenRequest, typ, outcome, clientID string, details map[string]any) {
	p.cfg.Audit.Record(ctx, store.AuditEvent{Type: typ, Outcome: outcome, ActorType: "client", ActorID: clientID,
		Target: clientID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID, Details: details})
}

func (p *Provider) observeLimited(kind string) {
	if f := p.cfg.Observer.RateLimited; f != nil {
		f(kind)
	}
}

func allowsGrant(c *store.Client, grant string) bool {
	if len(c.GrantTypes) == 0 {
		return grant == wire.GrantClientCredentials && c.Type != wire.ClientTypePublic
	}
	for _, g := range c.GrantTypes {
		if g == grant {
			return true
		}
	}
	return false
}

// AuthenticateClient checks client credentials. Every failure is the same
// invalid_client error. allowPublic lets a public client through with its
// client_id alone; a confidential client always needs its secret.
func (p *Provider) AuthenticateClient(ctx context.Context, creds ClientCredentials, ip string, allowPublic bool) (*store.Client, error) {
	if creds.ID == "" {
		return nil, invalidClient(creds.Method).With("error_description", "Client authentication is required")
	}
	if p.cfg.Limiter != nil {
		for _, k := range [...][2]string{{"ip", ip}, {"client", creds.ID}} {
			if ok, wait := p.cfg.Limiter.AllowAuthAttempt(ctx, k[0], k[1]); !ok {
				p.observeLimited("auth_" + k[0])
				return nil, web.TooManyRequests(int((wait + time.Second - 1) / time.Second))
			}
		}
	}
	c, reason := p.checkClient(ctx, creds, allowPublic)
	if reason != "" {
		// A database outage is not the caller's failure: counting it would
		// lock clients out for a minute after the database returns.
		if p.cfg.Limiter != nil && reason != "unavailable" {
			p.cfg.Limiter.FailedAuth(ctx, "ip", ip)
			p.cfg.Limiter.FailedAuth(ctx, "client", creds.ID)
		}
		if f := p.cfg.Observer.AuthFailure; f != nil {
			f(reason)
		}
		p.cfg.Audit.Record(ctx, store.AuditEvent{Type: "client.auth_failure", Outcome: audit.Failure, ActorType: "client",
			ActorID: truncate(creds.ID, 128), IP: ip, RequestID: web.RequestID(ctx), Details: map[string]any{"reason": reason, "method": creds.Method}})
		if reason == "unavailable" {
			return nil, web.Unavailable(errors.New("client store unavailable"))
		}
		return nil, invalidClient(creds.Method)
	}
	if err := checkIP(c, ip); err != nil {
		if f := p.cfg.Observer.AuthFailure; f != nil {
			f("ip_not_allowed")
		}
		p.cfg.Audit.Record(ctx, store.AuditEvent{Type: "client.ip_denied", Outcome: audit.Denied, ActorType: "client",
			ActorID: c.ClientID, IP: ip, RequestID: web.RequestID(ctx)})
		return nil, err
	}
	return c, nil
}

// checkClient returns the client or a failure reason for logs and metrics.
func (p *Provider) checkClient(ctx context.Context, creds ClientCredentials, allowPublic bool) (*store.Client, string) {
	c, err := p.cfg.Store.GetClient(ctx, creds.ID)
	if errors.Is(err, store.ErrNotFound) {
		// Spend what a real check costs, so timing does not tell.
		p.cfg.Secrets.Match(creds.Secret, make([]byte, 32))
		return nil, "unknown_client"
	}
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "load client", "err", err)
		return nil, "unavailable"
	}
	if c.Type == wire.ClientTypePublic {
		if !allowPublic || creds.Secret != "" {
			return nil, "public_client"
		}
	} else {
		if creds.Secret == "" {
			return nil, "missing_secret"
		}
		secrets, err := p.cfg.Store.ListClientSecrets(ctx, c.ID, p.cfg.Now())
		if err != nil {
			p.cfg.Logger.ErrorContext(ctx, "load client secrets", "err", err)
			return nil, "unavailable"
		}
		ok := false
		for _, s := range secrets {
			if p.cfg.Secrets.Match(creds.Secret, s.Hash) {
				ok = true
			}
		}
		if !ok {
			return nil, "wrong_secret"
		}
	}
	if !c.Active {
		return nil, "client_disabled"
	}
	return &c, ""
}
