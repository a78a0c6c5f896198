package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram splits each power of two of nanoseconds into benchHistSub equal
// buckets, as HDR histograms do: a percentile is known to within 1/benchHistSub
// of its value (3%) whatever the number of samples, in fixed memory, and
// recording is one atomic add, so thousands of subscriber goroutines can
// share one histogram without sorting millions of samples at the end.
const (
	benchHistSubBits = 5
	benchHistSub     = 1 << benchHistSubBits
	// benchHistMaxExp bounds what is recorded: 2^40 ns is 18 minutes, longer
	// than any run may last.
	benchHistMaxExp  = 40
	benchHistBuckets = benchHistSub + (benchHistMaxExp-benchHistSubBits)*benchHistSub
)

// benchHist counts durations. The zero value is ready to use and safe for
// concurrent use.
type benchHist struct {
	counts [benchHistBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

// benchHistIndex returns the bucket of v nanoseconds.
func benchHistIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v >= 1<<benchHistMaxExp {
		v = 1<<benchHistMaxExp - 1
	}
	if v < benchHistSub {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - 1 // >= benchHistSubBits
	shift := exp - benchHistSubBits
	return benchHistSub + shift*benchHistSub + int(v>>shift) - benchHistSub
}

// benchHistBounds returns the lowest value in bucket i and the bucket's width.
func benchHistBounds(i int) (low, width int64) {
	if i < benchHistSub {
		return int64(i), 1
	}
	shift := (i - benchHistSub) / benchHistSub
	sub := (i - benchHistSub) % benchHistSub
	return int64(benchHistSub+sub) << shift, 1 << shift
}

func (h *benchHist) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		// Possible only if the wall clock stepped back during the run.
		v = 0
	}
	h.counts[benchHistIndex(v)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// benchHistSnapshot is a histogram's counts at one moment, for reading.
type benchHistSnapshot struct {
	counts []uint64
	total  uint64
	max    time.Duration
}

func (h *benchHist) snapshot() benchHistSnapshot {
	s := benchHistSnapshot{counts: make([]uint64, benchHistBuckets)}
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
		s.total += s.counts[i]
	}
	s.max = time.Duration(h.max.Load())
	return s
}

// quantile returns the value below which a fraction q of the samples lie:
// the upper end of the bucket holding that rank, never more than the
// largest sample, so that quantiles are ordered and end at max.
func (s benchHistSnapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(q * float64(s.total))
	if float64(rank) < q*float64(s.total) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			low, width := benchHistBounds(i)
			return min(time.Duration(low+width-1), s.max)
		}
	}
	return s.max
}
