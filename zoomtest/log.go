package zoomtest

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
)

// NewLogger returns a logger that writes to t.Log at Info level and above, so logs show up next to
// the failure they explain (and only with -v otherwise). It falls silent when t's cleanups run, as
// testing panics on a Log after the test has finished. NewServer uses one unless WithLogger says
// otherwise; give one to the code under test too, so both sides tell one story.
func NewLogger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		// t.Log has no timestamps either; the journal has exact ones.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// tbWriter passes each log record (one Write per record) to t.Log.
type tbWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
