package zoomtest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/zoommock/zoommock/mockserver"
)

// Mistakes lists, oldest first, what the client did that Zoom would refuse, ignore or punish, one
// sentence each naming the connection: frames that are not heartbeats, a token in an
// Authorization header, a connection without a token or with one the server never issued, a token
// used again after Zoom refused it, heartbeats that stopped until the server closed the
// connection, frames over the read limit, a TCP connection ended without a close frame.
//
// Refusals the test caused (ExpireTokens, InvalidateTokens, the RejectTokens fault) are not
// mistakes the first time: a client cannot know; it must fetch a new token rather than retry.
func (s *Server) Mistakes() []string {
	return mistakes(s.mock.Config(), s.mock.Journal())
}

// CheckClient fails the test (t.Errorf, the test goes on) with every one of Mistakes, if any.
// Call it at the end of a test, or register it with t.Cleanup after starting the client and
// before anything that stops it, so it runs once the client has stopped.
func (s *Server) CheckClient() {
	s.t.Helper()
	if m := s.Mistakes(); len(m) > 0 {
		s.t.Errorf("zoomtest: the client did %d thing(s) Zoom would not accept:\n\t%s", len(m), strings.Join(m, "\n\t"))
	}
}

func mistakes(cfg mockserver.Config, journal []mockserver.Entry) []string {
	var out []string
	refusedWith := map[string]string{} // token ref -> the connection Zoom refused it on
	for _, e := range journal {
		switch e.Kind {
		case mockserver.KindClientFrame:
			if e.Note != "" {
				out = append(out, fmt.Sprintf("connection %s sent %s: %s", e.Connection, clip(e.Frame.Payload, 60), e.Note))
			}
		case mockserver.KindConnectionOpen:
			o := e.Open
			switch {
			case o.Success:
				if e.Note != "" {
					out = append(out, fmt.Sprintf("connection %s: %s", e.Connection, e.Note))
				}
			case o.TokenRef == "" || o.Content == cfg.UnknownSubscriptionText:
				out = append(out, fmt.Sprintf("connection %s was refused (%s): %s", e.Connection, o.Content, e.Note))
			case refusedWith[o.TokenRef] != "":
				out = append(out, fmt.Sprintf("connection %s used token %s again after Zoom refused it on %s: "+
					"after a build_connection failure, fetch a new token", e.Connection, o.TokenRef, refusedWith[o.TokenRef]))
			default:
				refusedWith[o.TokenRef] = e.Connection
			}
		case mockserver.KindConnectionClose:
			c := e.Close
			heartbeat := c.Code == cfg.HeartbeatClose.Code && c.Reason == cfg.HeartbeatClose.Reason && e.Note != ""
			if (c.By == "client" && c.Abrupt) || (c.By == "server" && (heartbeat || c.Code == 1009)) {
				out = append(out, fmt.Sprintf("connection %s %s", e.Connection, describeClose(e)))
			}
		}
	}
	return out
}

// activity says in a sentence what the client did last, so that a waiter that gives up explains
// why instead of just timing out.
func activity(journal []mockserver.Entry) string {
	var tok, open, closed, ignored *mockserver.Entry
	beats, lastBeat := 0, time.Time{}
	for i := range journal {
		e := &journal[i]
		switch {
		case e.Kind == mockserver.KindTokenRequest:
			tok = e
		case e.Kind == mockserver.KindConnectionOpen:
			open, closed, ignored, beats = e, nil, nil, 0
		case open == nil || e.Connection != open.Connection:
		case e.Kind == mockserver.KindConnectionClose:
			closed = e
		case isHeartbeat(*e):
			beats, lastBeat = beats+1, e.Time
		case e.Kind == mockserver.KindClientFrame && e.Note != "":
			ignored = e
		}
	}
	var say string
	switch {
	case tok == nil && open == nil:
		return "the client never requested a token nor opened the WebSocket"
	case tok != nil && tok.Token.Status != 200 && (open == nil || tok.Seq > open.Seq):
		say = fmt.Sprintf("the client's last token request failed: %s (%s)", tok.Token.Error, tok.Note)
	case open == nil:
		say = fmt.Sprintf("the client got token %s but never opened the WebSocket", tok.Token.TokenRef)
	case !open.Open.Success:
		say = fmt.Sprintf("the client's last attempt (%s) failed: %s (%s)", open.Connection, open.Open.Content, open.Note)
	case closed != nil:
		say = fmt.Sprintf("connection %s %s, and the client did not reconnect", open.Connection, describeClose(*closed))
	case beats == 0:
		say = fmt.Sprintf("connection %s is open, but the client sent no heartbeat on it", open.Connection)
	default:
		say = fmt.Sprintf("connection %s is open; the client sent %d heartbeat(s) on it, the last %v ago",
			open.Connection, beats, roundDuration(time.Since(lastBeat)))
	}
	if ignored != nil {
		say += fmt.Sprintf("; the server ignored its frame %s: %s", clip(ignored.Frame.Payload, 60), ignored.Note)
	}
	return say
}

