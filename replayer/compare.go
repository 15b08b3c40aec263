package replayer

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoommock/zoommock/cassettes"
)

// Difference is one way the live client (or, for Verify, the server) differs from the recording.
type Difference struct {
	// Connection is the recorded connection id ("c1"), or "" for the session as a whole.
	Connection string `json:"connection,omitempty"`
	// Live is the live connection's id on the mock ("c3"), when there is one.
	Live string `json:"live,omitempty"`
	// What names what differs: "connections", "build_connection", "token", "client frames",
	// "heartbeats", "close"; for Verify also "token exchange N", "upgrade", "answers".
	What string `json:"what"`
	// Diff is the go-cmp report, -recorded +live.
	Diff string `json:"diff"`
}

// String is the difference as a person reads it: a title line, then the diff.
func (d Difference) String() string {
	where := "the session"
	switch {
	case d.Connection != "" && d.Live != "" && d.Live != d.Connection:
		where = fmt.Sprintf("connection %s (live %s)", d.Connection, d.Live)
	case d.Connection != "":
		where = "connection " + d.Connection
	}
	return fmt.Sprintf("%s: %s differ (-recorded +live):\n%s", where, d.What, strings.TrimRight(d.Diff, "\n"))
}

// describeDifferences lays differences out one after the other; "" when there are none.
func describeDifferences(diffs []Difference) string {
	parts := make([]string, len(diffs))
	for i, d := range diffs {
		parts[i] = d.String()
	}
	return strings.Join(parts, "\n")
}

// diffOf returns the Difference between the recorded and live values, or false when they match.
// go-cmp randomly writes some spaces as U+00A0 to discourage exact comparison of its output;
// reports here are read by people and compared by tests, so they get plain spaces.
func diffOf(conn, live, what string, recorded, got any, opts ...cmp.Option) (Difference, bool) {
	d := cmp.Diff(recorded, got, opts...)
	if d == "" {
		return Difference{}, false
	}
	return Difference{Connection: conn, Live: live, What: what, Diff: strings.ReplaceAll(d, "\u00a0", " ")}, true
}

// The views compared: each is what one aspect of a connection looks like, recorded and live, with
// what may legitimately differ (timing, token values) already taken out.
type (
	connections struct{ Count int }
	// buildConnection is the outcome of the handshake; Failure is the content of a refusal.
	buildConnection struct {
		Success bool
		Failure string
	}
	// token names the token a connection used, as the recording's placeholder.
	token struct{ Token string }
	// heartbeats is the client's cadence: LongestGap is the longest time without a heartbeat
	// (from the open, between heartbeats, and to the close); Count is compared at speed 1 only.
	heartbeats struct {
		Count      int
		LongestGap time.Duration
	}
	// end is how a connection ended; the reason of a client's close is not compared.
	end struct {
		By     string
		Code   int
		Reason string
		Abrupt bool
	}
)

func endOf(c *cassettes.WSClose) end {
	if c == nil {
		return end{By: "nobody: the connection is still open"}
	}
	e := end{By: string(c.By), Code: c.Code, Reason: c.Reason, Abrupt: c.Abrupt}
	if c.By == cassettes.Client || e.Abrupt {
		e.Reason = ""
	}
	return e
}

// compareLocked returns the differences of one live connection from its recorded counterpart, as
// far as they are known: a connection still open is compared on what it did so far, unless the
// playback is finished.
func (p *Playback) compareLocked(s *Session) []Difference {
	sc := s.script
	if sc == nil || p.set.strict == StrictOff {
		return nil
	}
	final := s.closed != nil || !p.finished.IsZero()
	all := p.set.strict == StrictAll
	var out []Difference
	add := func(what string, recorded, live any) {
		if d, ok := diffOf(sc.id, s.info.ID, what, recorded, live); ok {
			out = append(out, d)
		}
	}
	if s.answered && sc.answered {
		add("build_connection", buildConnection{sc.failure == "", sc.failure}, buildConnection{s.success, s.content})
	}
	if all {
		add("token", token{sc.token}, token{s.token})
	}
	want := sc.frames
	if !final && len(want) > len(s.frames) {
		want = want[:len(s.frames)] // the rest may still come
	}
	add("client frames", want, s.frames)
	if all && s.success && sc.failure == "" && len(sc.beats) > 0 {
		recorded, live := p.heartbeatViewsLocked(s)
		add("heartbeats", recorded, live)
	}
	if all && final && sc.end != nil {
		add("close", endOf(sc.end), endOf(s.closed))
	}
	return out
}

