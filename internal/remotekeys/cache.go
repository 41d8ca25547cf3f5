package remotekeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

// ErrUnavailable wraps every failure to fetch or read a key set.
var ErrUnavailable = errors.New("keys unavailable")

// Config configures a [Cache]. Client is required; zero values of the
// rest select the documented defaults.
type Config struct {
	// Client makes every request (address checks, time and size limits).
	Client *outbound.Client
	// RefetchInterval is the least time between two fetches of one URL
	// caused by an unknown kid. Default 1m.
	RefetchInterval time.Duration
	// MinTTL, DefaultTTL and MaxTTL bound how long a fetched set is used
	// without a refetch: the response's max-age, clamped; DefaultTTL when
	// it gives none. Defaults 1m, 1h, 24h.
	MinTTL, DefaultTTL, MaxTTL time.Duration
	// MaxStale is how long a set stays usable after its TTL while
	// refetches fail. Default 24h.
	MaxStale time.Duration
	// MaxEntries bounds the URLs remembered. Default 10000.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives fetch failures; nil discards them.
	Logger *slog.Logger
}

// Cache holds key sets by source. It is safe for concurrent use.
type Cache struct {
	cfg    Config
	flight singleflight.Group

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is one source's state; guarded by Cache.mu.
type entry struct {
	set         *jwt.Set
	fetched     time.Time // last successful fetch
	expires     time.Time // fetched + TTL
	lastAttempt time.Time
	lastErr     error
}

// New returns a Cache for cfg.
func New(cfg Config) *Cache {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&cfg.RefetchInterval, time.Minute)
	set(&cfg.MinTTL, time.Minute)
	set(&cfg.DefaultTTL, time.Hour)
	set(&cfg.MaxTTL, 24*time.Hour)
	set(&cfg.MaxStale, 24*time.Hour)
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{cfg: cfg, entries: map[string]*entry{}}
}

// Source kinds.
const (
	kindJWKS   = "jwks"
	kindOIDC   = "oidc"
	kindSPIFFE = "spiffe"
)

// JWKS returns the key set at a jwks_uri.
func (c *Cache) JWKS(url string) jwt.KeySet { return source{c, kindJWKS, url} }

// OIDC returns the key set of an OpenID Connect issuer: its discovery
// document (issuer + "/.well-known/openid-configuration"), whose issuer
// must be exactly issuer, names the jwks_uri.
func (c *Cache) OIDC(issuer string) jwt.KeySet { return source{c, kindOIDC, issuer} }

// SPIFFE returns the JWT-SVID keys of the SPIFFE trust bundle served at a
// bundle endpoint (SPIFFE Trust Domain and Bundle §4).
func (c *Cache) SPIFFE(url string) jwt.KeySet { return source{c, kindSPIFFE, url} }

// source is one URL of one kind, as a jwt.KeySet.
type source struct {
	c    *Cache
	kind string
	url  string
}

// Key returns the key named kid, fetching the set when it is missing,
// expired, or lacks kid (at most once per RefetchInterval).
func (s source) Key(ctx context.Context, kid string) (*jwt.Key, error) {
	set, err := s.load(ctx, func(set *jwt.Set) bool { _, err := set.Key(ctx, kid); return err == nil })
	if err != nil {
		return nil, err
	}
	return set.Key(ctx, kid)
}

// Keys returns every key of the set (self_signed_tls_client_auth compares
// a certificate's key with each).
func (s source) Keys(ctx context.Context) ([]*jwt.Key, error) {
	set, err := s.load(ctx, func(*jwt.Set) bool { return true })
	if err != nil {
		return nil, err
	}
	return set.Keys(), nil
}

// load returns the source's set: the cached one while fresh and has
// says it holds what is needed, else a fetched one (a refetch for a
// missing key at most once per RefetchInterval), else a stale one within
// MaxStale.
func (s source) load(ctx context.Context, has func(*jwt.Set) bool) (*jwt.Set, error) {
	c := s.c
	key := s.kind + " " + s.url
	now := c.cfg.Now()
	c.mu.Lock()
	e := c.entries[key]
	var set *jwt.Set
	fresh, mayFetch := false, true
	if e != nil {
		set = e.set
		fresh = set != nil && now.Before(e.expires)
		mayFetch = now.Sub(e.lastAttempt) >= c.cfg.RefetchInterval
	}
	c.mu.Unlock()

	if fresh && (has(set) || !mayFetch) {
		return set, nil
	}
	if !fresh && !mayFetch {
		// The set expired and a recent refetch failed: serve stale keys
		// within MaxStale, or the error.
		return c.stale(key, now)
	}
	if _, err, _ := c.flight.Do(key, func() (any, error) {
		// A caller that read the entry before another fetch finished
		// must not fetch again.
		c.mu.Lock()
		e := c.entries[key]
		done := e != nil && !e.lastAttempt.Before(now)
		c.mu.Unlock()
		if done {
			return nil, e.lastErr
		}
		return nil, c.fetch(ctx, s, key)
	}); err != nil {
		return c.stale(key, now)
	}
	c.mu.Lock()
	if e := c.entries[key]; e != nil {
		set = e.set
	}
	c.mu.Unlock()
	if set == nil {
		return nil, fmt.Errorf("%w: evicted", ErrUnavailable)
	}
	return set, nil
}

