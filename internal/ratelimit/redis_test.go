package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/permiso-auth/permiso/internal/store"
)

// testRedisURL is the shared Redis the suite uses (PERMISO_TEST_REDIS_URL
// overrides it). Without it the test is skipped, except under CI=true.
func testRedisURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("PERMISO_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	l, err := New(Config{RedisURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.redis.client.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s: %v", url, err)
		}
		t.Skipf("Redis at %s is unavailable: %v", url, err)
	}
	return url
}

// uniquePrefix keeps tests (and runs) from sharing buckets.
func uniquePrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "permiso-test:" + hex.EncodeToString(b[:]) + ":"
}

func newRedisLimiter(t *testing.T, cfg Config) (*Limiter, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, reg
}

func TestRedisSharesLimitsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	cfg := Config{RedisURL: testRedisURL(t), RedisPrefix: uniquePrefix(), AuthFailuresPerMinute: 4}
	a, regA := newRedisLimiter(t, cfg)
	b, _ := newRedisLimiter(t, cfg)
	c := &store.Client{ClientID: "svc", RateLimitPerMinute: 3}
	for i, l := range []*Limiter{a, b, a} {
		if ok, _ := l.AllowToken(ctx, c); !ok {
			t.Fatalf("token %d refused within the limit", i+1)
		}
	}
	for name, l := range map[string]*Limiter{"a": a, "b": b} {
		ok, wait := l.AllowToken(ctx, c)
		if ok || wait <= 0 || wait > 20*time.Second {
			t.Fatalf("replica %s after 3 tokens: ok=%v wait=%v, want refused with 0 < wait <= 20s", name, ok, wait)
		}
	}
	for range 4 {
		a.FailedAuth(ctx, "ip", "203.0.113.9")
	}
	if ok, wait := b.AllowAuthAttempt(ctx, "ip", "203.0.113.9"); ok || wait <= 0 || wait > 15*time.Second {
		t.Fatalf("replica b after 4 failures on a: ok=%v wait=%v, want refused with 0 < wait <= 15s", ok, wait)
	}
	if ok, _ := b.AllowAuthAttempt(ctx, "client", "203.0.113.9"); !ok {
		t.Fatal("IP failures limited a client id")
	}
	if a.degraded.Load() || metricValue(t, regA, "permiso_ratelimit_redis_errors_total") != 0 {
		t.Fatal("a healthy Redis was reported as failing")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRedisDownFallsBackToMemory pins the documented choice: with Redis
// unreachable, limits still hold (per replica, from memory); they neither
// vanish nor refuse everyone.
func TestRedisDownFallsBackToMemory(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	l, reg := newRedisLimiter(t, Config{RedisURL: "redis://" + closedPort(t), AuthFailuresPerMinute: 2, Now: clk.now})
	c := &store.Client{ClientID: "svc", RateLimitPerMinute: 2}
	for i := range 2 {
		if ok, _ := l.AllowToken(ctx, c); !ok {
			t.Fatalf("token %d refused: a Redis outage must not refuse everyone", i+1)
		}
	}
	if ok, wait := l.AllowToken(ctx, c); ok || wait != 30*time.Second {
		t.Fatalf("third token: ok=%v wait=%v; a Redis outage must not lift the limit", ok, wait)
	}
	l.FailedAuth(ctx, "client", "guess")
	l.FailedAuth(ctx, "client", "guess")
	if ok, _ := l.AllowAuthAttempt(ctx, "client", "guess"); ok {
		t.Fatal("failure limit lifted while Redis is down")
	}
	if got := metricValue(t, reg, "permiso_ratelimit_redis_errors_total"); got < 1 {
		t.Fatalf("redis errors counted: %v, want >= 1", got)
	}
	if got := metricValue(t, reg, "permiso_ratelimit_fallback"); got != 1 {
		t.Fatalf("fallback gauge = %v, want 1", got)
	}
}

// TestRedisRecovers runs a Redis of its own, stops it and starts it
// again: the limiter falls back, then returns to the shared state.
func TestRedisRecovers(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	addr := closedPort(t)
	_, port, _ := net.SplitHostPort(addr)
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	cfg := Config{RedisURL: "redis://" + addr, RedisPrefix: uniquePrefix(), FallbackFor: 50 * time.Millisecond, Now: clk.now}
	l, _ := newRedisLimiter(t, cfg)
	peer, _ := newRedisLimiter(t, cfg)
	srv := start()
	waitFor(t, func() bool { return l.redis.client.Ping(ctx).Err() == nil })

	c := &store.Client{ClientID: "svc-" + strconv.Itoa(int(time.Now().UnixNano()%1000)), RateLimitPerMinute: 1}
	if ok, _ := l.AllowToken(ctx, c); !ok || l.degraded.Load() {
		t.Fatal("first token refused or Redis reported down")
	}
	srv.Process.Kill()
	srv.Wait()
	if ok, _ := l.AllowToken(ctx, c); !ok || !l.degraded.Load() {
		t.Fatalf("with Redis stopped: ok=%v degraded=%v; want the memory fallback to allow its first token", ok, l.degraded.Load())
	}
	start()
	// The shared state is back: a token through l is seen by peer. Each
	// try moves the clock past FallbackFor, so the limiter asks Redis again
	// (until Redis listens, each failed try starts another fallback).
	c2 := &store.Client{ClientID: "after-restart", RateLimitPerMinute: 1}
	waitFor(t, func() bool {
		clk.add(time.Second)
		ok, _ := l.AllowToken(ctx, c2)
		return ok && !l.degraded.Load()
	})
	if ok, _ := peer.AllowToken(ctx, c2); ok {
		t.Fatal("after Redis returned, replicas do not share limits")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metricValue gathers reg and returns the value of the single series name.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
