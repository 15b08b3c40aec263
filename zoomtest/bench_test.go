package zoomtest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/zoommock/zoommock/zoomtest"
)

// iterationTB is the benchmark's testing.TB for one iteration: it collects the cleanups NewServer
// registers and runs them at the end of the iteration, so each iteration measures a server's whole
// life, not b's (whose cleanups run once, after the benchmark).
type iterationTB struct {
	testing.TB
	cleanups []func()
}

func (t *iterationTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *iterationTB) finish() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = t.cleanups[:0]
}

// BenchmarkNewServer measures zoomtest.NewServer with its cleanup against httptest.NewServer with
// Close, alternating the two in each iteration so both run under the same conditions. It reports
// zoomtest's time per server as ns/op, httptest's as httptest-ns/op, and their ratio (target:
// under 2).
func BenchmarkNewServer(b *testing.B) {
	tb := &iterationTB{TB: b}
	var base, ours time.Duration
	for b.Loop() {
		start := time.Now()
		hs := httptest.NewServer(http.NotFoundHandler())
		hs.Close()
		mid := time.Now()
		zoomtest.NewServer(tb)
		tb.finish()
		base, ours = base+mid.Sub(start), ours+time.Since(mid)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "zoomtest-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/n, "httptest-ns/op")
	b.ReportMetric(float64(ours)/float64(base), "ratio")
}
