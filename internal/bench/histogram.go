package bench

import (
	"math/bits"
	"time"
)

// The histogram is log-linear, like HdrHistogram: values below subCount
// nanoseconds have a bucket each, and every power of two above is split
// into subCount/2 equal buckets, so a bucket is never wider than 1/64 of
// its values (about 1.6%), whatever the magnitude.
const (
	subBits  = 7
	subCount = 1 << subBits  // 128 exact buckets for 0..127 ns
	subHalf  = subCount >> 1 // buckets per power of two above that
	numBkts  = subCount + (64-subBits)*subHalf
)

// Histogram records durations with bounded relative error and constant
// cost per value. The zero value is empty and ready to use. A Histogram is
// not safe for concurrent use: give each worker its own and [Histogram.Merge]
// them at the end.
type Histogram struct {
	counts [numBkts]uint64
	total  uint64
	max    time.Duration
	sum    time.Duration
}

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // >= 1
	return subCount + (shift-1)*subHalf + int(v>>uint(shift)) - subHalf
}

// bucketBounds returns the lowest and highest value that land in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := uint((i-subCount)/subHalf + 1)
	m := uint64((i-subCount)%subHalf + subHalf)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one value; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.total++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max returns the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the arithmetic mean, or zero when empty.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}

// Quantile returns the value below which a fraction q (0..1) of the
// recorded values lie: the middle of the bucket holding the value of rank
// ceil(q·n), capped at [Histogram.Max]. It returns zero when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			v := time.Duration(lo + (hi-lo)/2)
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}
