package logthrottle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Config tunes a Handler. Zero values select the defaults.
type Config struct {
	// Interval is how long after a record is written others with the same
	// level and message are only counted; default 10s.
	Interval time.Duration
	// Level is the least level that is throttled; default slog.LevelWarn.
	// Records below it pass untouched.
	Level slog.Level
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxKinds bounds the messages tracked; records of further messages pass
// untouched (messages are constants in the code, so the bound is not met).
const maxKinds = 1000

// Handler is a slog.Handler that throttles repeated records.
type Handler struct {
	next slog.Handler
	st   *state
}

type state struct {
	cfg  Config
	mu   sync.Mutex
	seen map[kind]*tally
}

type kind struct {
	level slog.Level
	msg   string
}

type tally struct {
	last   time.Time
	held   int
	sample slog.Record // the last record held back, for Flush
	next   slog.Handler
}

// New wraps next.
func New(next slog.Handler, cfg Config) *Handler {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Level == 0 {
		cfg.Level = slog.LevelWarn
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{next: next, st: &state{cfg: cfg, seen: make(map[kind]*tally)}}
}

// Enabled reports what the wrapped handler does.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle writes r, or counts it when a record of the same level and
// message was written less than Interval ago.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.st.cfg.Level {
		return h.next.Handle(ctx, r)
	}
	now := h.st.cfg.Now()
	k := kind{r.Level, r.Message}
	h.st.mu.Lock()
	t, ok := h.st.seen[k]
	if !ok && len(h.st.seen) >= maxKinds {
		h.st.mu.Unlock()
		return h.next.Handle(ctx, r)
	}
	if ok && now.Sub(t.last) < h.st.cfg.Interval {
		t.held++
		t.sample, t.next = r.Clone(), h.next
		h.st.mu.Unlock()
		return nil
	}
	held := 0
	if ok {
		held = t.held
		t.last, t.held = now, 0
	} else {
		h.st.seen[k] = &tally{last: now}
	}
	h.st.mu.Unlock()
	if held > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", held), slog.String("repeated_over", h.st.cfg.Interval.String()))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a Handler with attrs that shares the throttling state.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), st: h.st}
}

// WithGroup returns a Handler with the group that shares the throttling state.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st}
}

// Flush writes, for every kind whose records were held back and whose
// interval has passed, its last held record with the count, so a flood
// that stopped is still reported. Call it about once an interval.
func (h *Handler) Flush(ctx context.Context) {
	now := h.st.cfg.Now()
	type out struct {
		r    slog.Record
		next slog.Handler
	}
	var due []out
	h.st.mu.Lock()
	for k, t := range h.st.seen {
		if now.Sub(t.last) < h.st.cfg.Interval {
			continue
		}
		if t.held > 0 {
			r := t.sample
			r.AddAttrs(slog.Int("repeated", t.held), slog.String("repeated_over", h.st.cfg.Interval.String()))
			due = append(due, out{r, t.next})
		}
		delete(h.st.seen, k)
	}
	h.st.mu.Unlock()
	for _, o := range due {
		_ = o.next.Handle(ctx, o.r)
	}
}
