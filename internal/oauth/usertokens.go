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
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// FirstPartyClientID is the client_id of Permiso's own login
// (POST /api/v1/auth/token and /api/v1/auth/refresh), which needs no client
// credentials. [UserTokens.EnsureFirstPartyClient] stores it as a public
// client with no grant types, so it exists for the client check every
// access token passes, but nobody can use it at /oauth2/token. Disabling it
// turns the original's login off.
const FirstPartyClientID = "permiso-web"

// Accounts checks passwords and opens sessions; the account service
// implements it.
type Accounts interface {
	Authenticate(ctx context.Context, login, password, ip, userAgent string) (*store.User, error)
	StartSession(ctx context.Context, u *store.User, clientID, ip, userAgent string) (store.Session, error)
}

// UserTokenStore is what user tokens need from the store.
type UserTokenStore interface {
	GetClient(ctx context.Context, clientID string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	GetSession(ctx context.Context, id string) (store.Session, error)
	UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error)
	CreateRefreshToken(ctx context.Context, t store.RefreshToken) error
	GetRefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error)
	UseRefreshToken(ctx context.Context, hash []byte, at time.Time) (store.RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) (int, error)
	RevokeSessionRefreshTokens(ctx context.Context, sessionID string, at time.Time) (int, error)
}

// UserTokensConfig configures [NewUserTokens]. Minter, Store and Accounts
// are required; Audit, Limiter, Observer and Logger are the provider's.
type UserTokensConfig struct {
	Minter   Minter
	Store    UserTokenStore
	Accounts Accounts
	Audit    audit.Recorder // nil: audit.Discard
	Limiter  Limiter        // nil: no limits
	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
	// AccessTokenLifetime of user access tokens; default 30 minutes.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the absolute lifetime of a refresh-token
	// family (rotation never extends it); default 7 days. A client's own
	// refresh_token_lifetime, when shorter, wins.
	RefreshTokenLifetime time.Duration
	// Sessions publishes the sessions this package ends (a reused refresh
	// token, a revoked refresh-token family) on the revocation list; nil:
	// introspection alone knows them.
	Sessions SessionRevoker
}

// SessionRevoker publishes the end of a session until exp, so that every
// token issued in it, and every token derived from those, is refused
// wherever the revocation list is followed.
type SessionRevoker interface {
	RevokeSession(ctx context.Context, sessionID string, exp time.Time) error
}

