package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// CacheConfig tunes a [Cache]. Zero values select the defaults.
type CacheConfig struct {
	// TTL is how often Run reloads everything the cache holds, and how
	// long an entry read on its own is served without a re-read: the
	// backstop for a missed invalidation. Default 30s.
	TTL time.Duration
	// StaleIfError is how long after it was last read (or reloaded) an
	// entry is still served while the database cannot be reached. Default
	// 1h; negative turns it off.
	StaleIfError time.Duration
	// NegativeTTL is how long an unknown client_id is remembered as
	// unknown, so guessing client_ids does not reach the database.
	// Default 5s.
	NegativeTTL time.Duration
	// MaxNegative bounds the number of remembered unknown client_ids.
	// Default 10000.
	MaxNegative int
	// UnknownProbes is how many lookups per second of client_ids that a
	// complete cache does not hold may still ask the database (a client
	// created on another replica a moment ago); the rest are answered
	// "unknown" from memory. Default 20.
	UnknownProbes int
	// Logger receives reload failures and recoveries; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Cache is a read-through cache in front of a Store for the lookups on the
// token endpoint's hot path: clients, client secrets, scopes and roles.
// Everything else passes straight through to the embedded Store.
//
// [Cache.Load] reads every client (with its secrets), scope and role in
// bulk; [Cache.Run] repeats that every TTL and follows the store's change
// feed in between, so the cache then holds every client and answers a
// lookup of an unknown client_id from memory. Without Run it is a plain
// read-through cache whose entries live TTL.
//
// Writes made through the Cache invalidate the affected entries at once.
// Writes made by other replicas arrive through Run. While the database
// cannot be reached, entries are served up to StaleIfError after they
// were last read from it; a reload after the outage revalidates them all.
//
// Values returned on a hit are copies of the cached struct, but their slices
// (Client.Scopes, Client.GrantTypes, Role.ScopeIDs, the []ClientSecret
// itself, ...) are shared with the cache and with other callers: treat them
// as read-only. Usage counters (Client.TotalRequests, LastUsed) may be
// stale by up to TTL, since RecordClientUsage does not invalidate.
type Cache struct {
	Store

	ttl, stale, negTTL int64 // nanoseconds; stale <= 0: off
	maxNeg             int
	probes             float64
	now                func() time.Time
	log                *slog.Logger

	mu          sync.RWMutex
	gen         uint64                      // bumped by every invalidation
	keyGen      map[string]uint64           // key -> gen of its last invalidation; a read fills only if not later than its start
	floorGen    uint64                      // gen of the last invalidation of everything
	epoch       uint32                      // bumped when every client entry must be re-read (a scope changed)
	clients     map[string]*entry[Client]   // by client_id
	negClients  map[string]int64            // client_id -> expiry (unix ns)
	uuidOf      map[string]string           // client_id -> Client.ID, to find secrets on a client change
	secrets     map[string]*entry[[]Secret] // by Client.ID
	scopes      map[string]*entry[Scope]    // by id
	scopeByName map[string]*entry[Scope]
	roles       map[string]*entry[Role] // by id
	roleByName  map[string]*entry[Role]
	complete    bool                // clients holds every client, apart from dirty ones
	dirty       map[string]struct{} // client_ids invalidated since the last Load
	loading     map[string]struct{} // client_ids invalidated while a Load reads; nil when none runs
	probeTokens float64
	probeAt     int64

	loadMu     sync.Mutex
	reload     chan struct{} // asks Run for a Load now
	refresh    chan string   // client_ids Run re-reads at once after their invalidation
	group      singleflight.Group
	id         string       // names this cache's heartbeats
	synced     atomic.Int64 // unix ns when the last heartbeat echoed: every entry was current then
	following  atomic.Int64 // unix ns since when changes are followed; 0 before
	downSince  atomic.Int64 // unix ns of the first failure of an outage; 0 while the store answers
	lastFail   atomic.Int64 // unix ns of the latest failure
	lastLoaded atomic.Int64 // unix ns of the last complete Load

	hits, misses, staleHits atomic.Uint64
}

// Secret is an alias kept short for the cache's maps.
type Secret = ClientSecret

type entry[T any] struct {
	v     T
	at    int64  // unix ns when read from the store
	epoch uint32 // for clients: the cache's epoch when read
	// invalid marks an entry a change made out of date: it is read again
	// before it is served, and served only if the store cannot answer (it
	// is then the last state known, as for any entry during an outage).
	invalid bool
}

// invalidated returns a copy of e marked invalid (entries are shared
// read-only, so they are replaced, not changed).
func invalidated[T any](e *entry[T]) *entry[T] {
	c := *e
	c.invalid = true
	return &c
}

func newCacheID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errUnknownClient is returned on a negative hit; preallocated so that a
// flood of guessed client_ids costs no allocation.
var errUnknownClient = fmt.Errorf("get client: %w (cached)", ErrNotFound)

// NewCache wraps s. Call Load and Run to hold every client and follow
// changes made by other replicas.
func NewCache(s Store, cfg CacheConfig) *Cache {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.StaleIfError == 0 {
		cfg.StaleIfError = time.Hour
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Second
	}
	if cfg.MaxNegative <= 0 {
		cfg.MaxNegative = 10000
	}
	if cfg.UnknownProbes <= 0 {
		cfg.UnknownProbes = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cache{Store: s, ttl: int64(cfg.TTL), stale: int64(cfg.StaleIfError), negTTL: int64(cfg.NegativeTTL),
		maxNeg: cfg.MaxNegative, probes: float64(cfg.UnknownProbes), now: cfg.Now, log: cfg.Logger,
		reload: make(chan struct{}, 1), refresh: make(chan string, 1024), id: newCacheID()}
	c.reset()
	return c
}

// reset empties every map; the caller holds mu (or owns c exclusively).
func (c *Cache) reset() {
	c.clients = map[string]*entry[Client]{}
	c.negClients = map[string]int64{}
	c.keyGen = map[string]uint64{}
	c.uuidOf = map[string]string{}
	c.secrets = map[string]*entry[[]Secret]{}
	c.scopes = map[string]*entry[Scope]{}
	c.scopeByName = map[string]*entry[Scope]{}
	c.roles = map[string]*entry[Role]{}
	c.roleByName = map[string]*entry[Role]{}
	c.complete, c.dirty = false, map[string]struct{}{}
}

// Stats returns the number of lookups served from the cache (including
// remembered unknown clients and entries served stale during an outage)
// and the number that reached the store.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

// StaleHits returns how many lookups were served from entries past their
// lifetime because the database could not be reached.
func (c *Cache) StaleHits() uint64 { return c.staleHits.Load() }

// Down returns when the current database outage began, as the cache saw
// it, or the zero time while the store answers.
func (c *Cache) Down() time.Time {
	if ns := c.downSince.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// LastLoaded returns when the last complete Load finished reading, or the
// zero time if none has.
func (c *Cache) LastLoaded() time.Time {
	if ns := c.lastLoaded.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// verdict says what to do with a cached entry read at `at`.
type verdict int

const (
	serve      verdict = iota // fresh: serve it
	reread                    // read the store; serve the entry if that fails within the stale window
	serveStale                // the store is down: serve it without asking
	tooOld                    // past the stale window: read the store, no fallback
)

// judge decides on an entry read at at (unix ns), or renewed by a later
// heartbeat, which proves it was still current then. Fresh entries are
// served; an old one is re-read, except during an outage, when the store
// is asked at most once a second (by one caller) and the entry is served
// meanwhile.
func (c *Cache) judge(at, now int64, current bool) verdict {
	age := now - max(at, c.synced.Load())
	switch {
	case current && age < c.ttl:
		return serve
	case c.stale <= 0 || age >= c.stale:
		return tooOld
	}
	if c.downSince.Load() != 0 && now-c.lastFail.Load() < int64(time.Second) {
		return serveStale
	}
	return reread
}

// isUnavailable reports whether err means the store could not answer,
// as opposed to an answer ("not found") or the caller giving up.
func isUnavailable(err error) bool {
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, context.Canceled)
}

// storeFailed notes an outage; storeAnswered ends it.
func (c *Cache) storeFailed(now int64) {
	c.lastFail.Store(now) // the next caller asks again in a second
	if c.downSince.CompareAndSwap(0, now) {
		c.log.Warn("database unreachable: serving known clients, scopes and roles from memory",
			"for_at_most", time.Duration(c.stale).String())
	}
}

func (c *Cache) storeAnswered() {
	if old := c.downSince.Swap(0); old != 0 {
		c.log.Info("database reachable again", "down_for", time.Duration(c.now().UnixNano()-old).Round(time.Millisecond).String())
	}
}

// heartbeat is the change kind a cache publishes to itself: its echo
// proves that the database answers and that every change published before
// it has been applied here.
const heartbeat = "cache-heartbeat"

// Run subscribes to the store's changes and invalidates accordingly. It
// keeps the entries fresh while the store answers: every third of TTL it
// publishes a heartbeat, and the heartbeat's echo through the change feed
// renews every entry (so a missed notification is possible only when the
// feed's connection broke, and then the feed says so and Run reloads
// everything). It reloads everything at start, after notifications may
// have been missed, after a scope change, and every ten TTLs as a backstop
// for changes made to the database behind Permiso's back, retrying with
// backoff while the database is down. It blocks until ctx ends and then
// returns nil; it returns early only if the subscription cannot be set up.
func (c *Cache) Run(ctx context.Context) error {
	if c.following.Load() == 0 {
		if err := c.Follow(ctx); err != nil {
			return err
		}
	}
	if c.lastLoaded.Load() < c.following.Load() {
		// Changes made before the subscription started were not seen.
		c.requestLoad()
	}
	// A client dropped by an invalidation is read again at once, so the
	// next request finds it and an outage right after the change finds it
	// too.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case id := <-c.refresh:
				if cl, err := c.loadClient(ctx, id, c.now().UnixNano()); err == nil {
					_, _ = c.ListClientSecrets(ctx, cl.ID, c.now())
				}
			}
		}
	}()
	beat := time.NewTicker(max(time.Duration(c.ttl)/3, 100*time.Millisecond))
	defer beat.Stop()
	backstop := 10 * time.Duration(c.ttl)
	t := time.NewTimer(backstop)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			c.sendHeartbeat(ctx)
			continue
		case <-t.C:
		case <-c.reload:
		}
		wait := backstop
		if err := c.Load(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			wait = min(time.Second<<min(failures-1, 3), backstop)
			if failures == 1 {
				c.log.Warn("cache reload failed; retrying", "err", err)
			}
		} else {
			failures = 0
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// Follow subscribes to the store's changes until ctx ends. Run does it
// itself; a caller that wants every change applied from before its first
// Load (so Run need not load again) calls Follow first.
func (c *Cache) Follow(ctx context.Context) error {
	if err := c.Store.Subscribe(ctx, c.onChange); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	c.following.Store(max(1, c.now().UnixNano()))
	return nil
}

func (c *Cache) sendHeartbeat(ctx context.Context) {
	now := c.now().UnixNano()
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	if err := c.Store.Publish(ctx, Change{Kind: heartbeat, ID: c.id + "/" + strconv.FormatInt(now, 10)}); err != nil {
		if isUnavailable(err) {
			c.storeFailed(now)
		}
	}
}

// onChange receives the change feed: this cache's heartbeats renew its
// entries, anything else invalidates.
func (c *Cache) onChange(ch Change) {
	if ch.Kind != heartbeat {
		c.Invalidate(ch)
		return
	}
	id, sent, ok := strings.Cut(ch.ID, "/")
	if !ok || id != c.id {
		return // another replica's
	}
	if ns, err := strconv.ParseInt(sent, 10, 64); err == nil {
		for old := c.synced.Load(); ns > old && !c.synced.CompareAndSwap(old, ns); old = c.synced.Load() {
		}
		c.storeAnswered()
	}
}

// requestLoad asks Run for a Load as soon as it can.
func (c *Cache) requestLoad() {
	select {
	case c.reload <- struct{}{}:
	default:
	}
}

// Invalidate drops the entries a change affects. Kind "*" (or empty)
// means notifications may have been missed: entries stay until a reload
// replaces them (Run starts one at once), and are re-read when they
// reach TTL meanwhile. An empty ID means every entry of the kind. A scope
// change also affects roles and clients, which embed their scopes.
func (c *Cache) Invalidate(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ch.Kind {
	case "", "*":
		c.complete = false
		c.epoch++
		c.floorGen = c.gen
		invalidateAll(c.scopes, nil)
		invalidateAll(c.scopeByName, nil)
		invalidateAll(c.roles, nil)
		invalidateAll(c.roleByName, nil)
		c.requestLoad()
	case ChangeClient:
		if ch.ID == "" {
			c.complete = false
			c.epoch++
			c.floorGen = c.gen
			c.requestLoad()
			return
		}
		c.dropClient(ch.ID)
	case ChangeScope:
		// Clients and roles embed scopes: re-read them as they are used,
		// until the reload Run starts now rebuilds them all.
		c.epoch++
		c.keyGen[rbacKey] = c.gen
		invalidateAll(c.scopes, nil)
		invalidateAll(c.scopeByName, nil)
		invalidateAll(c.roles, nil)
		invalidateAll(c.roleByName, nil)
		c.requestLoad()
	case ChangeRole:
		if ch.ID == "" {
			c.keyGen[rbacKey] = c.gen
			invalidateAll(c.roles, nil)
			invalidateAll(c.roleByName, nil)
			return
		}
		c.keyGen["r\x00"+ch.ID] = c.gen
		one := func(r Role) bool { return r.ID == ch.ID }
		invalidateAll(c.roles, one)
		invalidateAll(c.roleByName, one)
	}
}

// dropClient marks a client and its secrets out of date, and asks Run to
// read them again if the client was ever held (a read already on its way
// may be discarded by this invalidation); the caller holds mu.
func (c *Cache) dropClient(clientID string) {
	if _, known := c.uuidOf[clientID]; known {
		select {
		case c.refresh <- clientID:
		default: // Run is behind; the next lookup reads it
		}
	}
	if e, ok := c.clients[clientID]; ok {
		c.clients[clientID] = invalidated(e)
	}
	delete(c.negClients, clientID)
	c.keyGen["c\x00"+clientID] = c.gen
	c.dirty[clientID] = struct{}{}
	if c.loading != nil {
		c.loading[clientID] = struct{}{}
	}
	// A client never held has no secrets held either: they are read
	// after the client.
	if id, ok := c.uuidOf[clientID]; ok {
		if e, ok := c.secrets[id]; ok {
			c.secrets[id] = invalidated(e)
		}
		c.keyGen["s\x00"+id] = c.gen
	}
}

// invalidateAll marks the entries of m that match (all, when match is nil)
// out of date; the caller holds mu.
func invalidateAll[T any](m map[string]*entry[T], match func(T) bool) {
	for k, e := range m {
		if !e.invalid && (match == nil || match(e.v)) {
			m[k] = invalidated(e)
		}
	}
}

// rbacKey stands for every scope and role in keyGen: a scope change
// affects them all.
const rbacKey = "rbac"

// fill runs f under the write lock unless one of keys was invalidated
// after gen was read: a value read from the store before a concurrent
// write must not be cached after that write's invalidation. Invalidations
// of other keys do not stop it.
func (c *Cache) fill(gen uint64, f func(), keys ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.floorGen > gen {
		return false
	}
	for _, k := range keys {
		if c.keyGen[k] > gen {
			return false
		}
	}
	f()
	return true
}

// GetClient serves a client from the cache, or remembers an unknown
// client_id for NegativeTTL.
func (c *Cache) GetClient(ctx context.Context, clientID string) (Client, error) {
	now := c.now().UnixNano()
	c.mu.RLock()
	e, ok := c.clients[clientID]
	neg, isNeg := c.negClients[clientID]
	_, dirty := c.dirty[clientID]
	known := c.complete && !dirty
	epoch := c.epoch
	c.mu.RUnlock()
	var v verdict
	if ok {
		switch v = c.judge(e.at, now, e.epoch == epoch && !e.invalid); v {
		case serve:
			c.hits.Add(1)
			return e.v, nil
		case serveStale:
			c.hits.Add(1)
			c.staleHits.Add(1)
			return e.v, nil
		}
	}
	if isNeg && now < neg {
		c.hits.Add(1)
		return Client{}, errUnknownClient
	}
	if !ok && known && c.judge(c.lastLoaded.Load(), now, true) != tooOld && !c.takeProbe(now) {
		// Every client was loaded and this one is not among them; only a
		// few such lookups a second may ask the store.
		c.hits.Add(1)
		c.mu.Lock()
		c.rememberUnknown(clientID, now+c.negTTL, now)
		c.mu.Unlock()
		return Client{}, errUnknownClient
	}
	c.misses.Add(1)
	cl, err := c.loadClient(ctx, clientID, now)
	if ok && v == reread && isUnavailable(err) {
		c.staleHits.Add(1)
		return e.v, nil
	}
	return cl, err
}

// loadClient reads one client, once however many callers ask at the same
// time, and caches the answer.
func (c *Cache) loadClient(ctx context.Context, clientID string, now int64) (Client, error) {
	c.mu.RLock()
	gen, epoch := c.gen, c.epoch
	c.mu.RUnlock()
	res, err := c.do(ctx, flightKey("c", clientID, gen), func(ctx context.Context) (any, error) {
		cl, err := c.Store.GetClient(ctx, clientID)
		switch {
		case err == nil:
			c.storeAnswered()
			filled := c.fill(gen, func() {
				c.clients[clientID] = &entry[Client]{v: cl, at: now, epoch: epoch}
				c.uuidOf[clientID] = cl.ID
				delete(c.negClients, clientID)
				delete(c.dirty, clientID)
			}, "c\x00"+clientID)
			if !filled {
				// A change came while reading: read again, so the cache
				// holds the client when the next request (or an outage)
				// comes.
				select {
				case c.refresh <- clientID:
				default:
				}
			}
		case errors.Is(err, ErrNotFound):
			c.storeAnswered()
			c.fill(gen, func() {
				if e, ok := c.clients[clientID]; ok { // deleted meanwhile
					delete(c.clients, clientID)
					delete(c.secrets, e.v.ID)
				}
				c.rememberUnknown(clientID, now+c.negTTL, now)
				delete(c.dirty, clientID)
			}, "c\x00"+clientID)
		case isUnavailable(err):
			c.storeFailed(now)
		}
		return cl, err
	})
	cl, _ := res.(Client)
	return cl, err
}

// readTimeout bounds one read of the store on behalf of waiting callers.
const readTimeout = 5 * time.Second

// flightKey names a read for singleflight. It carries the invalidation
// count the caller saw, so a caller that comes after an invalidation never
// shares a read that began before it (and would bring the old value).
func flightKey(kind, key string, gen uint64) string {
	return kind + "\x00" + key + "\x00" + strconv.FormatUint(gen, 10)
}

// do runs read once for every caller asking for key at the same time
// (singleflight per key: lookups of different keys never wait for each
// other). The read is not tied to one caller's context; each caller stops
// waiting when its own context ends.
func (c *Cache) do(ctx context.Context, key string, read func(context.Context) (any, error)) (any, error) {
	ch := c.group.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
		defer cancel()
		return read(rctx)
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// takeProbe spends one of the UnknownProbes lookups per second.
func (c *Cache) takeProbe(now int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probeTokens = min(c.probes, c.probeTokens+float64(now-c.probeAt)/float64(time.Second)*c.probes)
	c.probeAt = now
	if c.probeTokens < 1 {
		return false
	}
	c.probeTokens--
	return true
}

// rememberUnknown adds a negative entry, keeping at most maxNeg: expired
// entries go first, then arbitrary ones (map order is random, which is a
// fair enough eviction for an attacker-controlled key space). The caller
// holds mu.
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
	var v verdict
	if ok {
		switch v = c.judge(e.at, ns, !e.invalid); v {
		case serve:
			c.hits.Add(1)
			return liveSecrets(e.v, now), nil
		case serveStale:
			c.hits.Add(1)
			c.staleHits.Add(1)
			return liveSecrets(e.v, now), nil
		}
	}
	c.misses.Add(1)
	res, err := c.do(ctx, flightKey("s", clientUUID, gen), func(ctx context.Context) (any, error) {
		list, err := c.Store.ListClientSecrets(ctx, clientUUID, now)
		if err == nil {
			c.storeAnswered()
			c.fill(gen, func() { c.secrets[clientUUID] = &entry[[]Secret]{v: list, at: ns} }, "s\x00"+clientUUID)
		} else if isUnavailable(err) {
			c.storeFailed(ns)
		}
		return list, err
	})
	if ok && v == reread && isUnavailable(err) {
		c.staleHits.Add(1)
		return liveSecrets(e.v, now), nil
	}
	list, _ := res.([]ClientSecret)
	return liveSecrets(list, now), err
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
