package oauth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
)

// Usage counts issued tokens per client and grant in memory and, every
// flush, writes the client totals (total_requests, last_used) and one
// aggregated "token.issued" audit event per client and grant, so no
// service token costs a database write or a log line of its own. A token
// storm of 10,000 tokens a second is then a handful of audit rows, not
// 10,000; every failure is still audited one by one.
type Usage struct {
	store  store.ClientStore
	audit  audit.Recorder
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	since  time.Time
	counts map[usageKey]int64
}

type usageKey struct{ client, grant string }

// NewUsage returns a Usage writing to s and rec (nil: no audit events).
func NewUsage(s store.ClientStore, rec audit.Recorder, logger *slog.Logger, now func() time.Time) *Usage {
	if now == nil {
		now = time.Now
	}
	if rec == nil {
		rec = audit.Discard{}
	}
	return &Usage{store: s, audit: rec, logger: logger, now: now, since: now().UTC(), counts: make(map[usageKey]int64)}
}

// Add counts one token issued to clientID with grant.
func (u *Usage) Add(clientID, grant string) {
	u.mu.Lock()
	u.counts[usageKey{clientID, grant}]++
	u.mu.Unlock()
}

// Flush writes the counts gathered since the last flush.
func (u *Usage) Flush(ctx context.Context) {
	at := u.now().UTC()
	u.mu.Lock()
	counts, since := u.counts, u.since
	u.counts, u.since = make(map[usageKey]int64, len(counts)), at
	u.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	perClient := make(map[string]int64, len(counts))
	events := make([]store.AuditEvent, 0, len(counts))
	from, to := since.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano)
	for k, n := range counts {
		perClient[k.client] += n
		events = append(events, store.AuditEvent{Type: "token.issued", Outcome: audit.Success, ActorType: "client",
			ActorID: k.client, Target: k.client, Time: at,
			Details: map[string]any{"grant": k.grant, "count": n, "from": from, "to": to}})
	}
	// With many active clients a flush is one event per client: written
	// here, in one transaction, rather than through the request queue,
	// which a burst of tens of thousands would overflow.
	if br, ok := u.audit.(audit.BatchRecorder); ok {
		if err := br.RecordAll(ctx, events); err != nil && u.logger != nil {
			u.logger.Error("write token usage audit events", "events", len(events), "err", err)
		}
	} else {
		for _, e := range events {
			u.audit.Record(ctx, e)
		}
	}
	// One transaction for every client: with many clients, one commit
	// (and one fsync) a flush instead of one per client.
	if err := u.store.RecordClientsUsage(ctx, perClient, at); err != nil && u.logger != nil {
		u.logger.Warn("record client usage", "clients", len(perClient), "err", err)
	}
}

// A flush writes one client row and one audit row per client and grant it
// covers. With many active clients (100,000 in random order) that is
// nearly two rows per token, a third of the server's work; so a flush is
// put off while it would write more than flushRowsPerSecond rows per
// second of the time it covers, up to maxFlushDelay intervals. Counts
// per client then grow instead of rows.
const (
	flushRowsPerSecond = 200
	maxFlushDelay      = 12
)

// FlushDue reports whether a flush is due after an interval: the first
// tick, or later ones while the gathered counts are too many rows for the
// time they cover.
func (u *Usage) FlushDue(interval time.Duration) bool {
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	covered := now.Sub(u.since)
	if covered >= maxFlushDelay*interval {
		return true
	}
	return float64(len(u.counts)) <= covered.Seconds()*flushRowsPerSecond
}

// Run flushes every interval (or later, see FlushDue) until ctx ends,
// then flushes once more.
func (u *Usage) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if u.FlushDue(interval) {
				u.Flush(ctx)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			u.Flush(fctx)
			cancel()
			return
		}
	}
}
