package guard

import (
	"sync"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// verified is a cached verification result.
type verified struct {
	claims *wire.Claims
	until  int64 // unix nanoseconds after which the entry is stale
}

// tokenCache maps raw tokens to their verified claims, bounded in size.
// When full, an insert first sweeps a few expired entries and otherwise
// evicts an arbitrary one (Go's randomized map iteration makes that a random
// eviction), so every operation is O(1).
type tokenCache struct {
	size int // <= 0 disables the cache

	mu sync.RWMutex
	m  map[string]verified
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{size: size}
	if size > 0 {
		c.m = make(map[string]verified, min(size, 1024))
	}
	return c
}

// get returns the claims cached for raw if they are still valid at now.
func (c *tokenCache) get(raw string, now time.Time) (*wire.Claims, bool) {
	if c.size <= 0 {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.m[raw]
	c.mu.RUnlock()
	if !ok || now.UnixNano() >= v.until {
		return nil, false
	}
	return v.claims, true
}

// put caches claims for raw until the given time.
func (c *tokenCache) put(raw string, claims *wire.Claims, until time.Time, now time.Time) {
	if c.size <= 0 || !until.After(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[raw]; !ok && len(c.m) >= c.size {
		c.evict(now.UnixNano())
	}
	c.m[raw] = verified{claims: claims, until: until.UnixNano()}
}

// evict removes up to 8 stale entries among the first 32 visited, or one
// arbitrary entry when none is stale. The caller holds c.mu.
func (c *tokenCache) evict(now int64) {
	removed, visited := 0, 0
	var victim string
	for k, v := range c.m {
		if v.until <= now {
			delete(c.m, k)
			removed++
		} else if victim == "" {
			victim = k
		}
		visited++
		if removed == 8 || visited == 32 {
			break
		}
	}
	if removed == 0 && victim != "" {
		delete(c.m, victim)
	}
}

// len returns the number of cached entries.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
