package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// faultStore is a store the test can take down, count reads of, and hold
// one client's read open in.
type faultStore struct {
	store.Store
	down   atomic.Bool
	reads  atomic.Int64
	holdID string
	held   chan struct{} // closed when the first held read starts
	free   chan struct{} // closed to let held reads finish
	once   sync.Once
	// inflight and maxInflight count concurrent reads of holdID.
	inflight, maxInflight atomic.Int64
}

var errDown = errors.New("connection refused")

func (s *faultStore) read() error {
	s.reads.Add(1)
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *faultStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	if id == s.holdID && s.held != nil {
		n := s.inflight.Add(1)
		for m := s.maxInflight.Load(); n > m && !s.maxInflight.CompareAndSwap(m, n); m = s.maxInflight.Load() {
		}
		s.once.Do(func() { close(s.held) })
		<-s.free
		s.inflight.Add(-1)
	}
	if err := s.read(); err != nil {
		return store.Client{}, err
	}
	return s.Store.GetClient(ctx, id)
}

func (s *faultStore) ListClientSecrets(ctx context.Context, id string, now time.Time) ([]store.ClientSecret, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.ListClientSecrets(ctx, id, now)
}

func (s *faultStore) LoadClients(ctx context.Context, after string, limit int, now time.Time) ([]store.LoadedClient, error) {
	if err := s.read(); err != nil {
		return nil, err
	}
	return s.Store.LoadClients(ctx, after, limit, now)
}

func (s *faultStore) ListScopes(ctx context.Context, f store.ScopeFilter) ([]store.Scope, int, error) {
	if err := s.read(); err != nil {
		return nil, 0, err
	}
	return s.Store.ListScopes(ctx, f)
}

func (s *faultStore) GetScopeByName(ctx context.Context, name string) (store.Scope, error) {
	if err := s.read(); err != nil {
		return store.Scope{}, err
	}
	return s.Store.GetScopeByName(ctx, name)
}

func newFaultCache(t testing.TB, cfg store.CacheConfig) (*store.Cache, *faultStore, *clock) {
	_, db, clk := newCache(t, cfg)
	fs := &faultStore{Store: db}
	cfg.Now = clk.Now
	return store.NewCache(fs, cfg), fs, clk
}

// TestCacheLoadHoldsEveryClient: after Load every client is served from
// memory, and unknown client_ids are answered from memory too, but for a
// few probes a second (a client created a moment ago on another replica).
func TestCacheLoadHoldsEveryClient(t *testing.T) {
	ctx := context.Background()
	c, fs, clk := newFaultCache(t, store.CacheConfig{UnknownProbes: 2})
	sc := must(fs.Store.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	for i := range 1100 { // two pages
		cl := must(fs.Store.CreateClient(ctx, store.Client{ClientID: fmt.Sprintf("svc-%04d", i), Type: "confidential",
			ScopeIDs: []string{sc.ID}, GrantTypes: []string{"client_credentials"}}))(t)
		must(fs.Store.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("h")}))(t)
	}
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	before := fs.reads.Load()
	for i := range 1100 {
		cl := must(c.GetClient(ctx, fmt.Sprintf("svc-%04d", i)))(t)
		if s := must(c.ListClientSecrets(ctx, cl.ID, clk.Now()))(t); len(s) != 1 || cl.Scopes[0].Name != "trade:read" {
			t.Fatalf("%s: %d secrets, scopes %v", cl.ClientID, len(s), cl.ScopeNames())
		}
	}
	must(c.GetScopeByName(ctx, "trade:read"))(t)
	if n := fs.reads.Load() - before; n != 0 {
		t.Fatalf("%d store reads for loaded clients", n)
	}
	for i := range 1000 {
		if _, err := c.GetClient(ctx, fmt.Sprintf("guess-%d", i)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown client: %v", err)
		}
	}
	if n := fs.reads.Load() - before; n > 2 {
		t.Fatalf("1000 unknown client_ids cost %d store reads, want at most the 2 probes", n)
	}
	// A client created behind the cache's back is found by a probe once
	// the budget refills.
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "new", Type: "public"}))(t)
	clk.Advance(time.Second)
	must(c.GetClient(ctx, "new"))(t)
	// An invalidated client is read again, not answered "unknown".
	c.Invalidate(store.Change{Kind: store.ChangeClient, ID: "svc-0001"})
	must(c.GetClient(ctx, "svc-0001"))(t)
}

// TestCacheStaleIfError: while the store is down, loaded clients, secrets
// and scopes are served long past TTL, up to StaleIfError after the last
// load; after it, the store is asked again and its errors surface. A
// reload after the outage brings changes made meanwhile.
func TestCacheStaleIfError(t *testing.T) {
	ctx := context.Background()
	const ttl = 30 * time.Second
	c, fs, clk := newFaultCache(t, store.CacheConfig{TTL: ttl, StaleIfError: time.Hour})
	sc := must(fs.Store.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	cl := must(fs.Store.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential", Active: true, ScopeIDs: []string{sc.ID}}))(t)
	must(fs.Store.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("h")}))(t)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}

	fs.down.Store(true)
	for _, after := range []time.Duration{2*ttl + time.Second, 10 * time.Minute, 59 * time.Minute} {
		clk.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(after).UnixNano())
		for range 50 {
			if got, err := c.GetClient(ctx, "svc"); err != nil || !got.Active {
				t.Fatalf("%v into the outage: %v", after, err)
			}
			if s, err := c.ListClientSecrets(ctx, cl.ID, clk.Now()); err != nil || len(s) != 1 {
				t.Fatalf("%v into the outage: secrets %v", after, err)
			}
			must(c.GetScopeByName(ctx, "trade:read"))(t)
		}
	}
	if c.StaleHits() == 0 || c.Down().IsZero() {
		t.Fatalf("stale hits %d, down since %v", c.StaleHits(), c.Down())
	}
	// Reads during the outage are about one a second, not one a request.
	if n := fs.reads.Load(); n > 20 {
		t.Fatalf("%d store reads during the outage", n)
	}
	clk.Advance(2 * time.Minute) // past the hour
	if _, err := c.GetClient(ctx, "svc"); !errors.Is(err, errDown) {
		t.Fatalf("after the stale window: %v, want the store's error", err)
	}

	// Meanwhile the client was disabled elsewhere; the reload that follows
	// the outage brings that, and unknown ids are answered again.
	must(fs.Store.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Active = false; return cl, nil }))(t)
	fs.down.Store(false)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if got := must(c.GetClient(ctx, "svc"))(t); got.Active {
		t.Fatal("a client disabled during the outage is still active after the reload")
	}
	if !c.Down().IsZero() {
		t.Fatal("still down after a successful reload")
	}
}

