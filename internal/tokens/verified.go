package tokens

import (
	"sync"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// verifiedCache remembers tokens whose form, signature and issuer checked
// out, keyed by the raw token. Times are checked on every hit; revocation
// and the state of the client and user are the callers' to check, every
// time. The claims are shared: callers must not modify them.
type verifiedCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]*wire.Claims
}

func (v *verifiedCache) get(raw string) (*wire.Claims, bool) {
	if v.max <= 0 {
		return nil, false
	}
	v.mu.RLock()
	c, ok := v.m[raw]
	v.mu.RUnlock()
	return c, ok
}

func (v *verifiedCache) put(raw string, c *wire.Claims) {
	if v.max <= 0 {
		return
	}
	v.mu.Lock()
	if len(v.m) >= v.max {
		// Drop an arbitrary tenth: cheap, and a dropped token only costs
		// one more signature check.
		n := v.max / 10
		for k := range v.m {
			delete(v.m, k)
			if n--; n <= 0 {
				break
			}
		}
	}
	v.m[raw] = c
	v.mu.Unlock()
}
