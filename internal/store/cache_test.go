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
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newCache(t testing.TB, cfg store.CacheConfig) (*store.Cache, *sqlstore.Tenant, *clock) {
	db := sqltest.SQLite(t)
	clk := newClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	return store.NewCache(db, cfg), db, clk
}

func wantStats(t *testing.T, c *store.Cache, hits, misses uint64) {
	t.Helper()
	if h, m := c.Stats(); h != hits || m != misses {
		t.Fatalf("stats = %d hits, %d misses; want %d, %d", h, m, hits, misses)
	}
}

// must returns v, failing the test on err; curried so that a call's two
// results can be passed straight in: must(c.GetClient(ctx, id))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestCacheClientHitMissAndTTL(t *testing.T) {
	ctx := context.Background()
	c, db, clk := newCache(t, store.CacheConfig{TTL: time.Minute})
	created := must(c.CreateClient(ctx, store.Client{ClientID: "svc", Name: "v1", Type: "confidential"}))(t)

	got := must(c.GetClient(ctx, "svc"))(t)
	wantStats(t, c, 0, 1)
	got2 := must(c.GetClient(ctx, "svc"))(t)
	wantStats(t, c, 1, 1)
	if got.ID != created.ID || got2.Name != "v1" {
		t.Fatalf("cached client = %+v, want %+v", got2, created)
	}

	// A write that bypasses the cache (another replica, no Run) is seen
	// only after the TTL backstop.
	must(db.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Name = "v2"; return cl, nil }))(t)
	if n := must(c.GetClient(ctx, "svc"))(t).Name; n != "v1" {
		t.Fatalf("before TTL: name %q, want the cached v1", n)
	}
	clk.Advance(time.Minute)
	if n := must(c.GetClient(ctx, "svc"))(t).Name; n != "v2" {
		t.Fatalf("after TTL: name %q, want v2", n)
	}

	// A write through the cache is seen at once.
	must(c.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Name = "v3"; return cl, nil }))(t)
	if n := must(c.GetClient(ctx, "svc"))(t).Name; n != "v3" {
		t.Fatalf("after write through cache: name %q, want v3", n)
	}
	if err := c.DeleteClient(ctx, "svc"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetClient(ctx, "svc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: err = %v, want ErrNotFound", err)
	}
}

func TestCacheNegative(t *testing.T) {
	ctx := context.Background()
	c, db, clk := newCache(t, store.CacheConfig{NegativeTTL: 5 * time.Second, MaxNegative: 3})
	for range 3 {
		if _, err := c.GetClient(ctx, "guess"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown client: err = %v, want ErrNotFound", err)
		}
	}
	wantStats(t, c, 2, 1) // one database read for three guesses

	// Created behind the cache's back: still unknown until NegativeTTL ends.
	must(db.CreateClient(ctx, store.Client{ClientID: "guess", Type: "public"}))(t)
	if _, err := c.GetClient(ctx, "guess"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("within NegativeTTL: err = %v, want ErrNotFound", err)
	}
	clk.Advance(5 * time.Second)
	must(c.GetClient(ctx, "guess"))(t)

	// Created through the cache: known at once.
	if _, err := c.GetClient(ctx, "later"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	must(c.CreateClient(ctx, store.Client{ClientID: "later", Type: "public"}))(t)
	must(c.GetClient(ctx, "later"))(t)

	// The negative set is bounded: of 10 guesses at most 3 are remembered,
	// so asking again reaches the database at least 7 times.
	for i := range 10 {
		_, _ = c.GetClient(ctx, fmt.Sprintf("g%d", i))
	}
	_, before := c.Stats()
	for i := range 10 {
		_, _ = c.GetClient(ctx, fmt.Sprintf("g%d", i))
	}
	if _, after := c.Stats(); after-before < 7 {
		t.Fatalf("only %d of 10 repeated guesses missed; the negative cache holds more than MaxNegative=3", after-before)
	}
}

func TestCacheSecrets(t *testing.T) {
	ctx := context.Background()
	c, db, clk := newCache(t, store.CacheConfig{})
	cl := must(c.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}))(t)
	now := clk.Now()
	old := must(db.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("old"), CreatedAt: now.Add(-time.Hour), ExpiresAt: ptr(now.Add(time.Minute))}))(t)
	cur := must(db.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("cur"), CreatedAt: now}))(t)

	if got := must(c.ListClientSecrets(ctx, cl.ID, now))(t); len(got) != 2 || got[0].ID != old.ID {
		t.Fatalf("secrets = %+v, want old and current", got)
	}
	// A hit still honours each secret's expiry against the given now.
	got := must(c.ListClientSecrets(ctx, cl.ID, now.Add(2*time.Minute)))(t)
	if len(got) != 1 || got[0].ID != cur.ID {
		t.Fatalf("after old expired: %+v, want only the current secret", got)
	}
	wantStats(t, c, 1, 1)

	// Writes through the cache drop the cached secrets.
	added := must(c.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("new")}))(t)
	if got := must(c.ListClientSecrets(ctx, cl.ID, now))(t); len(got) != 3 {
		t.Fatalf("after add: %d secrets, want 3", len(got))
	}
	if err := c.ExpireClientSecrets(ctx, cl.ID, added.ID, now); err != nil {
		t.Fatal(err)
	}
	if got := must(c.ListClientSecrets(ctx, cl.ID, now))(t); len(got) != 1 || got[0].ID != added.ID {
		t.Fatalf("after rotation: %+v, want only the new secret", got)
	}
}

