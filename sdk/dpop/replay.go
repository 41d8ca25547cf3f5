package dpop

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReplaySize is the capacity of a [MemoryReplay] when none is given:
// a minute of proofs (MaxAge plus leeway) at 15,000 a second. Memory grows
// with what is held, about 60 bytes a proof, so a quiet service pays
// little for it.
const DefaultReplaySize = 1_000_000

// MemoryReplay is a bounded, in-memory [Replay] for one process. It keeps a
// 16-byte hash of each id with its expiry, in insertion order; entries
// leave when they expire or, when the cache is full, oldest first (counted
// by Evicted: a proof evicted before its expiry could be replayed, so size
// the cache for the proofs accepted within one window, MaxAge plus leeway).
//
// Every process keeps its own: a proof replayed to another instance of the
// same service is not recognised there. Since a proof also names the
// method and URI of its request and expires within the window, the
// exposure is one more use of an intercepted proof, for that request, on
// each other instance, within about a minute.
type MemoryReplay struct {
	max int
	now func() time.Time

	mu   sync.Mutex
	seen map[[16]byte]int64 // expiry, unix nanoseconds
	ring []replayEntry      // insertion order; grows to max as needed
	head int                // oldest entry
	n    int                // entries in ring

	evicted atomic.Int64
}

type replayEntry struct {
	key [16]byte
	exp int64
}

// NewMemoryReplay returns a cache of at most size ids (zero or less means
// DefaultReplaySize), reading time from now (nil means time.Now).
func NewMemoryReplay(size int, now func() time.Time) *MemoryReplay {
	if size <= 0 {
		size = DefaultReplaySize
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplay{max: size, now: now, seen: make(map[[16]byte]int64, min(size, 1024))}
}

// Use implements [Replay].
func (m *MemoryReplay) Use(_ context.Context, id string, exp time.Time) error {
	sum := sha256.Sum256([]byte(id))
	var k [16]byte
	copy(k[:], sum[:16])
	now := m.now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.seen[k]; ok && e > now {
		return ErrReplayed
	}
	// Drop expired entries from the front, then make room.
	for m.n > 0 && m.ring[m.head].exp <= now {
		m.pop()
	}
	if m.n == m.max {
		if m.ring[m.head].exp > now && m.seen[m.ring[m.head].key] == m.ring[m.head].exp {
			m.evicted.Add(1)
		}
		m.pop()
	}
	if m.n == len(m.ring) {
		m.grow()
	}
	e := replayEntry{key: k, exp: exp.UnixNano()}
	m.ring[(m.head+m.n)%len(m.ring)] = e
	m.n++
	m.seen[k] = e.exp
	return nil
}

// pop removes the oldest entry; the caller holds mu and m.n > 0.
func (m *MemoryReplay) pop() {
	e := m.ring[m.head]
	// The id may have been recorded again after it expired: only the
	// latest record owns the map entry.
	if m.seen[e.key] == e.exp {
		delete(m.seen, e.key)
	}
	m.head = (m.head + 1) % len(m.ring)
	m.n--
}

// grow doubles the ring, up to max, keeping the entries in order; the
// caller holds mu and the ring is full.
func (m *MemoryReplay) grow() {
	ring := make([]replayEntry, min(max(2*len(m.ring), 1024), m.max))
	for i := range m.n {
		ring[i] = m.ring[(m.head+i)%len(m.ring)]
	}
	m.ring, m.head = ring, 0
}

// Len returns the number of ids held.
func (m *MemoryReplay) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// Evicted returns how many ids were dropped before they expired because
// the cache was full.
func (m *MemoryReplay) Evicted() int64 { return m.evicted.Load() }
