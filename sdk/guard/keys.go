package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// JWKS cache lifetimes: used when the response has no max-age, and the
// bounds applied to max-age.
const (
	defaultJWKSTTL = 5 * time.Minute
	minJWKSTTL     = 30 * time.Second
	maxJWKSTTL     = 24 * time.Hour
	maxJWKSBytes   = 1 << 20
)

// verifyKey is a public key from the JWKS, ready for one algorithm family.
type verifyKey struct {
	alg string // the JWK's alg, or "" when it did not name one
	ec  *ecdsa.PublicKey
	ed  ed25519.PublicKey
	rsa *rsa.PublicKey
}

// usableFor reports whether k may verify a signature of alg.
func (k *verifyKey) usableFor(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case ES256:
		return k.ec != nil && k.ec.Curve == elliptic.P256()
	case EdDSA:
		return k.ed != nil
	case RS256:
		return k.rsa != nil && k.rsa.N.BitLen() >= 2048
	}
	return false
}

// keySet caches the issuer's JWKS.
type keySet struct {
	url        func(context.Context) (string, error)
	hc         *http.Client
	now        func() time.Time
	minRefresh time.Duration
	group      singleflight.Group

	mu        sync.RWMutex
	keys      map[string]*verifyKey
	loaded    bool
	expires   time.Time // when the cached set should be refreshed
	lastFetch time.Time // last fetch attempt, for the unknown-kid rate limit
}

// get returns the key named kid, fetching the JWKS when the kid is unknown
// and the rate limit allows.
func (s *keySet) get(ctx context.Context, kid string) (*verifyKey, error) {
	s.mu.RLock()
	k, loaded, last := s.keys[kid], s.loaded, s.lastFetch
	s.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	if loaded && s.now().Sub(last) < s.minRefresh {
		return nil, fmt.Errorf("%w: unknown kid", ErrInvalidToken)
	}
	if err := s.refresh(ctx); err != nil {
		if !loaded {
			return nil, err
		}
		// Stale if error: keep serving the keys we have.
		return nil, fmt.Errorf("%w: unknown kid (refresh failed: %v)", ErrInvalidToken, err)
	}
	s.mu.RLock()
	k = s.keys[kid]
	s.mu.RUnlock()
	if k == nil {
		return nil, fmt.Errorf("%w: unknown kid", ErrInvalidToken)
	}
	return k, nil
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

func (s *keySet) fetch(ctx context.Context) (map[string]*verifyKey, time.Duration, error) {
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
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// parseJWKS keeps the public signature keys of a JWKS (RFC 7517) that have a
// kid; others are ignored.
func parseJWKS(body []byte) (map[string]*verifyKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	keys := make(map[string]*verifyKey, len(set.Keys))
	for _, jwk := range set.Keys {
		if jwk.KeyID == "" || (jwk.Use != "" && jwk.Use != "sig") || !jwk.IsPublic() {
			continue
		}
		k := &verifyKey{alg: jwk.Algorithm}
		switch pub := jwk.Key.(type) {
		case *ecdsa.PublicKey:
			k.ec = pub
		case ed25519.PublicKey:
			k.ed = pub
		case *rsa.PublicKey:
			k.rsa = pub
		default:
			continue
		}
		keys[jwk.KeyID] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no usable signature key")
	}
	return keys, nil
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
