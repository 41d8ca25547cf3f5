package oauth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Usage counts issued tokens per client in memory and writes the totals
// (total_requests, last_used) in batches, so no token costs a database
// write.
type Usage struct {
	store  store.ClientStore
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	counts map[string]int64
}

// NewUsage returns a Usage writing to s.
func NewUsage(s store.ClientStore, logger *slog.Logger, now func() time.Time) *Usage {
	if now == nil {
		now = time.Now
	}
	return &Usage{store: s, logger: logger, now: now, counts: make(map[string]int64)}
}

// Add counts one token for clientID.
func (u *Usage) Add(clientID string) {
	u.mu.Lock()
	u.counts[clientID]++
	u.mu.Unlock()
}

// Flush writes the counts gathered so far.
func (u *Usage) Flush(ctx context.Context) {
	u.mu.Lock()
	counts := u.counts
	u.counts = make(map[string]int64, len(counts))
	u.mu.Unlock()
	at := u.now().UTC()
	for id, n := range counts {
		if err := u.store.RecordClientUsage(ctx, id, n, at); err != nil && u.logger != nil {
			u.logger.Warn("record client usage", "client_id", id, "err", err)
		}
	}
}

// Run flushes every interval until ctx ends, then flushes once more.
func (u *Usage) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			u.Flush(ctx)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			u.Flush(fctx)
			cancel()
			return
		}
	}
}
