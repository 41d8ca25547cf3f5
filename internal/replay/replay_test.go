package replay_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{now: t0} }

func newRecords(t *testing.T, cfg replay.Config) *replay.Records {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if cfg.Timeout == 0 {
		// These tests assert sharing: a loaded machine must not turn a slow
		// first connection into a fallback. The outage tests fail fast anyway.
		cfg.Timeout = 30 * time.Second
	}
	r, err := replay.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func wantUse(t *testing.T, r *replay.Records, ns, id string, exp time.Time, want error) {
	t.Helper()
	if err := r.Use(t.Context(), ns, id, exp); !errors.Is(err, want) {
		t.Fatalf("Use(%s, %s) = %v, want %v", ns, id, err, want)
	}
}

func TestMemoryOnly(t *testing.T) {
	clk := newClock()
	r := newRecords(t, replay.Config{Now: clk.Now})
	exp := t0.Add(time.Minute)
	wantUse(t, r, "private_key_jwt", "svc jti-1", exp, nil)
	wantUse(t, r, "private_key_jwt", "svc jti-1", exp, replay.ErrReplayed)
	wantUse(t, r, "dpop", "svc jti-1", exp, nil) // namespaces never collide
	wantUse(t, r, "private_key_jwt", "svc jti-2", exp, nil)
	wantUse(t, r, "private_key_jwt", "old", t0, nil) // already expired: nothing to record
	clk.Add(time.Minute)
	// The record lasts until exp; after it the JWT itself is refused as
	// expired, so the value may be recorded again.
	wantUse(t, r, "private_key_jwt", "svc jti-1", t0.Add(2*time.Minute), nil)
}

// TestHoldsAWindowOfProofsAtFullRate: a replica alone keeps every DPoP
// proof it accepts for its 65 s window at 10,000 proofs/s, never refusing
// one for want of room (the old bound, 100,000 values swept only when
// full, refused from the 11th second on), and still refuses replays.
func TestHoldsAWindowOfProofsAtFullRate(t *testing.T) {
	clk := newClock()
	r := newRecords(t, replay.Config{Now: clk.Now})
	const n = 800_000 // 80 s at 10,000/s
	for i := range n {
		now := clk.Now()
		if err := r.Use(t.Context(), "dpop", strconv.Itoa(i), now.Add(65*time.Second)); err != nil {
			t.Fatalf("proof %d at +%v: %v", i, now.Sub(t0), err)
		}
		clk.Add(100 * time.Microsecond)
	}
	now := clk.Now()
	wantUse(t, r, "dpop", strconv.Itoa(n-1), now.Add(time.Second), replay.ErrReplayed)
	wantUse(t, r, "dpop", strconv.Itoa(n-600_000), now.Add(time.Second), replay.ErrReplayed) // 60 s ago
}

func TestConcurrentUseHasOneWinner(t *testing.T) {
	for name, cfg := range map[string]func(t *testing.T) replay.Config{
		"memory": func(*testing.T) replay.Config { return replay.Config{} },
		"sqlite": func(t *testing.T) replay.Config { return replay.Config{Store: sqltest.SQLite(t)} },
		"redis": func(t *testing.T) replay.Config {
			return replay.Config{RedisURL: testRedisURL(t), RedisPrefix: uniquePrefix()}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRecords(t, cfg(t))
			var wins, replays atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 20 {
				wg.Go(func() {
					<-start
					switch err := r.Use(t.Context(), "ns", "same", time.Now().Add(time.Minute)); {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, replay.ErrReplayed):
						replays.Add(1)
					default:
						t.Errorf("Use: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wins.Load() != 1 || replays.Load() != 19 {
				t.Fatalf("%d first uses and %d replays, want 1 and 19", wins.Load(), replays.Load())
			}
		})
	}
}

// Two replicas are two Records (each with its own connection pool) on one
// shared record: a value used at one is refused at the other.
func TestReplicasShareRecords(t *testing.T) {
	for name, cfgs := range map[string]func(t *testing.T) (replay.Config, replay.Config){
		"sqlite": func(t *testing.T) (replay.Config, replay.Config) {
			db := sqltest.SQLite(t)
			return replay.Config{Store: db}, replay.Config{Store: db}
		},
		"postgres": func(t *testing.T) (replay.Config, replay.Config) {
			url := sqltest.PostgresURL(t)
			return replay.Config{Store: sqltest.Open(t, url).Tenant(store.DefaultTenant)}, replay.Config{Store: sqltest.Open(t, url).Tenant(store.DefaultTenant)}
		},
		"redis": func(t *testing.T) (replay.Config, replay.Config) {
			url, prefix := testRedisURL(t), uniquePrefix()
			return replay.Config{RedisURL: url, RedisPrefix: prefix}, replay.Config{RedisURL: url, RedisPrefix: prefix}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ca, cb := cfgs(t)
			clk := newClock()
			ca.Now, cb.Now = clk.Now, clk.Now
			a, b := newRecords(t, ca), newRecords(t, cb)
			exp := t0.Add(time.Minute)
			wantUse(t, a, "private_key_jwt", "svc jti", exp, nil)
			wantUse(t, b, "private_key_jwt", "svc jti", exp, replay.ErrReplayed)
			wantUse(t, a, "private_key_jwt", "svc jti", exp, replay.ErrReplayed)
			wantUse(t, b, "private_key_jwt", "svc other", exp, nil)
			wantUse(t, a, "private_key_jwt", "svc other", exp, replay.ErrReplayed)
			if name == "redis" {
				return // Redis expires keys on its own clock, not the test's
			}
			clk.Add(time.Minute)
			if err := a.Maintain(t.Context()); err != nil {
				t.Fatalf("Maintain: %v", err)
			}
			wantUse(t, b, "private_key_jwt", "svc jti", t0.Add(2*time.Minute), nil)
		})
	}
}

func TestOutageKeepsRecordsPerReplicaAndSaysSo(t *testing.T) {
	root := sqltest.Open(t, sqltest.SQLiteURL(t))
	db := root.Tenant(store.DefaultTenant)
	var logs bytes.Buffer
	r := newRecords(t, replay.Config{Store: db, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	exp := time.Now().Add(time.Minute)
	wantUse(t, r, "ns", "before", exp, nil)
	root.Close()                                           // the database is gone
	wantUse(t, r, "ns", "before", exp, replay.ErrReplayed) // remembered by this replica
	wantUse(t, r, "ns", "during", exp, nil)
	wantUse(t, r, "ns", "during", exp, replay.ErrReplayed)
	wantUse(t, r, "ns", "during 2", exp, nil)
	if !r.Degraded() {
		t.Fatal("Degraded() = false during the outage")
	}
	if n := strings.Count(logs.String(), "keeps its own records"); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestStrictRefusesWhileUnreachable(t *testing.T) {
	root := sqltest.Open(t, sqltest.SQLiteURL(t))
	db := root.Tenant(store.DefaultTenant)
	var logs bytes.Buffer
	r := newRecords(t, replay.Config{Store: db, Strict: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	root.Close()
	exp := time.Now().Add(time.Minute)
	wantUse(t, r, "ns", "x", exp, replay.ErrUnavailable)
	wantUse(t, r, "ns", "x", exp, replay.ErrUnavailable)
	if !strings.Contains(logs.String(), "refusing single-use values") {
		t.Fatalf("strict outage not logged:\n%s", logs.String())
	}
}

func TestFallsBackFromRedisToDatabase(t *testing.T) {
	db := sqltest.SQLite(t)
	p := newProxy(t, redisAddr(t))
	prefix := uniquePrefix()
	a := newRecords(t, replay.Config{Store: db, RedisURL: "redis://" + p.addr() + "/0", RedisPrefix: prefix})
	b := newRecords(t, replay.Config{Store: db}) // a replica on the database alone
	p.setDown(true)
	exp := time.Now().Add(time.Minute)
	wantUse(t, a, "ns", "v", exp, nil)
	wantUse(t, b, "ns", "v", exp, replay.ErrReplayed)
	if a.Degraded() {
		t.Fatal("Degraded() with the database answering")
	}
}

// After an outage, the values a replica kept on its own are written back,
// so another replica refuses them too.
func TestWritesBackAfterOutage(t *testing.T) {
	p := newProxy(t, redisAddr(t))
	url, prefix := "redis://"+p.addr()+"/0", uniquePrefix()
	var logs bytes.Buffer
	a := newRecords(t, replay.Config{RedisURL: url, RedisPrefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	b := newRecords(t, replay.Config{RedisURL: testRedisURL(t), RedisPrefix: prefix})
	exp := time.Now().Add(time.Minute)
	p.setDown(true)
	wantUse(t, a, "ns", "kept", exp, nil)
	p.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for a.Degraded() {
		if time.Now().After(deadline) {
			t.Fatalf("still degraded after Redis returned; logs:\n%s", logs.String())
		}
		a.Maintain(t.Context())
	}
	wantUse(t, b, "ns", "kept", exp, replay.ErrReplayed)
	if !strings.Contains(logs.String(), "written_back=1") {
		t.Fatalf("recovery not logged:\n%s", logs.String())
	}
}

func TestLocalMemoryIsBounded(t *testing.T) {
	root := sqltest.Open(t, sqltest.SQLiteURL(t))
	db := root.Tenant(store.DefaultTenant)
	clk := newClock()
	r := newRecords(t, replay.Config{Store: db, MaxLocal: 2, Now: clk.Now})
	wantUse(t, r, "ns", "1", t0.Add(time.Minute), nil)
	wantUse(t, r, "ns", "2", t0.Add(time.Minute), nil)
	wantUse(t, r, "ns", "3", t0.Add(time.Minute), nil) // the database holds it; memory is a shortcut
	root.Close()
	// Memory is full of unexpired values and the database is gone: refuse
	// rather than forget one.
	wantUse(t, r, "ns", "4", t0.Add(time.Minute), replay.ErrUnavailable)
	clk.Add(time.Minute)
	wantUse(t, r, "ns", "5", t0.Add(2*time.Minute), nil)
}

func TestKeyIsFixedSizeHash(t *testing.T) {
	a, b := replay.Key("ns", "a\x00b"), replay.Key("ns\x00a", "b")
	if a == b {
		t.Fatal("namespace and id are not separated")
	}
	if k1, k2 := replay.Key("ns", "x"), replay.Key("ns", "x"); k1 != k2 {
		t.Fatal("Key is not deterministic")
	}
}

// testRedisURL is the Redis at PERMISO_TEST_REDIS_URL (default
// 127.0.0.1:6379). Without it the test is skipped, except under CI=true.
func testRedisURL(t *testing.T) string {
	t.Helper()
	return "redis://" + redisAddr(t) + "/0"
}

func redisAddr(t *testing.T) string {
	t.Helper()
	addr := "127.0.0.1:6379"
	if u := os.Getenv("PERMISO_TEST_REDIS_URL"); u != "" {
		addr = strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), "/0")
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s: %v", addr, err)
		}
		t.Skipf("Redis at %s is unavailable: %v", addr, err)
	}
	c.Close()
	return addr
}

func uniquePrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "permiso-test:" + hex.EncodeToString(b[:]) + ":"
}

// proxy is a TCP relay to a real server that the test can take down
// (closing every connection and refusing new ones) and bring back.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// TestSoleUserWritesBehind: with the database its own (SQLite), a replica
// decides in memory and writes behind; after a restart it still refuses
// what it recorded before, as long as that can be valid.
func TestSoleUserWritesBehind(t *testing.T) {
	ctx := t.Context()
	db := sqltest.SQLite(t)
	clk := newClock()
	cfg := replay.Config{Store: db, SoleUser: true, Horizon: 10 * time.Minute, Now: clk.Now}
	before := newRecords(t, cfg)
	// A value recorded by the process before this one, in the database.
	if ok, err := db.ClaimReplay(ctx, key("ns", "old"), t0.Add(5*time.Minute), t0); err != nil || !ok {
		t.Fatal(err)
	}
	wantUse(t, before, "ns", "old", t0.Add(5*time.Minute), replay.ErrReplayed) // warming up: the database is asked

	clk.Add(10 * time.Minute) // warm: memory decides
	now := clk.Now()
	wantUse(t, before, "ns", "a", now.Add(time.Minute), nil)
	wantUse(t, before, "ns", "a", now.Add(time.Minute), replay.ErrReplayed)
	if ok, _ := db.ClaimReplay(ctx, key("ns", "probe"), now.Add(time.Minute), now); !ok {
		t.Fatal("probe")
	}
	// Not yet in the database...
	if ok, _ := db.ClaimReplay(ctx, key("ns", "a"), now.Add(time.Minute), now); !ok {
		t.Fatal("written before Flush")
	}
	db.DeleteExpiredReplays(ctx, now.Add(time.Hour)) // start over
	wantUse(t, before, "ns", "b", now.Add(time.Minute), nil)
	before.Flush(ctx)
	// ... and there after Flush: a restarted replica refuses it.
	after := newRecords(t, replay.Config{Store: db, SoleUser: true, Horizon: 10 * time.Minute, Now: clk.Now})
	wantUse(t, after, "ns", "b", now.Add(time.Minute), replay.ErrReplayed)

	// A value that lives longer than the horizon goes to the database at once.
	wantUse(t, before, "ns", "long", now.Add(time.Hour), nil)
	if ok, _ := db.ClaimReplay(ctx, key("ns", "long"), now.Add(time.Hour), now); ok {
		t.Fatal("a long-lived value was not recorded in the database")
	}
}

func key(ns, id string) []byte { k := replay.Key(ns, id); return k[:] }

// TestSoleUserWarmWhenNothingIsLeft: with no record left by a previous
// process, memory decides from the first value.
func TestSoleUserWarmWhenNothingIsLeft(t *testing.T) {
	db := sqltest.SQLite(t)
	clk := newClock()
	r := newRecords(t, replay.Config{Store: db, SoleUser: true, Horizon: 10 * time.Minute, Now: clk.Now})
	wantUse(t, r, "ns", "x", t0.Add(time.Minute), nil)
	wantUse(t, r, "ns", "x", t0.Add(time.Minute), replay.ErrReplayed)
	if ok, _ := db.ClaimReplay(t.Context(), key("ns", "x"), t0.Add(time.Minute), t0); !ok {
		t.Fatal("the value reached the database before Flush: memory did not decide")
	}
}

// TestSoleUserFlushesInBatches: a backlog larger than one write is written
// behind whole, so a restarted replica refuses its first and last values.
func TestSoleUserFlushesInBatches(t *testing.T) {
	db := sqltest.SQLite(t)
	clk := newClock()
	cfg := replay.Config{Store: db, SoleUser: true, Horizon: 10 * time.Minute, Now: clk.Now}
	r := newRecords(t, cfg)
	const n = 5001 // more than one batch
	exp := t0.Add(time.Minute)
	for i := range n {
		wantUse(t, r, "ns", strconv.Itoa(i), exp, nil)
	}
	r.Flush(t.Context())
	for _, i := range []int{0, 4999, 5000, n - 1} {
		if ok, err := db.ClaimReplay(t.Context(), key("ns", strconv.Itoa(i)), exp, t0); err != nil || ok {
			t.Fatalf("value %d not written behind (claim: %v, %v)", i, ok, err)
		}
	}
	after := newRecords(t, cfg)
	wantUse(t, after, "ns", strconv.Itoa(n/2), exp, replay.ErrReplayed)
}
