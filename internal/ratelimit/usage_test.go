package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func TestTokenUsageInMemory(t *testing.T) {
	ctx := context.Background()
	l, clk := newMemLimiter(t, Config{})
	c := &store.Client{ClientID: "svc", RateLimitPerMinute: 6, RateLimitPerHour: 100}
	check := func(step string, minRemaining, hourRemaining int, minReset time.Duration, limited bool) {
		t.Helper()
		u := l.TokenUsage(ctx, c)
		if u.PerMinute.Limit != 6 || u.PerHour.Limit != 100 || u.PerMinute.Remaining != minRemaining ||
			u.PerHour.Remaining != hourRemaining || !u.PerMinute.Reset.Equal(clk.now().Add(minReset)) || u.Limited != limited {
			t.Fatalf("%s: %+v (now %s)", step, u, clk.now().UTC())
		}
	}
	check("fresh", 6, 100, 0, false)
	for range 4 {
		l.AllowToken(ctx, c)
	}
	check("after 4 tokens", 2, 96, 40*time.Second, false) // 4 × 10s intervals to refill
	l.TokenUsage(ctx, c)
	check("looking spends nothing", 2, 96, 40*time.Second, false)
	l.AllowToken(ctx, c)
	l.AllowToken(ctx, c)
	check("the minute is spent", 0, 94, 60*time.Second, true)
	if ok, _ := l.AllowToken(ctx, c); ok {
		t.Fatal("a token past the limit was allowed")
	}
	clk.add(25 * time.Second)
	check("two intervals later", 2, 94, 35*time.Second, false)
	clk.add(time.Hour)
	check("an hour later", 6, 100, 0, false)

	unlimited := l.TokenUsage(ctx, &store.Client{ClientID: "free"})
	if unlimited.PerMinute.Limit != 0 || unlimited.PerHour.Limit != 0 || unlimited.Limited {
		t.Errorf("client without limits: %+v", unlimited)
	}
}

func TestTokenUsageRedis(t *testing.T) {
	ctx := context.Background()
	cfg := Config{RedisURL: testRedisURL(t), RedisPrefix: uniquePrefix()}
	a, _ := newRedisLimiter(t, cfg)
	b, _ := newRedisLimiter(t, cfg)
	c := &store.Client{ClientID: "svc", RateLimitPerMinute: 3, RateLimitPerHour: 1000}
	a.AllowToken(ctx, c)
	a.AllowToken(ctx, c)
	u := b.TokenUsage(ctx, c) // another replica sees the shared budget
	if u.PerMinute.Remaining != 1 || u.PerHour.Remaining != 998 || u.Limited {
		t.Fatalf("after 2 tokens on a, b reports %+v", u)
	}
	if d := time.Until(u.PerMinute.Reset); d <= 20*time.Second || d > 41*time.Second {
		t.Errorf("per-minute reset in %v, want about 40s", d)
	}
	b.AllowToken(ctx, c)
	if u := a.TokenUsage(ctx, c); u.PerMinute.Remaining != 0 || !u.Limited {
		t.Fatalf("after 3 tokens: %+v", u)
	}
}
