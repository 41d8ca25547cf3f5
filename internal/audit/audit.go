package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Outcomes.
const (
	Success = "success"
	Failure = "failure"
	Denied  = "denied"
)

// Recorder records audit events.
type Recorder interface {
	Record(ctx context.Context, e store.AuditEvent)
}

// Discard is a Recorder that drops everything (for tests of other packages
// that do not look at audit events).
type Discard struct{}

func (Discard) Record(context.Context, store.AuditEvent) {}

// Config configures a Sink. Zero values are documented per field.
type Config struct {
	Store     store.AuditStore
	Logger    *slog.Logger  // nil: events are not logged
	BatchSize int           // default 256
	Interval  time.Duration // flush period; default 500ms
	QueueSize int           // default 8192; when full, events are dropped and counted
	Now       func() time.Time
}

// Sink is a batched Recorder.
type Sink struct {
	cfg     Config
	queue   chan store.AuditEvent
	dropped atomic.Uint64
	flushed chan chan struct{}
	done    chan struct{}
}

// NewSink returns a Sink; call Run to start writing.
func NewSink(cfg Config) *Sink {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sink{cfg: cfg, queue: make(chan store.AuditEvent, cfg.QueueSize),
		flushed: make(chan chan struct{}), done: make(chan struct{})}
}

// BatchRecorder also writes a batch at once, waiting for it: a burst
// recorded in the background (one event per active client at a usage
// flush, tens of thousands with many clients) must not overflow a queue
// sized for requests and be dropped.
type BatchRecorder interface {
	Recorder
	RecordAll(ctx context.Context, events []store.AuditEvent) error
}

// RecordAll writes events now, in one transaction, after logging each as
// Record does. It fills in ids and times.
func (s *Sink) RecordAll(ctx context.Context, events []store.AuditEvent) error {
	for i := range events {
		s.prepare(ctx, &events[i])
	}
	if err := s.cfg.Store.AppendAuditEvents(ctx, events); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Record queues e without blocking. It fills in the id and time.
func (s *Sink) Record(ctx context.Context, e store.AuditEvent) {
	s.prepare(ctx, &e)
	select {
	case s.queue <- e:
	default:
		s.dropped.Add(1)
	}
}

// prepare fills in e's id and time and logs it.
func (s *Sink) prepare(ctx context.Context, e *store.AuditEvent) {
	if e.ID == "" {
		var b [16]byte
		rand.Read(b[:])
		e.ID = hex.EncodeToString(b[:])
	}
	if e.Time.IsZero() {
		e.Time = s.cfg.Now().UTC()
	}
	if s.cfg.Logger != nil {
		s.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "audit",
			slog.String("event", e.Type), slog.String("outcome", e.Outcome),
			slog.String("actor_type", e.ActorType), slog.String("actor", e.ActorID),
			slog.String("target", e.Target), slog.String("ip", e.IP),
			slog.String("request_id", e.RequestID), slog.Any("details", e.Details))
	}
}

// Dropped reports how many events were dropped because the queue was full.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Flush waits until every event queued before the call is written, or ctx ends.
func (s *Sink) Flush(ctx context.Context) {
	ack := make(chan struct{})
	select {
	case s.flushed <- ack:
	case <-s.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

// Run writes batches until ctx ends, then writes what is queued (bounded by
// a short deadline) and returns.
func (s *Sink) Run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	batch := make([]store.AuditEvent, 0, s.cfg.BatchSize)
	write := func(wctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if err := s.cfg.Store.AppendAuditEvents(wctx, batch); err != nil && s.cfg.Logger != nil {
			s.cfg.Logger.Error("write audit events", "count", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	drain := func(wctx context.Context) {
		for {
			select {
			case e := <-s.queue:
				batch = append(batch, e)
				if len(batch) >= s.cfg.BatchSize {
					write(wctx)
				}
			default:
				write(wctx)
				return
			}
		}
	}
	for {
		select {
		case e := <-s.queue:
			batch = append(batch, e)
			if len(batch) >= s.cfg.BatchSize {
				write(ctx)
			}
		case <-t.C:
			write(ctx)
		case ack := <-s.flushed:
			drain(ctx)
			close(ack)
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			drain(wctx)
			cancel()
			return
		}
	}
}
