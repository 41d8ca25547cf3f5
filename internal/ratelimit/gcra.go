package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// bucket is one limit: at most limit events per period, in bursts of up to
// limit. key names the bucket's state.
type bucket struct {
	key    string
	limit  int
	period time.Duration
}

// interval is the time one event uses up (the GCRA emission interval).
func (b bucket) interval() int64 { return int64(b.period) / int64(b.limit) }

// admit applies GCRA to one bucket whose theoretical arrival time is tat
// (unix ns; 0 for a fresh bucket). It returns the new tat, and when the
// event does not fit, how long until it would.
func (b bucket) admit(tat, now int64) (next int64, wait time.Duration) {
	next = max(tat, now) + b.interval()
	if over := next - now - int64(b.period); over > 0 {
		return tat, time.Duration(over)
	}
	return next, 0
}

// maxKeyLen bounds the keys the limiter stores: client ids come from the
// request, so a long one is replaced by its hash.
const maxKeyLen = 128

func boundKey(s string) string {
	if len(s) <= maxKeyLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ipKey is the unit an IP limit counts: an IPv4 address, or the /64 an
// IPv6 address belongs to, since one host commonly holds a whole /64 and
// could otherwise rotate addresses for a fresh budget.
func ipKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return boundKey(ip)
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
