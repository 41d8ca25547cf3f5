package replay

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/permiso-auth/permiso/internal/store"
)

// dbRecord keeps records in the database's replay_records table.
type dbRecord struct{ s store.ReplayStore }

func (d dbRecord) claim(ctx context.Context, key [32]byte, exp, now time.Time) (bool, error) {
	return d.s.ClaimReplay(ctx, key[:], exp, now)
}

func (d dbRecord) record(ctx context.Context, values []pending, _ time.Time) error {
	recs := make([]store.ReplayRecord, len(values))
	for i, v := range values {
		recs[i] = store.ReplayRecord{Key: v.key[:], ExpiresAt: v.exp}
	}
	return d.s.RecordReplays(ctx, recs)
}

func (d dbRecord) purge(ctx context.Context, now time.Time) error {
	_, err := d.s.DeleteExpiredReplays(ctx, now)
	return err
}

func (dbRecord) name() string { return "database" }
func (dbRecord) close() error { return nil }

// redisRecord keeps each record as a key that Redis expires by itself.
type redisRecord struct {
	client *redis.Client
	prefix string
}

// newRedis prepares a client with short timeouts and no retries: a caller
// waiting seconds for Redis is worse off than one that falls back at once.
func newRedis(url, prefix string, timeout time.Duration) (*redisRecord, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("replay: redis url: %w", err)
	}
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	return &redisRecord{client: redis.NewClient(opt), prefix: prefix + "replay:"}, nil
}

// claim is SET key NX PX ttl: Redis decides the single winner.
func (r *redisRecord) claim(ctx context.Context, key [32]byte, exp, now time.Time) (bool, error) {
	ttl := max(exp.Sub(now), time.Millisecond)
	err := r.client.SetArgs(ctx, r.prefix+hex.EncodeToString(key[:]), "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	}
	return false, err
}

// record sends SET NX PX for every value in one pipeline: a value another
// replica recorded meanwhile keeps its record.
func (r *redisRecord) record(ctx context.Context, values []pending, now time.Time) error {
	cmds, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, v := range values {
			ttl := max(v.exp.Sub(now), time.Millisecond)
			p.SetArgs(ctx, r.prefix+hex.EncodeToString(v.key[:]), "1", redis.SetArgs{Mode: "NX", TTL: ttl})
		}
		return nil
	})
	for _, c := range cmds {
		// redis.Nil is NX's answer for a value already recorded.
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return e
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

func (r *redisRecord) purge(context.Context, time.Time) error { return nil }
func (r *redisRecord) name() string                           { return "redis" }
func (r *redisRecord) close() error                           { return r.client.Close() }
