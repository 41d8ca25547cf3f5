package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// CacheConfig tunes a [Cache]. Zero values select the defaults.
type CacheConfig struct {
	// TTL bounds how long an entry is served without a re-read: a backstop
	// for a missed invalidation. Default 30s.
	TTL time.Duration
	// NegativeTTL is how long an unknown client_id is remembered as
	// unknown, so guessing client_ids does not reach the database.
	// Default 5s.
	NegativeTTL time.Duration
	// MaxNegative bounds the number of remembered unknown client_ids.
	// Default 10000.
	MaxNegative int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a read-through cache in front of a Store for the lookups on the
// token endpoint's hot path: clients, client secrets, scopes and roles.
// Everything else passes straight through to the embedded Store.
//
// Writes made through the Cache invalidate the affected entries at once.
// Writes made by other replicas arrive through [Cache.Run], which listens
// to the store's change feed; TTL is the backstop if a change is missed.
//
// Values returned on a hit are copies of the cached struct, but their slices
// (Client.Scopes, Client.GrantTypes, Role.ScopeIDs, the []ClientSecret
// itself, ...) are shared with the cache and with other callers: treat them
// as read-only. Usage counters (Client.TotalRequests, LastUsed) may be
// stale by up to TTL, since RecordClientUsage does not invalidate.
type Cache struct {
	Store

	ttl, negTTL int64 // nanoseconds
	maxNeg      int
	now         func() time.Time

	mu          sync.RWMutex
	gen         uint64                           // bumped by every invalidation; a miss fills only if unchanged
	clients     map[string]entry[Client]         // by client_id
	negClients  map[string]int64                 // client_id -> expiry (unix ns)
	uuidOf      map[string]string                // client_id -> Client.ID, to find secrets on a client change
	secrets     map[string]entry[[]ClientSecret] // by Client.ID
	scopes      map[string]entry[Scope]          // by id
	scopeByName map[string]entry[Scope]
	roles       map[string]entry[Role] // by id
	roleByName  map[string]entry[Role]

	hits, misses atomic.Uint64
}

type entry[T any] struct {
	v   T
	exp int64 // unix ns
}

// errUnknownClient is returned on a negative hit; preallocated so that a
// flood of guessed client_ids costs no allocation.
var errUnknownClient = fmt.Errorf("get client: %w (cached)", ErrNotFound)

// NewCache wraps s. Call Run to follow changes made by other replicas.
func NewCache(s Store, cfg CacheConfig) *Cache {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.MaxNegative <= 0 {
		cfg.MaxNegative = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{Store: s, ttl: int64(cfg.TTL), negTTL: int64(cfg.NegativeTTL), maxNeg: cfg.MaxNegative, now: cfg.Now}
	c.reset()
	return c
}

// reset empties every map; the caller holds mu (or owns c exclusively).
func (c *Cache) reset() {
	c.clients = map[string]entry[Client]{}
	c.negClients = map[string]int64{}
	c.uuidOf = map[string]string{}
	c.secrets = map[string]entry[[]ClientSecret]{}
	c.scopes = map[string]entry[Scope]{}
	c.scopeByName = map[string]entry[Scope]{}
	c.roles = map[string]entry[Role]{}
	c.roleByName = map[string]entry[Role]{}
}

// Stats returns the number of lookups served from the cache (including
// remembered unknown clients) and the number that reached the store.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// Run subscribes to the store's changes and invalidates accordingly. It
// blocks until ctx ends and then returns nil; it returns early only if the
// subscription cannot be set up.
func (c *Cache) Run(ctx context.Context) error {
	if err := c.Store.Subscribe(ctx, c.Invalidate); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	// Changes made before the subscription started were not seen.
	c.Invalidate(Change{Kind: "*"})
	<-ctx.Done()
	return nil
}

// Invalidate drops the entries a change affects. Kind "*" (or empty) drops
// everything; an empty ID drops every entry of the kind. A scope change
// also drops roles and clients, which embed their scopes.
func (c *Cache) Invalidate(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ch.Kind {
	case "", "*":
		c.reset()
	case ChangeClient:
		if ch.ID == "" {
			c.clients, c.negClients, c.secrets = map[string]entry[Client]{}, map[string]int64{}, map[string]entry[[]ClientSecret]{}
			return
		}
		delete(c.clients, ch.ID)
		delete(c.negClients, ch.ID)
		if id, ok := c.uuidOf[ch.ID]; ok {
			delete(c.secrets, id)
		} else {
			// We cannot tell whose secrets changed; they are cheap to reload.
			c.secrets = map[string]entry[[]ClientSecret]{}
		}
	case ChangeScope:
		c.scopes, c.scopeByName = map[string]entry[Scope]{}, map[string]entry[Scope]{}
		c.roles, c.roleByName = map[string]entry[Role]{}, map[string]entry[Role]{}
		c.clients = map[string]entry[Client]{}
	case ChangeRole:
		if ch.ID == "" {
			c.roles, c.roleByName = map[string]entry[Role]{}, map[string]entry[Role]{}
			return
		}
		delete(c.roles, ch.ID)
		for name, e := range c.roleByName {
			if e.v.ID == ch.ID {
				delete(c.roleByName, name)
			}
		}
	}
}

// fill runs f under the write lock unless an invalidation happened since
// gen was read: a value read from the store before a concurrent write must
// not be cached after that write's invalidation.
func (c *Cache) fill(gen uint64, f func(exp int64)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		f(c.now().UnixNano() + c.ttl)
	}
}

// GetClient serves a client from the cache, or remembers an unknown
// client_id for NegativeTTL.
func (c *Cache) GetClient(ctx context.Context, clientID string) (Client, error) {
	now := c.now().UnixNano()
	c.mu.RLock()
	e, ok := c.clients[clientID]
	neg, isNeg := c.negClients[clientID]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now < e.exp {
		c.hits.Add(1)
		return e.v, nil
	}
	if isNeg && now < neg {
		c.hits.Add(1)
		return Client{}, errUnknownClient
	}
	c.misses.Add(1)
	cl, err := c.Store.GetClient(ctx, clientID)
	switch {
	case err == nil:
		c.fill(gen, func(exp int64) {
			c.clients[clientID] = entry[Client]{cl, exp}
			c.uuidOf[clientID] = cl.ID
			delete(c.negClients, clientID)
		})
	case errors.Is(err, ErrNotFound):
		c.fill(gen, func(int64) { c.rememberUnknown(clientID, now+c.negTTL, now) })
	}
	return cl, err
}

// rememberUnknown adds a negative entry, keeping at most maxNeg: expired
// entries go first, then arbitrary ones (map order is random, which is a
// fair enough eviction for an attacker-controlled key space).
func (c *Cache) rememberUnknown(clientID string, exp, now int64) {
	if len(c.negClients) >= c.maxNeg {
		for k, v := range c.negClients {
			if v <= now {
				delete(c.negClients, k)
			}
		}
		for k := range c.negClients {
			if len(c.negClients) < c.maxNeg {
				break
			}
			delete(c.negClients, k)
		}
	}
	c.negClients[clientID] = exp
}

// ListClientSecrets serves the client's secrets from the cache, still
// dropping those expired at now. When none is expired the cached slice
// itself is returned (read-only; see [Cache]).
func (c *Cache) ListClientSecrets(ctx context.Context, clientUUID string, now time.Time) ([]ClientSecret, error) {
	ns := c.now().UnixNano()
	c.mu.RLock()
	e, ok := c.secrets[clientUUID]
	gen := c.gen
	c.mu.RUnlock()
	if ok && ns < e.exp {
		c.hits.Add(1)
		return liveSecrets(e.v, now), nil
	}
	c.misses.Add(1)
	list, err := c.Store.ListClientSecrets(ctx, clientUUID, now)
	if err == nil {
		c.fill(gen, func(exp int64) { c.secrets[clientUUID] = entry[[]ClientSecret]{list, exp} })
	}
	return list, err
}

func liveSecrets(all []ClientSecret, now time.Time) []ClientSecret {
	for i := range all {
		if all[i].ExpiresAt != nil && !all[i].ExpiresAt.After(now) {
			out := make([]ClientSecret, 0, len(all)-1)
			for _, s := range all {
				if s.ExpiresAt == nil || s.ExpiresAt.After(now) {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return all
}
