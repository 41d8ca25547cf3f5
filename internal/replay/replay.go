package replay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

var (
	// ErrReplayed means the value was used before and its record has not
	// expired.
	ErrReplayed = errors.New("replay: value already used")
	// ErrUnavailable means no shared record answered and Config.Strict is set
	// (or this replica's own memory is full).
	ErrUnavailable = errors.New("replay: shared records unavailable")
)

// DefaultMaxLocal is Config.MaxLocal's default.
const DefaultMaxLocal = 2_000_000

// Config configures [Records]. The zero value keeps records in memory only,
// which suits a single replica and tests.
type Config struct {
	// Store is the database shared by replicas. Nil: no database record.
	Store store.ReplayStore
	// RedisURL, when set, keeps records in Redis (tried before Store).
	RedisURL string
	// RedisPrefix prefixes every Redis key; default "permiso:".
	RedisPrefix string
	// Strict refuses with ErrUnavailable while no shared record answers,
	// instead of each replica keeping its own records.
	Strict bool
	// Timeout bounds each call to a shared record; default 2s.
	Timeout time.Duration
	// MaxLocal bounds the unexpired values kept in memory; default
	// 2,000,000 (about 120 MB when full): a replica must hold every value
	// it accepts until it expires, and DPoP proofs at 10,000/s, each kept
	// 65 s, are 650,000. When full, a replica without a shared record
	// refuses with ErrUnavailable rather than forget one.
	MaxLocal int
	// SoleUser says this process is the only one using Store (SQLite,
	// whose file one process owns): its memory then decides, and Store
	// only keeps the records across a restart, written behind. For
	// Horizon after New, and for values that live longer than Horizon,
	// Store is asked first as usual, so values recorded before a restart
	// are still refused. Ignored with a RedisURL.
	SoleUser bool
	// Horizon bounds the lifetime of the values callers record (exp -
	// now); default 10m.
	Horizon time.Duration
	// Logger receives outage and recovery messages; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// shared is one record every replica sees.
type shared interface {
	claim(ctx context.Context, key [32]byte, exp, now time.Time) (bool, error)
	// record writes values whose first use was decided elsewhere, in as
	// few round trips as the record allows.
	record(ctx context.Context, values []pending, now time.Time) error
	purge(ctx context.Context, now time.Time) error
	name() string
	close() error
}

type pending struct {
	key [32]byte
	exp time.Time
}

// Records is the single-use record. It is safe for concurrent use.
type Records struct {
	cfg    Config
	shared []shared

	mu       sync.Mutex
	local    *memory
	pending  []pending // kept locally while no shared record answered
	degraded bool
	// sole mode: memory decides after warm; behind is written to Store.
	warm     time.Time
	warmOnce sync.Once
	behind   []pending
}

// New returns Records for cfg. It does not contact Redis or the database.
func New(cfg Config) (*Records, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxLocal <= 0 {
		cfg.MaxLocal = DefaultMaxLocal
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "permiso:"
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = 10 * time.Minute
	}
	cfg.SoleUser = cfg.SoleUser && cfg.RedisURL == "" && cfg.Store != nil
	now := cfg.Now()
	r := &Records{cfg: cfg, local: newMemory(cfg.MaxLocal, now), warm: now.Add(cfg.Horizon)}
	if cfg.RedisURL != "" {
		rd, err := newRedis(cfg.RedisURL, cfg.RedisPrefix, cfg.Timeout)
		if err != nil {
			return nil, err
		}
		r.shared = append(r.shared, rd)
	}
	if cfg.Store != nil {
		r.shared = append(r.shared, dbRecord{cfg.Store})
	}
	return r, nil
}

// Key returns the stored form of (namespace, id).
func Key(namespace, id string) [32]byte {
	h := sha256.New()
	// A length prefix keeps ("a", "bc") and ("ab", "c") apart.
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(namespace))))
	h.Write([]byte(namespace))
	h.Write([]byte(id))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Use records (namespace, id) until exp. It returns nil on first use,
// ErrReplayed when the value was used before and has not expired, and
// ErrUnavailable only in strict mode (or with local memory full) while no
// shared record answers. A value whose exp has passed is not recorded and
// returns nil: the caller refuses expired JWTs before asking.
func (r *Records) Use(ctx context.Context, namespace, id string, exp time.Time) error {
	now := r.cfg.Now()
	if !exp.After(now) {
		return nil
	}
	key := Key(namespace, id)
	if len(r.shared) == 0 {
		return r.claimLocal(key, exp, now, false)
	}
	if r.cfg.SoleUser {
		r.warmOnce.Do(func() { r.warmUp(ctx) })
	}
	if r.cfg.SoleUser && !now.Before(r.warm) && exp.Sub(now) <= r.cfg.Horizon {
		// Every value recorded before this process started has expired:
		// memory is the whole record, and the database is written behind.
		if err := r.claimLocal(key, exp, now, false); err != nil {
			return err
		}
		r.mu.Lock()
		if len(r.behind) < r.cfg.MaxLocal {
			r.behind = append(r.behind, pending{key, exp})
		}
		r.mu.Unlock()
		return nil
	}
	r.mu.Lock()
	seen := r.local.has(key, now)
	r.mu.Unlock()
	if seen {
		return ErrReplayed
	}
	first, err := r.claimShared(ctx, key, exp, now)
	switch {
	case err == nil:
		r.remember(key, exp, now)
		if !first {
			return ErrReplayed
		}
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case r.cfg.Strict:
		return ErrUnavailable
	}
	// No shared record answered: this replica's memory is the record, and
	// the value is written back once a shared record answers again.
	return r.claimLocal(key, exp, now, true)
}

