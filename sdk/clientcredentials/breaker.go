package clientcredentials

import (
	"fmt"
	"sync"
	"time"
)

// breaker is a circuit breaker over token requests. It opens after
// threshold consecutive transient failures, refuses requests for cooldown,
// then lets one trial request through (half-open): success closes it,
// failure opens it again.
type breaker struct {
	threshold int // <= 0 disables the breaker
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time // zero when closed
	trial     bool      // a half-open trial request is in flight
}

// allow reports whether a request may be sent now.
func (b *breaker) allow(now time.Time) error {
	if b.threshold <= 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return nil
	}
	if now.Before(b.openUntil) {
		return fmt.Errorf("%w until %s", ErrCircuitOpen, b.openUntil.Format(time.RFC3339))
	}
	if b.trial {
		return fmt.Errorf("%w (trial request in flight)", ErrCircuitOpen)
	}
	b.trial = true
	return nil
}

// record notes the outcome of a request: ok is false for a transient
// failure (network error, 5xx, 429).
func (b *breaker) record(now time.Time, ok bool) {
	if b.threshold <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures = 0
		b.openUntil = time.Time{}
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openUntil = now.Add(b.cooldown)
	}
}

// state names the breaker's state for logs and tests.
func (b *breaker) state(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return "closed"
	case now.Before(b.openUntil):
		return "open"
	default:
		return "half-open"
	}
}
