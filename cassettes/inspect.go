package cassettes

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary describes a cassette at a glance: what `zoommock cassette inspect`
// prints. Its String method lays it out for a terminal.
type Summary struct {
	// Header is the cassette's header.
	Header Header
	// Records counts the records read.
	Records int
	// Duration is the offset of the last record.
	Duration time.Duration
	// HTTPExchanges counts every HTTP exchange, token requests included.
	HTTPExchanges int
	// TokenRequests counts the exchanges with a path ending in /oauth/token;
	// TokenFailures counts those not answered with 200.
	TokenRequests, TokenFailures int
	// Connections lists the WebSocket connections in the order they opened.
	Connections []ConnSummary
	// Events counts the events servers delivered (module "message" frames),
	// by the event name inside their content, most frequent first.
	Events []EventCount
	// Heartbeats describes the client's heartbeats.
	Heartbeats HeartbeatStats
}

// ConnSummary describes one WebSocket connection.
type ConnSummary struct {
	// ID, Path and Status come from the ws_open record.
	ID, Path string
	Status   int
	// Opened is the offset of the ws_open record.
	Opened time.Duration
	// ClientFrames and ServerFrames count the frames each side sent.
	ClientFrames, ServerFrames int
	// Events counts the events delivered on this connection.
	Events int
	// Close is how the connection ended, nil if it was still open when the
	// recording stopped; ClosedAt is its offset.
	Close    *WSClose
	ClosedAt time.Duration
}

// EventCount is how often one event type was delivered.
type EventCount struct {
	// Event is the event name, such as "meeting.started".
	Event string
	// Count is how many were delivered.
	Count int
}

// HeartbeatStats describes the {"module":"heartbeat"} frames clients sent and
// how regularly: the cadence a replay must keep up with.
type HeartbeatStats struct {
	// Count is the number of client heartbeats; Answers the number of server
	// heartbeat frames.
	Count, Answers int
	// Mean, Min and Max are the intervals between consecutive heartbeats on
	// the same connection (zero with fewer than two).
	Mean, Min, Max time.Duration
}

// envelope is the part of a Zoom frame that Inspect needs.
type envelope struct {
	Module  string          `json:"module"`
	Content json.RawMessage `json:"content"`
}

// parseEnvelope decodes a text frame as a Zoom envelope; ok is false when it
// is not one.
func parseEnvelope(payload string) (env envelope, ok bool) {
	if !looksLikeJSON(payload) {
		return env, false
	}
	return env, json.Unmarshal([]byte(payload), &env) == nil
}

// eventName returns the "event" of a message envelope's content, which Zoom
// sends as a JSON document inside a string.
func (env envelope) eventName() string {
	var content string
	var inner struct {
		Event string `json:"event"`
	}
	if json.Unmarshal(env.Content, &content) != nil || json.Unmarshal([]byte(content), &inner) != nil || inner.Event == "" {
		return "(no event name)"
	}
	return inner.Event
}

