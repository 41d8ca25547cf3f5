package store_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
)

// BenchmarkClientCacheMemory reports the heap the cache holds per
// registered client once it has loaded 10,000 clients (three scopes, two
// audiences and a secret each).
func BenchmarkClientCacheMemory(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	cache, db, clk := newCache(b, store.CacheConfig{})
	var scopeIDs []string
	for _, name := range []string{"trade:read", "trade:open", "market:data"} {
		s, err := db.CreateScope(ctx, store.Scope{Name: name})
		if err != nil {
			b.Fatal(err)
		}
		scopeIDs = append(scopeIDs, s.ID)
	}
	ids := make([]string, n)
	for i := range n {
		c, err := db.CreateClient(ctx, store.Client{ClientID: fmt.Sprintf("client-%05d", i), Name: fmt.Sprintf("service %d", i),
			Type: "confidential", Active: true, ScopeIDs: scopeIDs, GrantTypes: []string{"client_credentials"},
			Audiences: []string{"https://mt5.example.com", "https://api.example.com"}, AccessTokenLifetime: 3600})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: make([]byte, 32)}); err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// Load holds every client with its secrets, as a server does.
		if err := cache.Load(ctx); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		for i := range n {
			if _, err := cache.GetClient(ctx, fmt.Sprintf("client-%05d", i)); err != nil {
				b.Fatal(err)
			}
			if _, err := cache.ListClientSecrets(ctx, ids[i], clk.Now()); err != nil {
				b.Fatal(err)
			}
		}
		if _, misses := cache.Stats(); misses != 0 {
			b.Fatalf("%d lookups missed after Load", misses)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/client")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/10k")
		runtime.KeepAlive(cache)
		cache.Invalidate(store.Change{Kind: "*"})
	}
}
