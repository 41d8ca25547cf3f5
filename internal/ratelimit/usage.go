package ratelimit

import (
	"context"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Usage is one token budget of a client as it stands: its limit, how many
// tokens still fit now, and when the budget is whole again.
type Usage struct {
	Limit     int // 0: no limit
	Remaining int
	Reset     time.Time
}

// TokenUsage is a client's per-minute and per-hour token budgets.
type TokenUsage struct {
	PerMinute, PerHour Usage
	// Limited is true when the next token request would be refused.
	Limited bool
}

// TokenUsage reports the client's budgets without spending any: from
// Redis when configured and reachable (what every replica enforces), else
// from this replica's memory.
func (l *Limiter) TokenUsage(ctx context.Context, c *store.Client) TokenUsage {
	return l.tokenUsage(ctx, "", c)
}

func (l *Limiter) tokenUsage(ctx context.Context, scope string, c *store.Client) TokenUsage {
	id := boundKey(c.ClientID)
	bs := []bucket{
		{key: scope + "tok:{" + id + "}:m", limit: c.RateLimitPerMinute, period: time.Minute},
		{key: scope + "tok:{" + id + "}:h", limit: c.RateLimitPerHour, period: time.Hour},
	}
	now, tats, ok := l.sharedTATs(ctx, bs)
	if !ok {
		now = l.cfg.Now().UnixNano()
		tats = l.mem.tats(bs)
	}
	out := TokenUsage{PerMinute: usage(bs[0], tats[0], now), PerHour: usage(bs[1], tats[1], now)}
	out.Limited = out.PerMinute.Limit > 0 && out.PerMinute.Remaining == 0 || out.PerHour.Limit > 0 && out.PerHour.Remaining == 0
	return out
}

// usage reads GCRA state: an event fits while max(tat, now) + interval
// stays within one period of now, so the room left is the distance to
// that edge in intervals, and the bucket is whole once tat has passed.
func usage(b bucket, tat, now int64) Usage {
	u := Usage{Limit: b.limit, Reset: time.Unix(0, max(tat, now)).UTC()}
	if b.limit <= 0 {
		u.Limit, u.Reset = 0, time.Unix(0, now).UTC()
		return u
	}
	left := int64(b.period) - (max(tat, now) - now)
	u.Remaining = int(min(max(left/b.interval(), 0), int64(b.limit)))
	return u
}

// tats returns the stored theoretical arrival times (0: a whole bucket).
func (m *memory) tats(bs []bucket) []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int64, len(bs))
	for i, b := range bs {
		out[i] = m.tat[b.key]
	}
	return out
}

// sharedTATs reads the buckets from Redis, on Redis's clock; ok is false
// when there is no Redis or it cannot be asked now.
func (l *Limiter) sharedTATs(ctx context.Context, bs []bucket) (now int64, tats []int64, ok bool) {
	if l.redis == nil || l.cfg.Now().UnixNano() < l.skipUntil.Load() {
		return 0, nil, false
	}
	keys := make([]string, len(bs))
	for i, b := range bs {
		keys[i] = l.redis.key(b)
	}
	vals, err := l.redis.client.Eval(ctx, peekScript, keys).Int64Slice()
	if err != nil || len(vals) != len(bs)+1 {
		return 0, nil, false
	}
	tats = make([]int64, len(bs))
	for i := range bs {
		tats[i] = vals[i+1] * 1000 // µs → ns
	}
	return vals[0] * 1000, tats, true
}

// peekScript returns Redis's time and the stored arrival times (µs).
const peekScript = `
local t = redis.call('TIME')
local out = {tonumber(t[1]) * 1000000 + tonumber(t[2])}
for i = 1, #KEYS do out[i + 1] = tonumber(redis.call('GET', KEYS[i])) or 0 end
return out
`