// Inspect reads a whole cassette and summarizes it. When reading fails (a
// truncated file, a bad record) it returns the summary of what it read with
// the error.
func Inspect(r io.Reader) (Summary, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Summary{}, err
	}
	defer rd.Close()
	s := Summary{Header: rd.Header()}
	conns := map[string]*ConnSummary{}
	lastBeat := map[string]time.Duration{}
	events := map[string]int{}
	var intervals []time.Duration
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.finish(conns, events, intervals)
			return s, err
		}
		s.Records++
		s.Duration = rec.Offset
		switch {
		case rec.HTTP != nil:
			s.HTTPExchanges++
			if strings.HasSuffix(rec.HTTP.Path, "/oauth/token") {
				s.TokenRequests++
				if rec.HTTP.Status != 200 {
					s.TokenFailures++
				}
			}
		case rec.Open != nil:
			o := rec.Open
			if conns[o.Conn] == nil {
				conns[o.Conn] = &ConnSummary{ID: o.Conn, Path: o.Path, Status: o.Status, Opened: rec.Offset}
				s.Connections = append(s.Connections, ConnSummary{ID: o.Conn}) // order only; filled in finish
			}
		case rec.Close != nil:
			if c := conns[rec.Close.Conn]; c != nil && c.Close == nil {
				c.Close, c.ClosedAt = rec.Close, rec.Offset
			}
		case rec.Frame != nil:
			f := rec.Frame
			c := conns[f.Conn]
			if c == nil {
				c = &ConnSummary{ID: f.Conn}
				conns[f.Conn] = c
				s.Connections = append(s.Connections, ConnSummary{ID: f.Conn})
			}
			if f.From == Client {
				c.ClientFrames++
			} else {
				c.ServerFrames++
			}
			env, ok := parseEnvelope(f.Payload)
			switch {
			case !ok || f.Opcode != Text:
			case env.Module == "heartbeat" && f.From == Client:
				s.Heartbeats.Count++
				if last, seen := lastBeat[f.Conn]; seen {
					intervals = append(intervals, rec.Offset-last)
				}
				lastBeat[f.Conn] = rec.Offset
			case env.Module == "heartbeat":
				s.Heartbeats.Answers++
			case env.Module == "message" && f.From == Server:
				events[env.eventName()]++
				c.Events++
			}
		}
	}
	s.finish(conns, events, intervals)
	return s, nil
}

func (s *Summary) finish(conns map[string]*ConnSummary, events map[string]int, intervals []time.Duration) {
	for i, c := range s.Connections {
		s.Connections[i] = *conns[c.ID]
	}
	for name, n := range events {
		s.Events = append(s.Events, EventCount{name, n})
	}
	slices.SortFunc(s.Events, func(a, b EventCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Event, b.Event))
	})
	if len(intervals) > 0 {
		hb := &s.Heartbeats
		hb.Min, hb.Max = slices.Min(intervals), slices.Max(intervals)
		var sum time.Duration
		for _, d := range intervals {
			sum += d
		}
		hb.Mean = (sum / time.Duration(len(intervals))).Round(time.Millisecond)
	}
}

// String lays the summary out in aligned lines.
func (s Summary) String() string {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-13s%s\n", label, fmt.Sprintf(format, args...))
	}
	h := s.Header
	about := h.Format + " " + h.Version
	if !h.Created.IsZero() {
		about += ", created " + h.Created.Format(time.RFC3339)
	}
	if h.Recorder != "" {
		about += " by " + h.Recorder
	}
	line("format", "%s", about)
	line("records", "%d over %v", s.Records, s.Duration)
	line("http", "%s, %s (%d failed)", plural(s.HTTPExchanges, "exchange"), plural(s.TokenRequests, "token request"), s.TokenFailures)
	line("connections", "%d", len(s.Connections))
	width := 0
	for _, c := range s.Connections {
		width = max(width, len(c.ID))
	}
	for _, c := range s.Connections {
		end := "still open at the end"
		if c.Close != nil {
			end = fmt.Sprintf("closed at %v by the %s", c.ClosedAt, c.Close.By)
			if c.Close.Abrupt {
				end += " without a close frame"
			} else {
				end += fmt.Sprintf(" (%d %s)", c.Close.Code, strconv.Quote(c.Close.Reason))
			}
		}
		fmt.Fprintf(&b, "  %-*s  %s status %d, opened at %v, %s; %d client and %d server frames, %s\n",
			width, c.ID, c.Path, c.Status, c.Opened, end, c.ClientFrames, c.ServerFrames, plural(c.Events, "event"))
	}
	total := 0
	width = 0
	for _, e := range s.Events {
		total += e.Count
		width = max(width, len(e.Event))
	}
	line("events", "%d", total)
	for _, e := range s.Events {
		fmt.Fprintf(&b, "  %-*s  %d\n", width, e.Event, e.Count)
	}
	hb := s.Heartbeats
	cadence := ""
	if hb.Mean > 0 {
		cadence = fmt.Sprintf("; every %v (min %v, max %v)", hb.Mean, hb.Min, hb.Max)
	}
	line("heartbeats", "%d from the client, %d answered%s", hb.Count, hb.Answers, cadence)
	return b.String()
}

// plural formats "1 event" and "2 events".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
