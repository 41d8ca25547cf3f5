package api

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
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/internal/webhook"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Config configures the API: everything it needs is given here.
type Config struct {
	// Audiences are what a token's aud must contain for the API to accept
	// it (RFC 9068 §4): Permiso's issuer, and its --api-audience. Required.
	Audiences   []string
	Store       store.Store
	OAuth       *oauth.Provider
	Tokens      *tokens.Service // the provider's: checks who owns a token a user revokes
	Limiter     oauth.Limiter   // the provider's; nil: no limits on self-registration
	Keys        *keys.Manager
	Revocations *tokens.RevocationList
	Secrets     *oauth.Secrets
	Audit       audit.Recorder
	Logger      *slog.Logger
	Now         func() time.Time
	// Version and Environment are reported by GET /health.
	Version     string
	Environment string
	// DefaultSecretGrace is how long a rotated-out client secret keeps
	// working when the caller does not say; default 24h.
	DefaultSecretGrace time.Duration
	// People serves users, logins, sessions, permission checks and admin
	// reports; without People.Accounts those endpoints are not mounted.
	People PeopleConfig
	// Webhooks keeps webhook secrets and delivers signed calls; nil turns
	// the webhook endpoints off (503).
	Webhooks *webhook.Sender
	// RateLimits reports clients' token budgets; nil reports every budget
	// as whole.
	RateLimits RateLimits
	// RemoteKeys checks (and fetches, for the trusts' key check) the URLs
	// keys come from: jwks_uri, OIDC issuers, SPIFFE bundle endpoints.
	RemoteKeys *remotekeys.Cache
	// Federation reloads trusts after a change, so this replica sees it at
	// once (others follow the store's change feed).
	Federation *federation.Federation
	// Tenants administers tenants for operators (admin:tenants); only the
	// default tenant's API has it, and without it /api/v1/tenants is not
	// mounted.
	Tenants Tenants
}

// API is the /api/v1 surface.
type API struct {
	cfg Config
}

// New returns the API.
func New(cfg Config) *API {
	if len(cfg.Audiences) == 0 {
		panic("api: Config.Audiences is required") // a wiring bug: the server always sets the issuer
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
	if cfg.DefaultSecretGrace == 0 {
		cfg.DefaultSecretGrace = 24 * time.Hour
	}
	if cfg.People.Started.IsZero() {
		cfg.People.Started = cfg.Now()
	}
	return &API{cfg: cfg}
}

// Mount registers every /api/v1 route on mux.
func (a *API) Mount(mux *http.ServeMux) {
	a.mountClients(mux)
	a.mountScopes(mux)
	a.mountRoles(mux)
	a.mountAuth(mux)
	a.mountKeys(mux)
	a.mountAudit(mux)
	if a.cfg.People.Accounts != nil {
		a.mountPeople(mux)
	}
	a.mountTrusts(mux)
	if a.cfg.Tenants != nil {
		a.mountTenants(mux)
	}
}

// handle registers h for pattern ("METHOD /path") in both slash forms, so
// /api/v1/roles and /api/v1/roles/ are the same resource.
func (a *API) handle(mux *http.ServeMux, pattern string, h web.HandlerFunc) {
	handler := web.Handle(a.cfg.Logger, h)
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "/")
	mux.Handle(method+" "+path, handler)
	mux.Handle(method+" "+path+"/{$}", handler)
}

const realm = "permiso"

// bearer extracts the RFC 6750 bearer token from the Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != "" && len(tok) <= tokens.MaxTokenBytes
}

// authenticate verifies the caller's access token, and the proof of
// possession of a bound token (DPoP, a client certificate). The token must
// have been issued for this API: Permiso's API is a resource server like
// any other, and a token some service received (aud that service) must not
// work here (RFC 9068 §4).
func (a *API) authenticate(r *http.Request) (*wire.Claims, error) {
	c, err := a.verifyCaller(r)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(a.cfg.Audiences, c.Audience.Contains) {
		a.record(r.Context(), a.event(r, c, "authz.wrong_audience", audit.Denied, "",
			map[string]any{"aud": []string(c.Audience), "path": r.URL.Path}))
		return nil, web.Unauthorized(realm, true, fmt.Sprintf("The access token was not issued for this API: its aud must contain %s "+
			"(ask the token endpoint with resource=%s)", web.QuoteList(a.cfg.Audiences, 3), a.cfg.Audiences[0]))
	}
	return c, nil
}

// verifyCaller is authenticate without the audience check.
func (a *API) verifyCaller(r *http.Request) (*wire.Claims, error) {
	if _, ok := bearer(r); !ok && !dpopAuthorization(r) {
		return nil, web.Unauthorized(realm, r.Header.Get("Authorization") != "", "Authentication required: send an access token as a Bearer credential")
	}
	c, err := a.cfg.OAuth.VerifyRequest(r, realm)
	if err != nil {
		if we, ok := web.AsError(err); ok {
			return nil, we
		}
		if isInactive(err) {
			return nil, web.Unauthorized(realm, true, "The access token is invalid, expired or revoked")
		}
		return nil, web.Unavailable(err)
	}
	return c, nil
}

// presentedToken returns the access token of the Authorization header,
// Bearer or DPoP.
func presentedToken(r *http.Request) (string, bool) {
	if tok, ok := bearer(r); ok {
		return tok, true
	}
	if !dpopAuthorization(r) {
		return "", false
	}
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, len(tok) <= tokens.MaxTokenBytes
}

// dpopAuthorization reports an "Authorization: DPoP" header (RFC 9449 §7.1).
func dpopAuthorization(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "DPoP") && strings.TrimSpace(tok) != ""
}

// requireScope authenticates the caller and checks one scope (with the
// implied-scope rule). A missing scope is 403 insufficient_scope.
func (a *API) requireScope(r *http.Request, scope string) (*wire.Claims, error) {
	c, err := a.authenticate(r)
	if err != nil {
		return nil, err
	}
	if !wire.HasScope(c.Scopes, scope) {
		a.cfg.Audit.Record(r.Context(), a.event(r, c, "authz.denied", audit.Denied, "", map[string]any{"required_scope": scope}))
		return nil, web.Forbidden(wire.ErrInsufficientScope, "This request requires the %s scope", scope).
			WithHeader("WWW-Authenticate", `Bearer realm="permiso", error="insufficient_scope", scope="`+scope+`"`).
			With("required_scopes", []string{scope})
	}
	return c, nil
}

func isInactive(err error) bool { return errors.Is(err, oauth.ErrInactive) }

// event builds an audit event for an API action by the caller c.
func (a *API) event(r *http.Request, c *wire.Claims, typ, outcome, target string, details map[string]any) store.AuditEvent {
	e := store.AuditEvent{Type: typ, Outcome: outcome, Target: target, IP: web.ClientIP(r.Context()),
		UserAgent: r.UserAgent(), RequestID: web.RequestID(r.Context()), Details: details}
	if len(e.UserAgent) > 256 {
		e.UserAgent = e.UserAgent[:256]
	}
	if c != nil {
		e.ActorID = c.Subject
		e.ActorType = "user"
		if c.Type == wire.ClaimTypeService {
			e.ActorType = "client"
		}
	}
	return e
}

func (a *API) record(ctx context.Context, e store.AuditEvent) { a.cfg.Audit.Record(ctx, e) }