func TestCacheScopesAndRoles(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newCache(t, store.CacheConfig{})
	sc := must(c.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	role := must(c.CreateRole(ctx, store.Role{Name: "trader", ScopeIDs: []string{sc.ID}}))(t)
	must(c.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential", ScopeIDs: []string{sc.ID}}))(t)

	must(c.GetScopeByName(ctx, "trade:read"))(t)
	must(c.GetScope(ctx, sc.ID))(t) // filled by the by-name lookup
	must(c.GetRoleByName(ctx, "trader"))(t)
	must(c.GetRole(ctx, role.ID))(t)
	must(c.GetClient(ctx, "svc"))(t)
	wantStats(t, c, 2, 3)

	// Renaming a scope drops the scope and everything that embeds it.
	must(c.UpdateScope(ctx, sc.ID, func(s store.Scope) (store.Scope, error) { s.Name = "trade:view"; return s, nil }))(t)
	if _, err := c.GetScopeByName(ctx, "trade:read"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old scope name: err = %v, want ErrNotFound", err)
	}
	if n := must(c.GetRole(ctx, role.ID))(t).Scopes[0].Name; n != "trade:view" {
		t.Fatalf("role scope = %q, want trade:view", n)
	}
	if cl := must(c.GetClient(ctx, "svc"))(t); cl.ScopeNames()[0] != "trade:view" {
		t.Fatalf("client scopes = %v, want [trade:view]", cl.ScopeNames())
	}

	must(c.UpdateRole(ctx, role.ID, func(r store.Role) (store.Role, error) { r.Name = "dealer"; return r, nil }))(t)
	if _, err := c.GetRoleByName(ctx, "trader"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old role name: err = %v, want ErrNotFound", err)
	}
	if n := must(c.GetRole(ctx, role.ID))(t).Name; n != "dealer" {
		t.Fatalf("role name = %q, want dealer", n)
	}

	// Invalidate("*") drops everything.
	_, m0 := c.Stats()
	c.Invalidate(store.Change{Kind: "*"})
	must(c.GetRole(ctx, role.ID))(t)
	if _, m1 := c.Stats(); m1 != m0+1 {
		t.Fatal("lookup after Invalidate(*) did not miss")
	}
}

// TestCacheRun follows changes written behind the cache's back, as another
// replica would, through the store's change feed.
func TestCacheRun(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Tenant{"sqlite": sqltest.SQLite, "postgres": sqltest.Postgres} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			db := open(t)
			c := store.NewCache(db, store.CacheConfig{TTL: time.Hour})
			ran := make(chan error, 1)
			go func() { ran <- c.Run(ctx) }()
			must(db.CreateClient(ctx, store.Client{ClientID: "svc", Name: "v1", Type: "confidential"}))(t)
			if name := must(c.GetClient(ctx, "svc"))(t).Name; name != "v1" {
				t.Fatalf("first read: %q", name)
			}
			// Run subscribes in the background: keep changing the client
			// behind the cache until the cache sees a change (the hour-long
			// TTL rules out expiry), so no change is written before Run
			// listens and then waited for in vain.
			deadline := time.Now().Add(15 * time.Second)
			for i := 2; must(c.GetClient(ctx, "svc"))(t).Name == "v1"; i++ {
				if time.Now().After(deadline) {
					t.Fatal("the cache saw no change through Run within 15s")
				}
				name := fmt.Sprintf("v%d", i)
				must(db.UpdateClient(ctx, "svc", func(cl store.Client) (store.Client, error) { cl.Name = name; return cl, nil }))(t)
				time.Sleep(5 * time.Millisecond) // poll interval
			}
			cancel()
			if err := <-ran; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// TestCacheConcurrent is for -race: readers, writers and invalidations at once.
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newCache(t, store.CacheConfig{})
	cl := must(c.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}))(t)
	sc := must(c.CreateScope(ctx, store.Scope{Name: "s"}))(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				switch (i + j) % 5 {
				case 0:
					c.Invalidate(store.Change{Kind: store.ChangeClient, ID: "svc"})
				case 1:
					_, _ = c.ListClientSecrets(ctx, cl.ID, time.Now())
				case 2:
					_, _ = c.GetScopeByName(ctx, "s")
				case 3:
					c.Invalidate(store.Change{Kind: store.ChangeScope, ID: sc.ID})
				default:
					if _, err := c.GetClient(ctx, "svc"); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

func ptr[T any](v T) *T { return &v }

// BenchmarkCacheGetClient measures the token endpoint's client lookup on a
// hit: one read lock and a map lookup, no allocation.
func BenchmarkCacheGetClient(b *testing.B) {
	ctx := context.Background()
	c, _, _ := newCache(b, store.CacheConfig{Now: time.Now})
	must(c.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential", GrantTypes: []string{"client_credentials"}}))(b)
	must(c.GetClient(ctx, "svc"))(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetClient(ctx, "svc"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCacheListClientSecrets measures the secret lookup on a hit.
func BenchmarkCacheListClientSecrets(b *testing.B) {
	ctx := context.Background()
	c, _, _ := newCache(b, store.CacheConfig{Now: time.Now})
	cl := must(c.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}))(b)
	must(c.AddClientSecret(ctx, store.ClientSecret{ClientID: cl.ID, Hash: []byte("h")}))(b)
	now := time.Now()
	must(c.ListClientSecrets(ctx, cl.ID, now))(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if s, _ := c.ListClientSecrets(ctx, cl.ID, now); len(s) != 1 {
			b.Fatal("want one secret")
		}
	}
}
