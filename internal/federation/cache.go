package federation

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

// maxVerified bounds the tokens remembered as verified.
const maxVerified = 10000

// verified remembers that a token passed every check except the ones that
// depend on time: a projected service account token or a JWT-SVID is
// presented again and again until it is replaced, and its signature does
// not change. An entry holds for the snapshot (trusts and bindings) it was
// checked against; any change of a trust or binding starts afresh.
type verified struct {
	snap    *snapshot
	binding *store.TrustBinding
	claims  jwt.Claims
	match   Match
}

type verifiedCache struct {
	mu sync.Mutex
	m  map[[32]byte]verified
}

func (c *verifiedCache) get(raw string, s *snapshot, b *store.TrustBinding) (jwt.Claims, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if !ok || v.snap != s || v.binding != b {
		return jwt.Claims{}, false
	}
	return v.claims, true
}

// lookup returns the entry of raw, whatever its snapshot.
func (c *verifiedCache) lookup(raw string) (verified, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *verifiedCache) put(raw string, s *snapshot, b *store.TrustBinding, claims jwt.Claims, m Match, now time.Time) {
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[32]byte]verified{}
	}
	if len(c.m) >= maxVerified {
		for k, v := range c.m {
			if v.snap != s || !now.Before(v.claims.Expiry.Time()) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxVerified {
			clear(c.m)
		}
	}
	c.m[key] = verified{snap: s, binding: b, claims: claims, match: m}
}
