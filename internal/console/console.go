package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// ClientID is the console's own OAuth client, created at mount time.
const ClientID = "permiso-console"

// Path is where the console is served.
const Path = "/admin"

// csp is the Content-Security-Policy of every console response: only the
// console's own stylesheet and script, no inline code, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Store is what the console reads and writes directly: only its own client
// record and secret. Everything else goes through the API.
type Store interface {
	GetClient(ctx context.Context, clientID string) (store.Client, error)
	CreateClient(ctx context.Context, c store.Client) (store.Client, error)
	UpdateClient(ctx context.Context, clientID string, fn func(store.Client) (store.Client, error)) (store.Client, error)
	AddClientSecret(ctx context.Context, s store.ClientSecret) (store.ClientSecret, error)
	ListClientSecrets(ctx context.Context, clientUUID string, now time.Time) ([]store.ClientSecret, error)
	ListScopes(ctx context.Context, f store.ScopeFilter) ([]store.Scope, int, error)
	Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// Hasher hashes and checks a caller-chosen client secret (oauth.Secrets).
type Hasher interface {
	Import(secret string) ([]byte, error)
	Match(secret string, stored []byte) bool
}

// Config configures the console. Issuer, Handler, Store, Hasher and
// ClientSecret are required.
type Config struct {
	// Issuer is the server's issuer URL; the callback is Issuer + /admin/callback.
	Issuer string
	// Handler serves /oauth2 and /api/v1 in-process (the server's mux).
	Handler http.Handler
	Store   Store
	Hasher  Hasher
	// ClientSecret is the console client's secret. The assembler derives it
	// from the master key, so every replica agrees on it without storing it.
	ClientSecret string
	// IdleTimeout ends a session nobody used for this long; default 2h.
	IdleTimeout time.Duration
	// Logger receives failures of the console itself; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Console is the admin console.
type Console struct {
	cfg      Config
	host     string
	secure   bool
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
	// secretReady is set once the stored secret is known to match.
	secretReady atomic.Bool
}

// New checks cfg, parses the templates and ensures the console's client.
func New(ctx context.Context, cfg Config) (*Console, error) {
	if cfg.Issuer == "" || cfg.Handler == nil || cfg.Store == nil || cfg.Hasher == nil || cfg.ClientSecret == "" {
		return nil, errors.New("console: Issuer, Handler, Store, Hasher and ClientSecret are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("console: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	c := &Console{cfg: cfg, host: u.Host, secure: u.Scheme == "https",
		sessions: newSessions(cfg.Now, cfg.IdleTimeout)}
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if err := c.ensureClient(ctx); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// redirectURI is the console's registered callback.
func (c *Console) redirectURI() string { return c.cfg.Issuer + Path + "/callback" }

// ensureClient creates the console's client, or brings its redirect URI
// and grants up to date when the issuer changed. An administrator may have
// disabled it or narrowed its scopes: that is left as they set it.
func (c *Console) ensureClient(ctx context.Context) error {
	return c.cfg.Store.Lock(ctx, "console-client", func(ctx context.Context) error {
		_, err := c.cfg.Store.GetClient(ctx, ClientID)
		if err == nil {
			_, err = c.cfg.Store.UpdateClient(ctx, ClientID, func(cl store.Client) (store.Client, error) {
				if !slices.Contains(cl.RedirectURIs, c.redirectURI()) {
					cl.RedirectURIs = append(cl.RedirectURIs, c.redirectURI())
				}
				for _, g := range []string{"authorization_code", "refresh_token"} {
					if !slices.Contains(cl.GrantTypes, g) {
						cl.GrantTypes = append(cl.GrantTypes, g)
					}
				}
				return cl, nil
			})
			if err != nil {
				return fmt.Errorf("update console client: %w", err)
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up console client: %w", err)
		}
		// The console's client holds every scope, so a signed-in user's
		// token carries every scope the user holds: an administrator grants
		// only what their token holds (the delegation rule). The token never
		// leaves the server, and its audience is Permiso's own API. Holding
		// every scope also means only a full administrator may change this
		// client (its redirect URIs, its secret).
		var scopeIDs []string
		all, _, err := c.cfg.Store.ListScopes(ctx, store.ScopeFilter{Page: store.Page{Limit: 1000}})
		if err != nil {
			return fmt.Errorf("list scopes for the console client: %w", err)
		}
		for _, s := range all {
			scopeIDs = append(scopeIDs, s.ID)
		}
		refresh := 8 * 3600
		_, err = c.cfg.Store.CreateClient(ctx, store.Client{
			ClientID: ClientID, Name: "Permiso admin console",
			Description: "First-party client of the admin console at /admin (created by Permiso).",
			Type:        "confidential", Active: true,
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			TokenEndpointAuthMethod: "client_secret_basic",
			ScopeIDs:                scopeIDs, RedirectURIs: []string{c.redirectURI()},
			AccessTokenLifetime: 900, RefreshTokenLifetime: &refresh,
			RateLimitPerMinute: 600, RateLimitPerHour: 20000,
		})
		if err != nil {
			return fmt.Errorf("create console client: %w", err)
		}
		return nil
	})
}

// ensureSecret stores the hash of the configured secret unless a live
// stored secret already matches it. It runs before the first code exchange
// rather than at start, because hashing a chosen secret costs an Argon2id
// computation that a server nobody signs in to should not pay.
func (c *Console) ensureSecret(ctx context.Context) error {
	return c.cfg.Store.Lock(ctx, "console-client", func(ctx context.Context) error {
		cl, err := c.cfg.Store.GetClient(ctx, ClientID)
		if err != nil {
			return fmt.Errorf("look up console client: %w", err)
		}
		secrets, err := c.cfg.Store.ListClientSecrets(ctx, cl.ID, c.cfg.Now())
		if err != nil {
			return fmt.Errorf("list console secrets: %w", err)
		}
		for _, s := range secrets {
			if c.cfg.Hasher.Match(c.cfg.ClientSecret, s.Hash) {
				return nil
			}
		}
		hash, err := c.cfg.Hasher.Import(c.cfg.ClientSecret)
		if err != nil {
			return fmt.Errorf("hash console secret: %w", err)
		}
		if _, err := c.cfg.Store.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: hash}); err != nil {
			return fmt.Errorf("store console secret: %w", err)
		}
		return nil
	})
}

// ServeHTTP serves /admin and everything under it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, Path+"/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// assets serves the embedded stylesheet and script.
func assets() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	files := http.FileServerFS(sub)
	return http.StripPrefix(Path+"/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}
