package server_test

import (
	"context"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// logBuffer collects a server's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestPrivateKeyJWTReplayThroughRedis: with --redis-url, two replicas of
// one PostgreSQL database keep the single-use records in Redis: an
// assertion accepted by A is refused by B, and its record is in Redis.
func TestPrivateKeyJWTReplayThroughRedis(t *testing.T) {
	redisURL, prefix := testRedis(t), uniquePrefix()
	dsn := sqltest.PostgresURL(t)
	dir := filepath.Join(t.TempDir(), "data")
	var rs [2]*testServer
	issuer := ""
	for i := range rs {
		cfg := replicaConfig(t, dir)
		if issuer == "" {
			issuer = cfg.Issuer
		}
		cfg.DatabaseURL, cfg.Issuer, cfg.RedisURL, cfg.RedisPrefix = dsn, issuer, redisURL, prefix
		rs[i] = startReplica(t, cfg).ts()
	}
	a, b := rs[0], rs[1]
	key := jwttest.NewKey(t, "ES256", "redis")
	a.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Redis keyed", "client_id": "redis-keyed",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)}, 201)
	jti := randomID()
	one := assertion(t, key, "redis-keyed", issuer, func(c, h map[string]any) { c["jti"] = jti })
	if r := a.assertionToken(wire.AssertionTypeJWTBearer, one); r.Status != 200 {
		t.Fatalf("A, first use: %d %s", r.Status, r.Body)
	}
	wantInvalidClient(t, "B, the same assertion", b.assertionToken(wire.AssertionTypeJWTBearer, one), "used before")

	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	k := replay.Key("private_key_jwt", "redis-keyed "+jti)
	ttl, err := rc.PTTL(context.Background(), prefix+"replay:"+hex.EncodeToString(k[:])).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Minute {
		t.Fatalf("the assertion's record in Redis: ttl %v, %v; want one that ends with the assertion", ttl, err)
	}
}

// TestPrivateKeyJWTReplayWithoutSharedRecords: while neither Redis nor the
// database answers, a replica keeps its own records and says so in its
// log (a replay to it is still refused), and a replica started with
// --replay-strict refuses assertions with 503 instead.
func TestPrivateKeyJWTReplayWithoutSharedRecords(t *testing.T) {
	pg := newOwnPostgres(t)
	dir := filepath.Join(t.TempDir(), "data")
	deadRedis := "redis://" + freeAddr(t) // nothing listens there
	var logs, logsB logBuffer
	cfgA := replicaConfig(t, dir)
	cfgA.DatabaseURL, cfgA.RedisURL = pg.DSN, deadRedis
	cfgA.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	a := startReplica(t, cfgA).ts()
	cfgB := replicaConfig(t, dir)
	cfgB.DatabaseURL, cfgB.RedisURL, cfgB.Issuer, cfgB.ReplayStrict = pg.DSN, deadRedis, cfgA.Issuer, true
	cfgB.Logger = slog.New(slog.NewTextHandler(&logsB, nil))
	b := startReplica(t, cfgB).ts()

	key := jwttest.NewKey(t, "ES256", "outage")
	a.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Keyed", "client_id": "keyed",
		"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)}, 201)
	sign := func() string { return assertion(t, key, "keyed", cfgA.Issuer, nil) }
	// Both replicas know the client before the outage (Redis is down, the
	// database answers: records are shared through it).
	for name, ts := range map[string]*testServer{"A": a, "B": b} {
		waitUntil(t, 15*time.Second, name+" issues a token", func() bool {
			return ts.assertionToken(wire.AssertionTypeJWTBearer, sign()).Status == 200
		})
	}
	if strings.Contains(logs.String(), "keeps its own records") {
		t.Fatalf("A fell back while the database answered:\n%s", logs.String())
	}

	pg.stop()
	var kept string
	waitUntil(t, 30*time.Second, "A issues a token from its own records", func() bool {
		kept = sign()
		return a.assertionToken(wire.AssertionTypeJWTBearer, kept).Status == 200
	})
	wantInvalidClient(t, "A, replay during the outage", a.assertionToken(wire.AssertionTypeJWTBearer, kept), "used before")
	if !strings.Contains(logs.String(), "replay records unreachable: this replica keeps its own records") {
		t.Fatalf("the fallback is not logged:\n%s", logs.String())
	}
	var r *response
	waitUntil(t, 30*time.Second, "B refuses while no shared record answers", func() bool {
		r = b.assertionToken(wire.AssertionTypeJWTBearer, sign())
		return r.Status == 503
	})
	if r.str("error") != wire.ErrTemporarilyUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("strict refusal: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	// It is the single-use check that refuses, not the client's lookup.
	if l := logsB.String(); !strings.Contains(l, "reason=replay_unavailable") || !strings.Contains(l, "refusing single-use values") {
		t.Fatalf("B's log does not say why it refused:\n%s", l)
	}
	pg.start()
	waitUntil(t, 30*time.Second, "B accepts again once the database answers", func() bool {
		return b.assertionToken(wire.AssertionTypeJWTBearer, sign()).Status == 200
	})
}