// describeClose tells how a connection ended: "was closed by the server (1000 heartbeat timeout):
// no heartbeat for 120ms: connection closed".
func describeClose(e mockserver.Entry) string {
	c := e.Close
	var s string
	switch {
	case c.Abrupt && c.By == "client":
		s = "ended without a close frame from the client"
	case c.Abrupt:
		s = "was dropped by the server without a close frame"
	default:
		s = fmt.Sprintf("was closed by the %s (%d %s)", c.By, c.Code, c.Reason)
	}
	if e.Note != "" && !strings.Contains(s, e.Note) {
		s += ": " + e.Note
	}
	return s
}

// describeJournal renders the last max entries, one a line, for a failed test's log.
func describeJournal(journal []mockserver.Entry, max int) string {
	if len(journal) == 0 {
		return "\t(nothing: no token request, no connection)"
	}
	var b strings.Builder
	start := journal[0].Time
	if len(journal) > max {
		fmt.Fprintf(&b, "\t(%d earlier entries left out)\n", len(journal)-max)
		journal = journal[len(journal)-max:]
	}
	for _, e := range journal {
		var what string
		switch {
		case e.Token != nil:
			what = fmt.Sprintf("%d %s %s", e.Token.Status, e.Token.GrantType, e.Token.TokenRef+e.Token.Error)
		case e.Open != nil:
			what = fmt.Sprintf("success=%t %q token=%s", e.Open.Success, e.Open.Content, e.Open.TokenRef)
		case e.Frame != nil:
			what = clip(e.Frame.Payload, 100)
		case e.Close != nil:
			what = describeClose(mockserver.Entry{Close: e.Close})
		case e.Event != "":
			what = e.Event
		}
		if e.Note != "" {
			what += " -- " + e.Note
		}
		fmt.Fprintf(&b, "\t%+8.3fs %-3s %-16s %s\n", e.Time.Sub(start).Seconds(), e.Connection, e.Kind, what)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// clip quotes s, shortened to about n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return strconv.Quote(s[:n]) + "..."
	}
	return strconv.Quote(s)
}

// IgnoreVolatile is a go-cmp option for comparing journals: it ignores what changes from run to
// run (sequence numbers, times, client addresses, and the timestamp, signature and tracking id
// inside message frames) and keeps what a client did and was told.
func IgnoreVolatile() cmp.Option {
	return cmp.Options{
		cmpopts.IgnoreFields(mockserver.Entry{}, "Seq", "Time"),
		cmpopts.IgnoreFields(mockserver.OpenEntry{}, "RemoteAddr"),
		cmp.FilterPath(inMessageFrame("Payload", "TrackingID"), cmp.Ignore()),
	}
}

// inMessageFrame matches the named fields of a FrameEntry of module "message" on both sides.
func inMessageFrame(fields ...string) func(cmp.Path) bool {
	return func(p cmp.Path) bool {
		sf, ok := p.Last().(cmp.StructField)
		if !ok || !slices.Contains(fields, sf.Name()) {
			return false
		}
		x, y := p.Index(-2).Values()
		if !x.IsValid() || !y.IsValid() || !x.CanInterface() {
			return false
		}
		fx, okx := x.Interface().(mockserver.FrameEntry)
		fy, oky := y.Interface().(mockserver.FrameEntry)
		return okx && oky && fx.Module == "message" && fy.Module == "message"
	}
}