// endSession ends session id (if it is live) and publishes its end; it
// reports whether it was live.
func (ut *UserTokens) endSession(ctx context.Context, id string) error {
	now := ut.cfg.Now()
	_, err := ut.cfg.Store.UpdateSession(ctx, id, func(s store.Session) (store.Session, error) {
		if s.RevokedAt == nil {
			s.RevokedAt = &now
		}
		return s, nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	if ut.cfg.Sessions == nil {
		return nil
	}
	// A minute more than any token of the session lives, for one issued
	// while it ended.
	if err := ut.cfg.Sessions.RevokeSession(ctx, id, now.Add(ut.cfg.AccessTokenLifetime+time.Minute)); err != nil {
		return fmt.Errorf("publish ended session: %w", err)
	}
	return nil
}

// UserTokens issues tokens to people: the password grant, the
// refresh_token grant with rotation and reuse detection, and the
// first-party login of the original API. It implements [RefreshTokens]
// and the authorize package's TokenIssuer.
type UserTokens struct {
	cfg UserTokensConfig
}

// NewUserTokens returns UserTokens. Give [UserTokens.Grants] and the
// UserTokens itself (as RefreshTokens) to the provider's Config.
func NewUserTokens(cfg UserTokensConfig) (*UserTokens, error) {
	if cfg.Minter.Tokens == nil || cfg.Store == nil || cfg.Accounts == nil {
		return nil, errors.New("oauth: user tokens need a minter, a store and accounts")
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
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = 30 * time.Minute
	}
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = 7 * 24 * time.Hour
	}
	return &UserTokens{cfg: cfg}, nil
}

// Grants returns the token endpoint's grants for people: password
// (confidential clients) and refresh_token (public clients too).
func (ut *UserTokens) Grants() []GrantType {
	return []GrantType{
		{Name: wire.GrantPassword, Grant: passwordGrant{ut}},
		{Name: wire.GrantRefreshToken, Grant: refreshGrant{ut}, Public: true},
	}
}

// EnsureFirstPartyClient creates the first-party client when it is missing.
func (ut *UserTokens) EnsureFirstPartyClient(ctx context.Context) error {
	s := ut.cfg.Store
	if _, err := s.GetClient(ctx, FirstPartyClientID); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := s.CreateClient(ctx, store.Client{ClientID: FirstPartyClientID, Name: "Permiso login",
		Description: "Permiso's own login (/api/v1/auth/token). It has no secret and no grant types; disabling it turns that login off.",
		Type:        wire.ClientTypePublic, Active: true, GrantTypes: []string{},
		AccessTokenLifetime: int(ut.cfg.AccessTokenLifetime / time.Second), RateLimitPerMinute: 1000, RateLimitPerHour: 100000})
	if errors.Is(err, store.ErrConflict) { // another replica made it first
		return nil
	}
	if err != nil {
		return fmt.Errorf("create first-party client: %w", err)
	}
	return nil
}

// IssueUserTokens mints an access token for u in session sessionID (claims
// sub, username, roles, scope, scopes, sid, client_id, type "access") and,
// when withRefresh, a refresh token starting a new family capped at the
// refresh lifetime. client nil means the first-party login. cnf, when not
// nil, binds the access token and the refresh family to a key (RFC 9449
// §5: a public client's refresh tokens are bound to its DPoP key).
func (ut *UserTokens) IssueUserTokens(ctx context.Context, u *store.User, sessionID string, client *store.Client,
	scopes []string, aud wire.Audience, withRefresh bool, cnf *wire.Confirmation) (*TokenResult, error) {
	clientID := FirstPartyClientID
	if client != nil {
		clientID = client.ClientID
	}
	if len(aud) == 0 {
		aud = wire.Audience{ut.cfg.Minter.Issuer}
	}
	res, err := ut.mint(u, sessionID, clientID, scopes, aud, cnf, MayActOf(client))
	if err != nil {
		return nil, err
	}
	if withRefresh {
		now := ut.cfg.Now()
		res.RefreshToken, err = ut.newRefresh(ctx, store.RefreshToken{SessionID: sessionID, UserID: u.ID, ClientID: clientID,
			Scope: strings.Join(scopes, " "), Audience: aud, Cnf: storeCnf(cnf), CreatedAt: now, ExpiresAt: now.Add(ut.refreshLifetime(client))})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (ut *UserTokens) mint(u *store.User, sessionID, clientID string, scopes []string, aud wire.Audience,
	cnf *wire.Confirmation, mayAct wire.MayAct) (*TokenResult, error) {
	if scopes == nil {
		scopes = []string{}
	}
	roles := make([]string, 0, len(u.Roles))
	for _, r := range u.Roles {
		roles = append(roles, r.Name)
	}
	res, err := ut.cfg.Minter.Issue(wire.Claims{Subject: u.ID, Audience: aud, ClientID: clientID, Scope: strings.Join(scopes, " "),
		Scopes: scopes, Type: wire.ClaimTypeAccess, Username: u.Username, Roles: roles, SessionID: sessionID, Cnf: cnf,
		MayAct: mayAct},
		ut.cfg.AccessTokenLifetime)
	if err != nil {
		return nil, fmt.Errorf("mint user token: %w", err)
	}
	res.SessionID = sessionID
	return res, nil
}

// storeCnf and wireCnf convert a binding between its stored and wire forms.
func storeCnf(c *wire.Confirmation) store.Confirmation {
	if c == nil {
		return store.Confirmation{}
	}
	return store.Confirmation{JKT: c.JKT, X5TS256: c.X5TS256}
}

func wireCnf(c store.Confirmation) *wire.Confirmation {
	if !c.Bound() {
		return nil
	}
	return &wire.Confirmation{JKT: c.JKT, X5TS256: c.X5TS256}
}

func (ut *UserTokens) refreshLifetime(c *store.Client) time.Duration {
	d := ut.cfg.RefreshTokenLifetime
	if c != nil && c.RefreshTokenLifetime != nil && *c.RefreshTokenLifetime > 0 {
		d = min(d, time.Duration(*c.RefreshTokenLifetime)*time.Second)
	}
	return d
}

// newRefresh stores t under the hash of a fresh opaque token and returns
// the token.
func (ut *UserTokens) newRefresh(ctx context.Context, t store.RefreshToken) (string, error) {
	tok, hash := tokens.NewOpaque(tokens.RefreshPrefix)
	t.Hash = hash
	if err := ut.cfg.Store.CreateRefreshToken(ctx, t); err != nil {
		return "", web.Unavailable(fmt.Errorf("store refresh token: %w", err))
	}
	return tok, nil
}

// UserScopes grants scopes to a user's token: the requested ones the user
// holds (all the user holds when none were requested), capped by the
// client's scopes when the client lists any. Requesting scopes the user
// lacks is not an error; they are left out, as the original did.
func UserScopes(u *store.User, c *store.Client, requested []string) []string {
	held := rbac.UserScopes(u)
	out := held
	if requested != nil {
		out = intersect(requested, held)
	}
	if c != nil && len(c.Scopes) > 0 {
		out = intersect(out, c.ScopeNames())
	}
	return out
}

// intersect returns the members of a that are in b, deduplicated, in a's order.
func intersect(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Login is the original's first-party login (POST /api/v1/auth/token): no
// client credentials, tokens for the first-party client, a new session, and
// a refresh token. req carries the username, password, requested scopes and
// the request context. Failures are the account service's errors (401
// invalid_grant, 403 account_disabled, 423 account_locked) or 429.
func (ut *UserTokens) Login(ctx context.Context, req *TokenRequest) (*TokenResult, error) {
	if lim := ut.cfg.Limiter; lim != nil {
		if ok, wait := lim.AllowAuthAttempt(ctx, "ip", req.IP); !ok {
			ut.cfg.Observer.limited("auth_ip")
			return nil, web.TooManyRequests(int((wait + time.Second - 1) / time.Second))
		}
	}
	c, err := ut.cfg.Store.GetClient(ctx, FirstPartyClientID)
	if err != nil || !c.Active {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, web.Unavailable(fmt.Errorf("load first-party client: %w", err))
		}
		return nil, web.Errorf(http.StatusForbidden, wire.ErrClientDisabled, "This login is disabled; use the authorization endpoint")
	}
	u, err := ut.cfg.Accounts.Authenticate(ctx, req.Username, req.Password, req.IP, req.UserAgent)
	if err != nil {
		ut.failedUser(ctx, req, err)
		return nil, err
	}
	sess, err := ut.cfg.Accounts.StartSession(ctx, u, FirstPartyClientID, req.IP, req.UserAgent)
	if err != nil {
		return nil, err
	}
	res, err := ut.IssueUserTokens(ctx, u, sess.ID, nil, UserScopes(u, nil, req.Scopes), nil, true, nil)
	if err != nil {
		return nil, err
	}
	ut.issued(ctx, req, "password", res)
	return res, nil
}

// failedUser counts a wrong login against the caller's address.
func (ut *UserTokens) failedUser(ctx context.Context, req *TokenRequest, err error) {
	if we, ok := web.AsError(err); ok && we.Code == wire.ErrInvalidGrant {
		if lim := ut.cfg.Limiter; lim != nil {
			lim.FailedAuth(ctx, "ip", req.IP)
		}
		if f := ut.cfg.Observer.AuthFailure; f != nil {
			f("invalid_user_credentials")
		}
	}
}

// issued records a token issued outside the dispatcher (first-party login
// and refresh).
func (ut *UserTokens) issued(ctx context.Context, req *TokenRequest, grant string, res *TokenResult) {
	if f := ut.cfg.Observer.TokenIssued; f != nil {
		f(res.Claims.ClientID, grant)
	}
	ut.cfg.Audit.Record(ctx, store.AuditEvent{Type: "token.issued", Outcome: audit.Success, ActorType: "user",
		ActorID: res.Claims.Subject, Target: res.Claims.Subject, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID,
		Details: map[string]any{"grant": grant, "client_id": res.Claims.ClientID, "jti": res.Claims.ID,
			"scope": res.Claims.Scope, "session_id": res.SessionID}})
}
