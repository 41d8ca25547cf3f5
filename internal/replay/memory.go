package replay

import (
	"math"
	"time"
)

// memory is a replica's own record of used values: a 16-byte prefix of
// each key with the second it expires, and the keys grouped by that
// second, so that values leave as their second passes, each looked at
// once. Sweeping the whole map instead, when it filled up, stalled every
// claim behind the lock for a scan of all it held, and a map sized for
// a few seconds of DPoP proofs at full rate refused the rest with 503.
//
// Expiry is rounded up to the whole second: a value is kept up to a second
// longer than asked, never shorter.
type memory struct {
	max   int
	exp   map[[16]byte]uint32   // key -> expiry, unix seconds
	byExp map[uint32][][16]byte // expiry -> keys that expire then
	swept uint32                // every second up to this one has been dropped
}

func newMemory(max int, now time.Time) *memory {
	return &memory{max: max, exp: map[[16]byte]uint32{}, byExp: map[uint32][][16]byte{}, swept: seconds(now)}
}

// seconds is t in unix seconds, rounded down, within uint32.
func seconds(t time.Time) uint32 {
	return uint32(min(max(t.Unix(), 0), math.MaxUint32))
}

// expirySecond is exp in unix seconds, rounded up.
func expirySecond(exp time.Time) uint32 {
	s := exp.Unix()
	if exp.Nanosecond() > 0 {
		s++
	}
	return uint32(min(max(s, 0), math.MaxUint32))
}

func short(key [32]byte) (k [16]byte) {
	copy(k[:], key[:16])
	return k
}

// has reports whether key is held and unexpired at now.
func (m *memory) has(key [32]byte, now time.Time) bool {
	e, ok := m.exp[short(key)]
	return ok && e > seconds(now)
}

// add holds key until exp. It returns false, holding nothing, when max
// unexpired values are held already.
func (m *memory) add(key [32]byte, exp, now time.Time) bool {
	m.sweep(now)
	k := short(key)
	if _, ok := m.exp[k]; !ok && len(m.exp) >= m.max {
		return false
	}
	e := expirySecond(exp)
	m.exp[k] = e
	m.byExp[e] = append(m.byExp[e], k)
	return true
}

// sweep drops the values expired at now.
func (m *memory) sweep(now time.Time) {
	cur := seconds(now)
	if cur <= m.swept {
		return
	}
	drop := func(s uint32, keys [][16]byte) {
		for _, k := range keys {
			// A key used again after it expired belongs to its later
			// second.
			if m.exp[k] == s {
				delete(m.exp, k)
			}
		}
		delete(m.byExp, s)
	}
	if cur-m.swept > uint32(len(m.byExp)) {
		// A long jump of the clock: visit the seconds that hold keys.
		for s, keys := range m.byExp {
			if s <= cur {
				drop(s, keys)
			}
		}
	} else {
		for s := m.swept + 1; s <= cur; s++ {
			if keys, ok := m.byExp[s]; ok {
				drop(s, keys)
			}
		}
	}
	m.swept = cur
}

// len returns how many values are held, some possibly expired since the
// last sweep.
func (m *memory) len() int { return len(m.exp) }
