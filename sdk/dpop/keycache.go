package dpop

import (
	"sync"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// maxCachedKeys bounds the parsed proof keys a Verifier keeps.
const maxCachedKeys = 4096

// keyCache remembers the keys of recent proofs, parsed and with their
// thumbprints, by the exact bytes of the jwk header: a client signs every
// proof with one key, so parsing it and hashing it again for each proof
// would be the largest cost of a proof after its signature. Bytes that
// parse differently cannot share an entry, and what ParseJWK refuses is
// never cached.
type keyCache struct {
	mu sync.RWMutex
	m  map[string]cachedKey
}

type cachedKey struct {
	key *jwt.Key
	jkt string
}

// parse is jwt.ParseJWK through the cache.
func (c *keyCache) parse(raw []byte) (*jwt.Key, error) {
	c.mu.RLock()
	e, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return e.key, nil
	}
	k, err := jwt.ParseJWK(raw)
	if err != nil {
		return nil, err
	}
	jkt, err := k.Thumbprint()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedKey)
	}
	if len(c.m) >= maxCachedKeys {
		for old := range c.m { // an arbitrary entry: Go's map order is random
			delete(c.m, old)
			break
		}
	}
	c.m[string(raw)] = cachedKey{key: k, jkt: jkt}
	return k, nil
}

// thumbprint returns the jkt of a key parse returned.
func (c *keyCache) thumbprint(raw []byte, k *jwt.Key) (string, error) {
	c.mu.RLock()
	e, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok && e.key == k {
		return e.jkt, nil
	}
	return k.Thumbprint()
}
