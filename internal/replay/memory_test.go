package replay

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

func key(i int) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

func TestMemory(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	m := newMemory(3, now)
	if !m.add(key(1), now.Add(1500*time.Millisecond), now) || !m.add(key(2), now.Add(10*time.Second), now) {
		t.Fatal("add refused below max")
	}
	// Held at least until exp, up to the next whole second.
	for _, tc := range []struct {
		at   time.Duration
		k    int
		want bool
	}{
		{0, 1, true}, {1499 * time.Millisecond, 1, true}, {1999 * time.Millisecond, 1, true}, {2 * time.Second, 1, false},
		{9 * time.Second, 2, true}, {10 * time.Second, 2, false}, {0, 3, false},
	} {
		if got := m.has(key(tc.k), now.Add(tc.at)); got != tc.want {
			t.Errorf("has(%d) at +%v = %v, want %v", tc.k, tc.at, got, tc.want)
		}
	}
	// Full of unexpired values: refused; once some expire, room again.
	if !m.add(key(3), now.Add(time.Minute), now) || m.add(key(4), now.Add(time.Minute), now) {
		t.Fatal("max not enforced")
	}
	if !m.add(key(4), now.Add(time.Minute), now.Add(3*time.Second)) || m.len() != 3 {
		t.Fatalf("expired value not dropped: %d held", m.len())
	}
	// A value used again after it expired keeps its later expiry when its
	// earlier second is swept.
	if m.add(key(5), now.Add(5*time.Second), now.Add(3*time.Second)) {
		t.Fatal("added beyond max") // 2, 3 and 4 are unexpired
	}
	m.add(key(2), now.Add(20*time.Second), now.Add(11*time.Second))
	m.sweep(now.Add(12 * time.Second))
	if !m.has(key(2), now.Add(19*time.Second)) {
		t.Fatal("re-used value dropped with its earlier expiry")
	}
	// A long jump of the clock drops everything expired.
	m.sweep(now.Add(1000 * time.Hour))
	if m.len() != 0 || len(m.byExp) != 0 {
		t.Fatalf("after a long jump: %d held, %d seconds", m.len(), len(m.byExp))
	}
}

// BenchmarkMemoryClaim claims fresh values at a steady 10,000/s of
// injected time, each kept 65 s (a DPoP proof's window), and reports the
// heap each held value costs.
func BenchmarkMemoryClaim(b *testing.B) {
	now := time.Unix(2_000_000_000, 0)
	m := newMemory(DefaultMaxLocal, now)
	keys := make([][32]byte, 1<<16)
	for i := range keys {
		keys[i] = key(i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		at := now.Add(time.Duration(i) * 100 * time.Microsecond)
		k := keys[i%len(keys)]
		binary.BigEndian.PutUint64(k[:8], uint64(i))
		if !m.add(k, at.Add(65*time.Second), at) {
			b.Fatal("full")
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if m.len() > 0 && after.HeapAlloc > before.HeapAlloc {
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(m.len()), "B/held")
	}
	b.ReportMetric(float64(m.len()), "held")
}
