package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/permiso-auth/permiso/internal/store"
)

// Config configures a [Limiter]. Zero values select the documented defaults.
type Config struct {
	// AuthFailuresPerMinute is how many failed authentications one client
	// id, or one IP address (IPv6: one /64), may have per minute before
	// further attempts are refused without checking them. Default 30.
	AuthFailuresPerMinute int
	// MaxKeys bounds the in-memory state. Default 100000 (a few MB).
	MaxKeys int
	// RedisURL, when set, shares the limits between replicas through
	// Redis. Keys start with RedisPrefix (default "permiso:").
	RedisURL    string
	RedisPrefix string
	// RedisTimeout bounds each Redis call. Default 250ms.
	RedisTimeout time.Duration
	// FallbackFor is how long the limiter uses its in-memory state after a
	// Redis error before it tries Redis again. Default 5s.
	FallbackFor time.Duration
	// Registerer receives the limiter's metrics; nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock of the in-memory state; nil means time.Now. Redis
	// uses its own clock.
	Now func() time.Time
}

// Limiter enforces token and failed-authentication limits. It implements
// oauth.Limiter. It is safe for concurrent use.
type Limiter struct {
	cfg   Config
	mem   *memory
	redis *remote // nil: memory only

	skipUntil atomic.Int64 // unix ns: Redis is not asked before this
	degraded  atomic.Bool  // the last Redis call failed
	errors    prometheus.Counter
}

// New returns a Limiter. With a RedisURL it does not connect yet: the
// first request does, and falls back to memory if Redis is down, so a
// Redis outage never stops Permiso from starting.
func New(cfg Config) (*Limiter, error) {
	if cfg.AuthFailuresPerMinute <= 0 {
		cfg.AuthFailuresPerMinute = 30
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "permiso:"
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = 250 * time.Millisecond
	}
	if cfg.FallbackFor <= 0 {
		cfg.FallbackFor = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, mem: newMemory(cfg.MaxKeys)}
	if cfg.RedisURL != "" {
		r, err := newRemote(cfg.RedisURL, cfg.RedisPrefix, cfg.RedisTimeout)
		if err != nil {
			return nil, fmt.Errorf("rate limiter: %w", err)
		}
		l.redis = r
	}
	if err := l.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Limiter) register(reg prometheus.Registerer) error {
	l.errors = prometheus.NewCounter(prometheus.CounterOpts{Name: "permiso_ratelimit_redis_errors_total",
		Help: "Rate-limit decisions that Redis could not make and the in-memory fallback made instead."})
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{l.errors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_ratelimit_fallback",
			Help: "1 while rate limits are enforced per replica in memory because Redis is unreachable; 0 otherwise."},
			func() float64 { return b2f(l.degraded.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_ratelimit_memory_keys",
			Help: "Rate-limit buckets held in memory."}, func() float64 { return float64(l.mem.len()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("rate limiter metrics: %w", err)
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Close releases the Redis connections.
func (l *Limiter) Close() error {
	if l.redis == nil {
		return nil
	}
	return l.redis.close()
}

// AllowToken applies the client's rate_limit_per_minute and
// rate_limit_per_hour (zero: no limit) and counts the token when both
// have room.
func (l *Limiter) AllowToken(ctx context.Context, c *store.Client) (bool, time.Duration) {
	return l.allowToken(ctx, "", c)
}

func (l *Limiter) allowToken(ctx context.Context, scope string, c *store.Client) (bool, time.Duration) {
	var bs [2]bucket
	n := 0
	id := boundKey(c.ClientID)
	if c.RateLimitPerMinute > 0 {
		bs[n] = bucket{key: scope + "tok:{" + id + "}:m", limit: c.RateLimitPerMinute, period: time.Minute}
		n++
	}
	if c.RateLimitPerHour > 0 {
		bs[n] = bucket{key: scope + "tok:{" + id + "}:h", limit: c.RateLimitPerHour, period: time.Hour}
		n++
	}
	if n == 0 {
		return true, 0
	}
	wait := l.admit(ctx, true, bs[:n]...)
	return wait == 0, wait
}

// AllowAuthAttempt reports whether key (of kind "ip" or "client") may try
// to authenticate: false once its failures filled the budget, with the
// time until the next attempt is allowed.
func (l *Limiter) AllowAuthAttempt(ctx context.Context, kind, key string) (bool, time.Duration) {
	return l.allowAuthAttempt(ctx, "", kind, key)
}

func (l *Limiter) allowAuthAttempt(ctx context.Context, scope, kind, key string) (bool, time.Duration) {
	wait := l.admit(ctx, false, l.failureBucket(scope, kind, key))
	return wait == 0, wait
}

// FailedAuth counts a failed authentication against key.
func (l *Limiter) FailedAuth(ctx context.Context, kind, key string) {
	l.failedAuth(ctx, "", kind, key)
}

func (l *Limiter) failedAuth(ctx context.Context, scope, kind, key string) {
	b := l.failureBucket(scope, kind, key)
	// With Redis the local state is kept warm too, so a Redis outage does
	// not hand a guesser a fresh budget on every replica.
	l.mem.admit(l.cfg.Now().UnixNano(), true, b)
	l.shared(ctx, true, b)
}

func (l *Limiter) failureBucket(scope, kind, key string) bucket {
	if kind == "ip" {
		key = ipKey(key)
	} else {
		key = boundKey(key)
	}
	return bucket{key: scope + "fail:" + kind + ":{" + key + "}", limit: l.cfg.AuthFailuresPerMinute, period: time.Minute}
}

// admit decides through Redis when configured and reachable, else with
// the in-memory state.
func (l *Limiter) admit(ctx context.Context, take bool, bs ...bucket) time.Duration {
	if wait, ok := l.shared(ctx, take, bs...); ok {
		return wait
	}
	return l.mem.admit(l.cfg.Now().UnixNano(), take, bs...)
}

// shared asks Redis; ok is false when there is no Redis, it is being
// skipped after an error, or it failed now.
func (l *Limiter) shared(ctx context.Context, take bool, bs ...bucket) (wait time.Duration, ok bool) {
	if l.redis == nil {
		return 0, false
	}
	now := l.cfg.Now().UnixNano()
	if now < l.skipUntil.Load() {
		return 0, false
	}
	wait, err := l.redis.admit(ctx, take, bs...)
	if err == nil {
		if l.degraded.CompareAndSwap(true, false) {
			l.cfg.Logger.Info("rate limiter: Redis answers again; limits are shared by all replicas")
		}
		return wait, true
	}
	if ctx.Err() != nil { // the caller going away says nothing about Redis
		return 0, false
	}
	l.errors.Inc()
	l.skipUntil.Store(now + int64(l.cfg.FallbackFor))
	if l.degraded.CompareAndSwap(false, true) {
		l.cfg.Logger.Warn("rate limiter: Redis is unreachable; enforcing limits per replica in memory",
			"err", err, "retry_in", l.cfg.FallbackFor.String())
	}
	return 0, false
}