// TestCacheLookupsDoNotQueue: one uncached client whose read hangs holds
// up neither lookups of other clients nor more than one read of its own,
// however many callers want it (singleflight per client_id, no global
// lock), and a caller that gives up stops waiting.
func TestCacheLookupsDoNotQueue(t *testing.T) {
	ctx := context.Background()
	c, fs, _ := newFaultCache(t, store.CacheConfig{})
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "slow", Type: "public"}))(t)
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "fast", Type: "public"}))(t)
	fs.holdID, fs.held, fs.free = "slow", make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := c.GetClient(ctx, "slow"); err != nil {
				t.Error(err)
			}
		})
	}
	<-fs.held
	must(c.GetClient(ctx, "fast"))(t) // would block if lookups queued
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.GetClient(cctx, "slow"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(fs.free)
	wg.Wait()
	if n := fs.maxInflight.Load(); n != 1 {
		t.Fatalf("%d concurrent reads of one client_id, want 1", n)
	}
}

// TestCacheNoSharedReadAcrossInvalidation: a lookup after an invalidation
// never takes the answer of a read that began before it (it would be the
// old value).
func TestCacheNoSharedReadAcrossInvalidation(t *testing.T) {
	ctx := context.Background()
	c, fs, _ := newFaultCache(t, store.CacheConfig{})
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "svc", Name: "v1", Type: "public"}))(t)
	fs.holdID, fs.held, fs.free = "svc", make(chan struct{}), make(chan struct{})
	first := make(chan string, 1)
	go func() { first <- must(c.GetClient(ctx, "svc"))(t).Name }()
	<-fs.held // the first read has begun and is held
	must(fs.Store.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Name = "v2"; return cl, nil }))(t)
	c.Invalidate(store.Change{Kind: store.ChangeClient, ID: "svc"})
	second := make(chan string, 1)
	go func() { second <- must(c.GetClient(ctx, "svc"))(t).Name }()
	deadline := time.Now().Add(10 * time.Second)
	for fs.inflight.Load() < 2 { // the second lookup reads for itself
		if time.Now().After(deadline) {
			t.Fatal("the lookup after the invalidation joined the read that began before it")
		}
		time.Sleep(time.Millisecond)
	}
	close(fs.free)
	if got := <-second; got != "v2" {
		t.Fatalf("after the invalidation: %q, want v2", got)
	}
	<-first
}

// TestCacheLoadKeepsInvalidations: an invalidation that arrives while a
// Load reads wins over the value the Load read.
func TestCacheLoadKeepsInvalidations(t *testing.T) {
	ctx := context.Background()
	c, fs, _ := newFaultCache(t, store.CacheConfig{})
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "svc", Name: "v1", Type: "public"}))(t)
	ls := &loadHook{faultStore: fs, during: func() {
		must(fs.Store.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Name = "v2"; return cl, nil }))(t)
	}}
	c2 := store.NewCache(ls, store.CacheConfig{})
	ls.cache = c2
	if err := c2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if n := must(c2.GetClient(ctx, "svc"))(t).Name; n != "v2" {
		t.Fatalf("name %q after an update during the load, want v2", n)
	}
	_ = c
}

// loadHook runs during once, after the first page of clients is read, and
// then tells the cache, as a change notification would.
type loadHook struct {
	*faultStore
	cache  *store.Cache
	during func()
	done   bool
}

func (s *loadHook) LoadClients(ctx context.Context, after string, limit int, now time.Time) ([]store.LoadedClient, error) {
	page, err := s.faultStore.LoadClients(ctx, after, limit, now)
	if !s.done {
		s.done = true
		s.during()
		s.cache.Invalidate(store.Change{Kind: store.ChangeClient, ID: "svc"})
	}
	return page, err
}

// TestCacheHeartbeatRenews: while Run follows the change feed, its
// heartbeats renew every entry, so the clock moving far past TTL causes no
// re-read; a stopped feed leaves them to age.
func TestCacheHeartbeatRenews(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, fs, clk := newFaultCache(t, store.CacheConfig{TTL: 300 * time.Millisecond})
	must(fs.Store.CreateClient(ctx, store.Client{ClientID: "svc", Type: "public"}))(t)
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	clk.Advance(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := fs.reads.Load()
		must(c.GetClient(ctx, "svc"))(t)
		if fs.reads.Load() == before {
			break // served from memory: a heartbeat renewed it
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat renewed the entries within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	before := fs.reads.Load()
	must(c.GetClient(context.Background(), "svc"))(t)
	if fs.reads.Load() == before {
		t.Fatal("an entry past TTL was served without a re-read after Run stopped")
	}
}