// stale answers with a set past its TTL while it is within MaxStale.
func (c *Cache) stale(key string, now time.Time) (*jwt.Set, error) {
	c.mu.Lock()
	e := c.entries[key]
	c.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("%w: not fetched yet", ErrUnavailable)
	}
	if e.set != nil && now.Before(e.expires.Add(c.cfg.MaxStale)) {
		return e.set, nil
	}
	if e.lastErr != nil {
		return nil, e.lastErr
	}
	return nil, fmt.Errorf("%w: keys expired", ErrUnavailable)
}

// fetch gets the set of s and records the outcome.
func (c *Cache) fetch(ctx context.Context, s source, key string) error {
	ctx = context.WithoutCancel(ctx) // a shared fetch outlives the first caller
	now := c.cfg.Now()
	var (
		set *jwt.Set
		ttl time.Duration
		err error
	)
	switch s.kind {
	case kindOIDC:
		set, ttl, err = c.fetchOIDC(ctx, s.url)
	case kindSPIFFE:
		set, ttl, err = c.fetchSPIFFE(ctx, s.url)
	default:
		set, ttl, err = c.fetchJWKS(ctx, s.url)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		if len(c.entries) >= c.cfg.MaxEntries {
			for k := range c.entries { // drop one at random
				delete(c.entries, k)
				break
			}
		}
		e = &entry{}
		c.entries[key] = e
	}
	e.lastAttempt = now
	if err != nil {
		e.lastErr = fmt.Errorf("%w: %s %s: %w", ErrUnavailable, s.kind, s.url, err)
		c.cfg.Logger.Warn("fetch keys", "source", s.kind, "url", s.url, "err", err)
		return e.lastErr
	}
	e.set, e.fetched, e.expires, e.lastErr = set, now, now.Add(ttl), nil
	return nil
}

// get fetches url and returns the body of a 200 response and its TTL.
func (c *Cache) get(ctx context.Context, url string) ([]byte, time.Duration, error) {
	res, body, err := c.cfg.Client.Get(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("HTTP status %d", res.StatusCode)
	}
	return body, c.ttl(res.Header), nil
}

// ttl reads max-age from Cache-Control, clamped to [MinTTL, MaxTTL].
func (c *Cache) ttl(h http.Header) time.Duration {
	ttl := c.cfg.DefaultTTL
	for _, d := range strings.Split(h.Get("Cache-Control"), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			return c.cfg.MinTTL
		case "max-age":
			if n, err := strconv.Atoi(strings.Trim(val, `"`)); err == nil && n >= 0 {
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return c.clamp(ttl)
}

func (c *Cache) clamp(d time.Duration) time.Duration {
	return min(max(d, c.cfg.MinTTL), c.cfg.MaxTTL)
}

func (c *Cache) fetchJWKS(ctx context.Context, url string) (*jwt.Set, time.Duration, error) {
	body, ttl, err := c.get(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	set, err := jwt.ParseJWKS(body)
	return set, ttl, err
}

// Describe gives a short, safe reason for an error of this package.
func Describe(err error) string {
	if d := outbound.Describe(err); d != "" && !strings.HasPrefix(d, "the request failed") {
		return d
	}
	return "the keys could not be fetched or read"
}

// CheckURL says whether keys may be fetched from raw: a URL the outbound
// client may fetch, over https; plain http only when the host is an
// internal address the deployment allowed (a test or a private network
// that has no TLS).
func (c *Cache) CheckURL(raw string) error {
	u, err := c.cfg.Client.CheckURL(raw)
	if err != nil {
		return errors.New(outbound.Describe(err))
	}
	if u.Scheme == "https" {
		return nil
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && outbound.Internal(a) != "" {
		return nil // an internal address the outbound client allows
	}
	return errors.New("must use https")
}
