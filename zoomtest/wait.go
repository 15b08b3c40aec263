package zoomtest

import (
	"context"
	"fmt"
	"time"

	"github.com/zoommock/zoommock/mockserver"
)

// WaitForConnection waits until a connection has passed build_connection and returns the newest
// open one. After CloseConnections or DropConnections it therefore waits for the client to
// reconnect. When ctx ends first (or the wait timeout passes, when ctx has no deadline) it fails
// the test with what the client did instead, for example "no connection within 2s; the client's
// last attempt (c1) failed: token is empty (no access_token in the query string)".
func (s *Server) WaitForConnection(ctx context.Context) mockserver.ConnectionInfo {
	s.t.Helper()
	var newest mockserver.ConnectionInfo
	found, within := s.wait(ctx, func() bool {
		open := s.mock.Connections()
		if len(open) == 0 {
			return false
		}
		newest = open[len(open)-1]
		return true
	})
	if !found {
		s.t.Fatalf("zoomtest: no connection %s; %s", within, activity(s.mock.Journal()))
	}
	return newest
}

// WaitForHeartbeats waits until the newest connection that passed build_connection (the one
// WaitForConnection returns) has sent n heartbeats, counted from its opening, so a heartbeat sent
// just before the call counts. When ctx ends first it fails the test with how many came and why
// the others did not, for example "1 of 3 heartbeats within 2s; connection c1 was closed by the
// server (1000 heartbeat timeout): no heartbeat for 120ms: connection closed".
func (s *Server) WaitForHeartbeats(ctx context.Context, n int) {
	s.t.Helper()
	got := 0
	count := func() bool {
		got = heartbeatsOfNewest(s.mock.Journal())
		return got >= n
	}
	if done, within := s.wait(ctx, count); !done {
		s.t.Fatalf("zoomtest: %d of %d heartbeats %s; %s", got, n, within, activity(s.mock.Journal()))
	}
}

// heartbeatsOfNewest counts the heartbeats of the newest connection that passed build_connection.
// It reads the journal rather than ConnectionInfo.Heartbeats, which the mock updates a moment
// after the journal entry that wakes a waiter.
func heartbeatsOfNewest(journal []mockserver.Entry) int {
	newest, n := "", 0
	for _, e := range journal {
		switch {
		case e.Kind == mockserver.KindConnectionOpen && e.Open.Success:
			newest, n = e.Connection, 0
		case isHeartbeat(e) && e.Connection == newest:
			n++
		}
	}
	return n
}

// WaitFor waits until the journal holds an entry that match accepts, and returns the first. It
// looks at the entries already there too, so it cannot miss one that came before the call. what
// names the entry in the failure message: "no <what> within 2s; <what the client did>".
func (s *Server) WaitFor(ctx context.Context, what string, match func(mockserver.Entry) bool) mockserver.Entry {
	s.t.Helper()
	var hit mockserver.Entry
	found, within := s.wait(ctx, func() bool {
		for _, e := range s.mock.Journal() {
			if match(e) {
				hit = e
				return true
			}
		}
		return false
	})
	if !found {
		s.t.Fatalf("zoomtest: no %s %s; %s", what, within, activity(s.mock.Journal()))
	}
	return hit
}

// WaitForClose waits until connection connectionID ("c1", from WaitForConnection) has ended and
// returns its close entry: who ended it, how, and the mock's note. A test that breaks a connection
// waits for this before it waits for the client to reconnect.
func (s *Server) WaitForClose(ctx context.Context, connectionID string) mockserver.Entry {
	s.t.Helper()
	return s.WaitFor(ctx, "close of connection "+connectionID, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.KindConnectionClose && e.Connection == connectionID
	})
}

// wait checks cond now and after every change of the mock's state until it holds or ctx ends,
// bounded by the wait timeout when ctx has no deadline. It returns whether cond held and, for a
// failure message, "within 2s" or why the wait ended early.
func (s *Server) wait(ctx context.Context, cond func() bool) (bool, string) {
	return s.waitOn(ctx, nil, cond)
}

// waitContext bounds ctx by the wait timeout when it has no deadline.
func (s *Server) waitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.waitTimeout)
}

// waitOn is wait that also checks cond when extra is closed, for a change the journal does not
// show (the end of a replay).
func (s *Server) waitOn(ctx context.Context, extra <-chan struct{}, cond func() bool) (bool, string) {
	start := time.Now()
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for {
		changed := s.mock.Changed() // taken before the check, so no change is missed
		if cond() {
			return true, ""
		}
		select {
		case <-changed:
		case <-extra:
		case <-ctx.Done():
			if cond() {
				return true, ""
			}
			if ctx.Err() == context.DeadlineExceeded {
				return false, "within " + roundDuration(deadline.Sub(start)).String()
			}
			return false, fmt.Sprintf("before the context ended (%v, after %v)", ctx.Err(), roundDuration(time.Since(start)))
		}
	}
}

// roundDuration keeps two significant figures or so: 2s, 150ms, 1.2s.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// isHeartbeat reports whether e is a heartbeat the server accepted: a {"module":"heartbeat"}
// frame on a connection that passed build_connection (the mock notes anything else).
func isHeartbeat(e mockserver.Entry) bool {
	return e.Kind == mockserver.KindClientFrame && e.Frame != nil && e.Frame.Module == "heartbeat" && e.Note == ""
}
