package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newMemLimiter(t *testing.T, cfg Config) (*Limiter, *clock) {
	t.Helper()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	cfg.Now = c.now
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

func TestAllowTokenInMemory(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		perMin    int
		perHour   int
		burst     int           // requests that pass at once
		wantWait  time.Duration // the wait the first refusal reports
		afterWait bool          // one more passes once wantWait elapsed
	}{
		{"per minute", 3, 0, 3, 20 * time.Second, true},
		{"per hour", 0, 60, 60, time.Minute, true},
		{"minute within hour", 5, 6, 5, 12 * time.Second, true},
		{"hour is the tighter", 10, 2, 2, 30 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newMemLimiter(t, Config{})
			c := &store.Client{ClientID: "svc-" + tt.name, RateLimitPerMinute: tt.perMin, RateLimitPerHour: tt.perHour}
			for i := range tt.burst {
				if ok, _ := l.AllowToken(ctx, c); !ok {
					t.Fatalf("request %d refused within the burst", i+1)
				}
			}
			ok, wait := l.AllowToken(ctx, c)
			if ok || wait != tt.wantWait {
				t.Fatalf("after the burst: ok=%v wait=%v, want refused with wait %v", ok, wait, tt.wantWait)
			}
			clk.add(wait - time.Millisecond)
			if ok, _ := l.AllowToken(ctx, c); ok {
				t.Fatal("allowed before the wait elapsed")
			}
			clk.add(time.Millisecond)
			if ok, _ := l.AllowToken(ctx, c); ok != tt.afterWait {
				t.Fatalf("after the wait: ok=%v, want %v", ok, tt.afterWait)
			}
		})
	}
}

func TestAllowTokenUnlimitedAndIndependent(t *testing.T) {
	ctx := context.Background()
	l, _ := newMemLimiter(t, Config{})
	free := &store.Client{ClientID: "free"}
	for range 10_000 {
		if ok, _ := l.AllowToken(ctx, free); !ok {
			t.Fatal("a client without limits was refused")
		}
	}
	if n := l.mem.len(); n != 0 {
		t.Fatalf("a client without limits left %d buckets", n)
	}
	a := &store.Client{ClientID: "a", RateLimitPerMinute: 1}
	b := &store.Client{ClientID: "b", RateLimitPerMinute: 1}
	if ok, _ := l.AllowToken(ctx, a); !ok {
		t.Fatal("a refused")
	}
	if ok, _ := l.AllowToken(ctx, b); !ok {
		t.Fatal("b refused because of a")
	}
	if ok, _ := l.AllowToken(ctx, a); ok {
		t.Fatal("a allowed twice in a minute")
	}
}

func TestFailedAuthInMemory(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		kind       string
		fail, next string // keys: fail is counted, next is checked
		shared     bool   // next shares fail's budget
	}{
		{"same client", "client", "svc", "svc", true},
		{"other client", "client", "svc", "svc2", false},
		{"same IPv4", "ip", "192.0.2.7", "192.0.2.7", true},
		{"other IPv4", "ip", "192.0.2.7", "192.0.2.8", false},
		{"IPv6 in the same /64", "ip", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"IPv6 in another /64", "ip", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"IPv4-mapped IPv6", "ip", "::ffff:192.0.2.7", "192.0.2.7", true},
		{"kinds are separate", "ip", "svc", "svc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newMemLimiter(t, Config{AuthFailuresPerMinute: 5})
			for i := range 5 {
				if ok, _ := l.AllowAuthAttempt(ctx, tt.kind, tt.fail); !ok {
					t.Fatalf("attempt %d refused before the budget was used", i+1)
				}
				l.FailedAuth(ctx, tt.kind, tt.fail)
			}
			ok, wait := l.AllowAuthAttempt(ctx, tt.kind, tt.next)
			if ok == tt.shared {
				t.Fatalf("after 5 failures of %s: %s allowed=%v, want %v", tt.fail, tt.next, ok, !tt.shared)
			}
			if !tt.shared {
				return
			}
			if wait != 12*time.Second {
				t.Fatalf("wait = %v, want 12s (one attempt per minute/5)", wait)
			}
			other := "client"
			if tt.kind == "client" {
				other = "ip"
			}
			if ok, _ := l.AllowAuthAttempt(ctx, other, tt.fail); !ok {
				t.Fatalf("failures of kind %s limited kind %s", tt.kind, other)
			}
			clk.add(wait)
			if ok, _ := l.AllowAuthAttempt(ctx, tt.kind, tt.next); !ok {
				t.Fatal("still refused after the wait")
			}
		})
	}
}

func TestMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	l, clk := newMemLimiter(t, Config{MaxKeys: 100})
	for i := range 1000 {
		l.FailedAuth(ctx, "ip", fmt.Sprintf("198.51.100.%d", i%250)+fmt.Sprint(i/250))
	}
	if n := l.mem.len(); n > 100 {
		t.Fatalf("memory holds %d keys, want at most 100", n)
	}
	// Expired entries go first: after a minute every bucket is full again.
	// Expired entries go first: after a minute every old bucket is full
	// again, so making room drops them and keeps the live ones.
	clk.add(time.Minute)
	for i := range 5 {
		l.FailedAuth(ctx, "client", fmt.Sprint("fresh", i))
	}
	if n := l.mem.len(); n != 5 {
		t.Fatalf("memory holds %d keys, want the 5 live ones", n)
	}
}

func TestBoundKey(t *testing.T) {
	long := string(make([]byte, 10_000))
	if k := boundKey(long); len(k) > maxKeyLen {
		t.Fatalf("key of %d bytes kept", len(k))
	}
	if boundKey("svc") != "svc" {
		t.Fatal("a short key was changed")
	}
}
