package bench

import (
	"math"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	var prevHi uint64
	for i := 0; i < numBkts; i++ {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps back to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/64+1e-9 {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/64 of its values", i, lo, hi)
		}
		prevHi = hi
		if hi == math.MaxUint64>>1 {
			return
		}
	}
	if prevHi < math.MaxInt64 {
		t.Fatalf("buckets end at %d, below the largest duration", prevHi)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not zero")
	}
	// 1 ms .. 1000 ms, one each: the q-quantile is q·1000 ms.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.Quantile(tc.q)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 0.01 {
			t.Errorf("p%v = %v, want %v ±1%%", tc.q*100, got, tc.want)
		}
	}
	if h.Max() != time.Second {
		t.Errorf("max = %v, want 1s", h.Max())
	}
	if got, want := h.Mean(), 500500*time.Microsecond; got != want {
		t.Errorf("mean = %v, want %v", got, want)
	}
}

func TestHistogramMergeAndSmallValues(t *testing.T) {
	var a, b Histogram
	for range 99 {
		a.Record(50 * time.Nanosecond) // exact bucket
	}
	b.Record(3 * time.Second)
	b.Record(-time.Second) // counts as zero
	a.Merge(&b)
	if a.Count() != 101 {
		t.Fatalf("count = %d, want 101", a.Count())
	}
	if got := a.Quantile(0.5); got != 50 {
		t.Errorf("p50 = %v, want 50ns", got)
	}
	if got := a.Quantile(0.999); got != 3*time.Second {
		t.Errorf("p99.9 = %v, want the max, 3s", got)
	}
}