// heartbeatViewsLocked returns the recorded and live heartbeat views of s. The live view takes the
// recorded values wherever it is within the tolerance, so that only a real difference shows.
func (p *Playback) heartbeatViewsLocked(s *Session) (heartbeats, heartbeats) {
	sc := s.script
	recorded := heartbeats{Count: len(sc.beats), LongestGap: longestGap(0, sc.beats, sc.endAt)}
	live := recorded
	var offsets []time.Duration
	for _, b := range s.beats {
		offsets = append(offsets, b.Sub(s.info.Opened))
	}
	until := p.now()
	switch {
	case s.closed != nil:
		until = s.closedAt
	case !p.finished.IsZero():
		until = p.finished
	}
	tol := p.set.tolerance
	if gap := longestGap(0, offsets, until.Sub(s.info.Opened)); float64(gap) > float64(recorded.LongestGap)*(1+tol) {
		live.LongestGap = gap.Round(time.Millisecond)
	}
	countable := p.set.speed == 1 && !p.set.step && s.closed != nil && sc.end != nil
	slack := max(1, int(math.Ceil(tol*float64(recorded.Count))))
	if countable && (len(s.beats) < recorded.Count-slack || len(s.beats) > recorded.Count+slack) {
		live.Count = len(s.beats)
	}
	return recorded, live
}

// longestGap is the longest time without a heartbeat between start and end, given the times of
// the heartbeats.
func longestGap(start time.Duration, beats []time.Duration, end time.Duration) time.Duration {
	longest, prev := time.Duration(0), start
	for _, b := range beats {
		longest, prev = max(longest, b-prev), b
	}
	return max(longest, end-prev)
}

// differencesLocked compares every live connection with its recorded one, and their numbers.
func (p *Playback) differencesLocked() []Difference {
	if p.set.strict == StrictOff {
		return nil
	}
	var out []Difference
	recorded, live := len(p.scripts), len(p.live)
	if live > recorded || (!p.finished.IsZero() && live < recorded) {
		d, _ := diffOf("", "", "connections", connections{recorded}, connections{live})
		out = append(out, d)
	}
	for _, s := range p.live {
		out = append(out, p.compareLocked(s)...)
	}
	return out
}

// Status is the state of a playback and its comparison so far: what GET /_mock/replay answers.
type Status struct {
	// Cassette is the playback's name.
	Cassette string `json:"cassette"`
	// State is "waiting" (no connection yet), "playing", "played" (every recorded connection
	// played to its end) or "finished" (Finish was called: the comparison is final).
	State      string     `json:"state"`
	Speed      float64    `json:"speed"`
	Step       bool       `json:"step,omitempty"`
	Strictness Strictness `json:"strict"`
	// RecordedConnections is how many connections the recording has; Connections lists each
	// recorded and live connection.
	RecordedConnections int          `json:"recordedConnections"`
	Connections         []ConnStatus `json:"connections"`
	// Faithful is true when there is no difference (so far).
	Faithful    bool         `json:"faithful"`
	Differences []Difference `json:"differences"`
	Warnings    []string     `json:"warnings,omitempty"`
}

// ConnStatus is the progress of one connection.
type ConnStatus struct {
	// Recorded is the recorded connection's id, "" for a live connection beyond the recording.
	Recorded string `json:"recorded,omitempty"`
	// Live is the mock's id of the live connection playing it, "" until the client opens it.
	Live string `json:"live,omitempty"`
	// State is "waiting" (not opened yet), "refused", "playing", "played" or "closed".
	State string `json:"state"`
	// Played counts the recorded frames (and close) played, of Scripted.
	Played   int `json:"played"`
	Scripted int `json:"scripted"`
}

// Status reports the playback's progress and the differences known so far. Before Finish, what
// the client may still do (a frame it has not sent yet, a connection it has not opened yet) is not
// counted as missing.
func (p *Playback) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Cassette: p.set.name, Speed: p.set.speed, Step: p.set.step, Strictness: p.set.strict,
		RecordedConnections: len(p.scripts), Warnings: p.Warnings(), Differences: p.differencesLocked()}
	st.Faithful = len(st.Differences) == 0
	if st.Differences == nil {
		st.Differences = []Difference{} // [] in JSON, for clients that iterate without a null check
	}
	switch {
	case !p.finished.IsZero():
		st.State = "finished"
	case p.over == len(p.scripts):
		st.State = "played"
	case len(p.live) == 0:
		st.State = "waiting"
	default:
		st.State = "playing"
	}
	for i := range max(len(p.scripts), len(p.live)) {
		var cs ConnStatus
		if i < len(p.scripts) {
			cs.Recorded, cs.Scripted, cs.State = p.scripts[i].id, len(p.scripts[i].actions), "waiting"
		}
		if i < len(p.live) {
			s := p.live[i]
			cs.Live, cs.Played = s.info.ID, s.played
			switch {
			case s.answered && !s.success:
				cs.State = "refused"
			case s.closed != nil:
				cs.State = "closed"
			case s.over:
				cs.State = "played"
			default:
				cs.State = "playing"
			}
		}
		st.Connections = append(st.Connections, cs)
	}
	return st
}

// Diff returns every difference known so far as text, one titled go-cmp report after the other,
// or "" when the client did what the recording's client did. After Finish it is final.
func (p *Playback) Diff() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return describeDifferences(p.differencesLocked())
}
