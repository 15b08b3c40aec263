package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of two, so a recorded value
// is reported within 1/32 (about 3%) of itself, in fixed memory however many samples arrive.
const subBits = 5

// histogram counts durations in log-linear buckets. Receivers of many connections record into one
// histogram at once, so every field is atomic and recording never takes a lock.
type histogram struct {
	counts [64 << subBits]atomic.Int64
	n      atomic.Int64
	max    atomic.Int64
}

// bucketOf maps a non-negative value to its bucket: values below 2^(subBits+1) exactly, larger
// ones by their top subBits+1 significant bits.
func bucketOf(v int64) int {
	if v < 2<<subBits {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)<<subBits + int(v>>shift) - 1<<subBits
}

// bucketValue is the middle of bucket i's range, the value reported for a sample in it.
func bucketValue(i int) int64 {
	if i < 2<<subBits {
		return int64(i)
	}
	shift := i>>subBits - 1
	low := int64(i&(1<<subBits-1)+1<<subBits) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Latency is the distribution of emit-to-receipt times.
type Latency struct {
	Samples int64         `json:"samples"`
	P50     time.Duration `json:"p50"`
	P90     time.Duration `json:"p90"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`
}

// latency summarizes the histogram; the maximum is exact, percentiles within the bucket precision.
func (h *histogram) latency() Latency {
	l := Latency{Samples: h.n.Load(), Max: time.Duration(h.max.Load())}
	if l.Samples == 0 {
		return l
	}
	quantile := func(q float64) time.Duration {
		rank := int64(q*float64(l.Samples-1)) + 1
		var seen int64
		for i := range h.counts {
			seen += h.counts[i].Load()
			if seen >= rank {
				return min(time.Duration(bucketValue(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P90, l.P99 = quantile(0.50), quantile(0.90), quantile(0.99)
	return l
}
