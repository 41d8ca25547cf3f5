package ratelimit

import (
	"sync"
	"time"
)

// memory keeps bucket states in a bounded map. An entry whose tat has
// passed describes a full bucket, exactly like a missing entry, so
// dropping it loses nothing: that is how entries expire.
type memory struct {
	mu  sync.Mutex
	tat map[string]int64 // key -> theoretical arrival time (unix ns)
	max int
}

func newMemory(max int) *memory {
	return &memory{tat: make(map[string]int64), max: max}
}

// admit checks every bucket at now and, when take is set and all of them
// have room, records one event in each. It returns 0 when the event fits,
// else the longest wait among the buckets that are full.
func (m *memory) admit(now int64, take bool, bs ...bucket) time.Duration {
	var next [2]int64
	if len(bs) > len(next) {
		panic("ratelimit: too many buckets")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var wait time.Duration
	for i, b := range bs {
		n, w := b.admit(m.tat[b.key], now)
		next[i], wait = n, max(wait, w)
	}
	if wait > 0 || !take {
		return wait
	}
	for i, b := range bs {
		if _, ok := m.tat[b.key]; !ok && len(m.tat) >= m.max {
			m.evict(now)
		}
		m.tat[b.key] = next[i]
	}
	return 0
}

// evict makes room: first every expired entry, then, if the map is still
// full (many live keys, as in a distributed guessing attack), arbitrary
// ones down to 90%. Map order is random, so an attacker cannot choose
// which keys survive. The caller holds mu.
func (m *memory) evict(now int64) {
	for k, t := range m.tat {
		if t <= now {
			delete(m.tat, k)
		}
	}
	for k := range m.tat {
		if len(m.tat) < m.max*9/10 {
			break
		}
		delete(m.tat, k)
	}
}

// len reports the number of stored entries (for tests and metrics).
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tat)
}