// claimShared asks each shared record in turn; the first that answers
// decides.
func (r *Records) claimShared(ctx context.Context, key [32]byte, exp, now time.Time) (bool, error) {
	var errs []error
	for _, s := range r.shared {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		first, err := s.claim(cctx, key, exp, now)
		cancel()
		if err == nil {
			r.recovered(ctx, s)
			return first, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.name(), err))
	}
	err := errors.Join(errs...)
	r.mu.Lock()
	was := r.degraded
	r.degraded = true
	r.mu.Unlock()
	if !was {
		if r.cfg.Strict {
			r.cfg.Logger.Error("replay records unreachable: refusing single-use values until they answer", "err", err)
		} else {
			r.cfg.Logger.Warn("replay records unreachable: this replica keeps its own records until they answer (a value may be used once per replica meanwhile)", "err", err)
		}
	}
	return false, err
}

// claimLocal is the check-and-record in memory, atomic under the lock.
// queue marks the value for write-back to a shared record.
func (r *Records) claimLocal(key [32]byte, exp, now time.Time, queue bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.local.has(key, now) {
		return ErrReplayed
	}
	if !r.local.add(key, exp, now) {
		// Forgetting a value would let it be used again: refuse instead.
		return ErrUnavailable
	}
	if queue {
		if len(r.pending) >= r.cfg.MaxLocal {
			r.pending = slices.DeleteFunc(r.pending, func(p pending) bool { return !p.exp.After(now) })
		}
		if len(r.pending) < r.cfg.MaxLocal {
			r.pending = append(r.pending, pending{key, exp})
		}
	}
	return nil
}

// remember keeps a value a shared record holds, so a replay to this
// replica is refused without a round trip. Memory is only a shortcut here:
// when it is full the value is not kept.
func (r *Records) remember(key [32]byte, exp, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.local.add(key, exp, now)
}

// recovered writes back the values kept while no shared record answered,
// after one has answered again.
func (r *Records) recovered(ctx context.Context, s shared) {
	r.mu.Lock()
	if !r.degraded {
		r.mu.Unlock()
		return
	}
	r.degraded = false
	back := r.pending
	r.pending = nil
	r.mu.Unlock()
	now := r.cfg.Now()
	back = unexpired(back, now)
	lost := r.write(ctx, s, back, now)
	r.cfg.Logger.Info("replay records reachable again", "record", s.name(), "written_back", len(back)-lost, "not_written", lost)
}

// flushBatch is how many values one write carries, each with its own
// timeout, so that a large backlog is not cut off by one deadline.
const flushBatch = 5000

// write records values in s in batches and returns how many were not
// written.
func (r *Records) write(ctx context.Context, s shared, values []pending, now time.Time) (lost int) {
	for start := 0; start < len(values); start += flushBatch {
		batch := values[start:min(start+flushBatch, len(values))]
		cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		err := s.record(cctx, batch, now)
		cancel()
		if err != nil {
			lost += len(batch)
		}
	}
	return lost
}

func unexpired(values []pending, now time.Time) []pending {
	return slices.DeleteFunc(values, func(p pending) bool { return !p.exp.After(now) })
}

// Maintain drops expired values from memory, retries the write-back after
// an outage, and purges expired records from the database.
func (r *Records) Maintain(ctx context.Context) error {
	now := r.cfg.Now()
	r.mu.Lock()
	r.local.sweep(now)
	degraded := r.degraded
	r.mu.Unlock()
	if degraded && len(r.shared) > 0 {
		// A probe claim of a fresh key tells whether a record answers again.
		_, _ = r.claimShared(ctx, Key("replay-probe", fmt.Sprint(now.UnixNano())), now.Add(time.Second), now)
	}
	var errs []error
	for _, s := range r.shared {
		if err := s.purge(ctx, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run calls Maintain every interval (default 1 minute) until ctx ends, and
// writes the values of a sole user behind every second (and once more at
// the end).
func (r *Records) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Flush(context.WithoutCancel(ctx))
			return
		case <-flush.C:
			r.Flush(ctx)
		case <-t.C:
			if err := r.Maintain(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Logger.Warn("replay records maintenance", "err", err)
			}
		}
	}
}

// warmUp shortens the warm-up to the latest expiry of the records the
// previous process left: once those have expired, memory decides alone.
func (r *Records) warmUp(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	last, err := r.cfg.Store.LastReplayExpiry(cctx)
	if err != nil {
		return // keep the whole horizon
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if last.Before(r.warm) {
		r.warm = last
	}
}

// Flush writes the values a sole user recorded in memory to the database,
// so a restart still refuses them.
func (r *Records) Flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.behind
	r.behind = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	now := r.cfg.Now()
	batch = unexpired(batch, now)
	// One transaction per batch: a commit per value would cost the sole
	// user more than deciding in memory saves.
	if failed := r.write(ctx, r.shared[len(r.shared)-1], batch, now); failed > 0 {
		r.cfg.Logger.Warn("replay records not written behind (memory still holds them)", "failed", failed, "of", len(batch))
	}
}

// Degraded reports whether no shared record answered the last call.
func (r *Records) Degraded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.degraded
}

// Close releases the Redis connection, if any.
func (r *Records) Close() error {
	var errs []error
	for _, s := range r.shared {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}
