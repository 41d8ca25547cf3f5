package guard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// JWKS cache lifetimes: used when the response has no max-age, and the
// bounds applied to max-age.
const (
	defaultJWKSTTL = 5 * time.Minute
	minJWKSTTL     = 30 * time.Second
	maxJWKSTTL     = 24 * time.Hour
	maxJWKSBytes   = 1 << 20
)

// keySet caches the issuer's JWKS.
type keySet struct {
	url        func(context.Context) (string, error)
	hc         *http.Client
	now        func() time.Time
	minRefresh time.Duration
	group      singleflight.Group

	mu        sync.RWMutex
	keys      *jwt.Set
	loaded    bool
	expires   time.Time // when the cached set should be refreshed
	lastFetch time.Time // last fetch attempt, for the unknown-kid rate limit
}

// Key returns the key named kid (a [jwt.KeySet]), fetching the JWKS when
// the kid is unknown and the rate limit allows. A token without kid is
// refused without a fetch: Permiso always names its key.
func (s *keySet) Key(ctx context.Context, kid string) (*jwt.Key, error) {
	if kid == "" {
		return nil, fmt.Errorf("%w: no kid", jwt.ErrUnknownKey)
	}
	s.mu.RLock()
	set, loaded, last := s.keys, s.loaded, s.lastFetch
	s.mu.RUnlock()
	if loaded {
		if k, err := set.Key(ctx, kid); err == nil {
			return k, nil
		}
		if s.now().Sub(last) < s.minRefresh {
			return nil, fmt.Errorf("%w: kid %q", jwt.ErrUnknownKey, kid)
		}
	}
	if err := s.refresh(ctx); err != nil {
		if !loaded {
			return nil, err
		}
		// Stale if error: keep serving the keys we have.
		return nil, fmt.Errorf("%w: kid %q (refresh failed: %v)", jwt.ErrUnknownKey, kid, err)
	}
	s.mu.RLock()
	set = s.keys
	s.mu.RUnlock()
	return set.Key(ctx, kid)
}

// ready reports whether a key set has been loaded.
func (s *keySet) ready() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.loaded
}

// nextRefresh returns when the cached set expires.
func (s *keySet) nextRefresh() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.expires
}

// refresh fetches the JWKS once for all concurrent callers. On failure the
// cached keys stay in place.
func (s *keySet) refresh(ctx context.Context) error {
	ch := s.group.DoChan("jwks", func() (any, error) {
		s.mu.Lock()
		s.lastFetch = s.now()
		s.mu.Unlock()
		keys, ttl, err := s.fetch(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		s.mu.Lock()
		s.keys, s.loaded, s.expires = keys, true, s.now().Add(ttl)
		s.mu.Unlock()
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	}
}

func (s *keySet) fetch(ctx context.Context) (*jwt.Set, time.Duration, error) {
	u, err := s.url(ctx)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("build JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("fetch JWKS %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, 0, fmt.Errorf("read JWKS: %w", err)
	}
	keys, err := jwt.ParseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge returns the max-age of a Cache-Control header, bounded, or the
// default lifetime. no-store and no-cache give the minimum.
func maxAge(cc string) time.Duration {
	for d := range strings.SplitSeq(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "no-store" || d == "no-cache" {
			return minJWKSTTL
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.Atoi(strings.Trim(v, `"`)); err == nil {
				return min(max(time.Duration(n)*time.Second, minJWKSTTL), maxJWKSTTL)
			}
		}
	}
	return defaultJWKSTTL
}
