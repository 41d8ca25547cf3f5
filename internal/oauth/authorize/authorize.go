package authorize

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Paths served by the package.
const (
	PathLogin      = "/oauth2/login"
	PathStylesheet = "/oauth2/assets/login.css"
)

// Accounts checks passwords and opens sessions. The account service
// implements it; Authenticate records the attempt in the audit log, applies
// lockout, and fails with a *web.Error whose Code is invalid_grant (wrong
// login or password), account_disabled, account_locked or
// rate_limit_exceeded.
type Accounts interface {
	Authenticate(ctx context.Context, login, password, ip, userAgent string) (*store.User, error)
	StartSession(ctx context.Context, u *store.User, clientID, ip, userAgent string) (store.Session, error)
}

// TokenIssuer mints a user's access token (and refresh token when asked).
// The oauth provider implements it.
type TokenIssuer interface {
	IssueUserTokens(ctx context.Context, u *store.User, sessionID string, client *store.Client,
		scopes []string, aud wire.Audience, withRefresh bool, cnf *wire.Confirmation) (*oauth.TokenResult, error)
}

// Store is what the package reads and writes.
type Store interface {
	GetClient(ctx context.Context, clientID string) (store.Client, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	GetSession(ctx context.Context, id string) (store.Session, error)
	UpdateSession(ctx context.Context, id string, fn func(store.Session) (store.Session, error)) (store.Session, error)
	RevokeSessionRefreshTokens(ctx context.Context, sessionID string, at time.Time) (int, error)
	CreateAuthCode(ctx context.Context, c store.AuthCode) error
	ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error)
}

// Config configures a [Handler]. Minter, Store, Accounts, Tokens and Key
// are required.
type Config struct {
	// Minter supplies the issuer and the resource (audience) rule.
	Minter oauth.Minter
	// Limiter is the provider's; nil means no limits on sign-in attempts.
	Limiter  oauth.Limiter
	Store    Store
	Accounts Accounts
	Tokens   TokenIssuer
	// Key signs the CSRF tokens and the pending request of the login form.
	// It must be at least 32 bytes and the same on every replica (derive it
	// from the master key), so a form served by one replica can be
	// submitted to another.
	Key []byte
	// CodeLifetime is how long an authorization code may be exchanged;
	// zero means 60 seconds.
	CodeLifetime time.Duration
	// FormLifetime is how long a login page may be submitted; zero means
	// 15 minutes.
	FormLifetime time.Duration
	// SecureCookies marks cookies Secure and gives them the __Host- prefix;
	// set it when the issuer is https.
	SecureCookies bool
	// Sessions publishes the session a reused code ends on the revocation
	// list, for TokenLifetime (the longest life of a token issued in it)
	// plus a minute; nil: introspection alone knows it.
	Sessions      oauth.SessionRevoker
	TokenLifetime time.Duration
	Audit         audit.Recorder // nil: audit.Discard
	Logger        *slog.Logger   // nil: discard
	Now           func() time.Time
}

// Handler serves the authorization endpoint and the login page, and
// implements the authorization_code grant.
type Handler struct {
	cfg    Config
	issuer string
	sign   signer
	csrf   *http.CrossOriginProtection
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var missing []string
	if cfg.Minter.Issuer == "" {
		missing = append(missing, "Minter")
	}
	if cfg.Store == nil {
		missing = append(missing, "Store")
	}
	if cfg.Accounts == nil {
		missing = append(missing, "Accounts")
	}
	if cfg.Tokens == nil {
		missing = append(missing, "Tokens")
	}
	if len(missing) > 0 {
		return nil, errors.New("authorize: missing " + strings.Join(missing, ", "))
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("authorize: Key must be at least 32 bytes")
	}
	if cfg.CodeLifetime <= 0 {
		cfg.CodeLifetime = 60 * time.Second
	}
	if cfg.FormLifetime <= 0 {
		cfg.FormLifetime = 15 * time.Minute
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
	h := &Handler{cfg: cfg, issuer: cfg.Minter.Issuer, sign: signer{key: cfg.Key},
		csrf: http.NewCrossOriginProtection()}
	h.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.writePage(w, r, errForbidden(errors.New("cross-origin form post")))
	}))
	return h, nil
}

// Grant returns the authorization_code grant for the provider's Config
// (usable by public clients, which authenticate with client_id and PKCE);
// the provider's Config.AuthorizationEndpoint advertises the endpoint.
func (h *Handler) Grant() oauth.GrantType {
	return oauth.GrantType{Name: wire.GrantAuthorizationCode, Grant: codeGrant{h}, Public: true}
}

// Mount registers the authorization endpoint and the login page on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("GET "+oauth.PathAuthorize, h.page(h.authorize))
	// Cross-origin POSTs are refused before the handler runs, on top of
	// the CSRF token: browsers that send Sec-Fetch-Site or Origin cannot be
	// made to post the form from another site.
	mux.Handle("POST "+PathLogin, h.csrf.Handler(h.page(h.login)))
	mux.Handle("GET "+PathStylesheet, http.HandlerFunc(serveStylesheet))
}

func (h *Handler) now() time.Time { return h.cfg.Now() }
