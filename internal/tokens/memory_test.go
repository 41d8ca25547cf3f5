package tokens_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/tokens"
)

// BenchmarkRevocationListMemory reports the heap held per revoked token in
// the in-memory revocation list, with 100,000 entries synced from the store.
func BenchmarkRevocationListMemory(b *testing.B) {
	const n = 100_000
	clk := &clock{time.Now()}
	_, _, db := newService(b, keys.ES256, clk)
	ctx := context.Background()
	exp := clk.t.Add(time.Hour)
	for i := range n {
		if err := db.Revoke(ctx, fmt.Sprintf("jti-%022d", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now})
		if err := l.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if l.Len() != n {
			b.Fatalf("%d entries", l.Len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/entry")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/100k")
		runtime.KeepAlive(l)
	}
}
