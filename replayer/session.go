package replayer

import (
	"context"
	"fmt"
	"time"

	"github.com/zoommock/zoommock/cassettes"
)

// Sink is what a Session plays into: the mock's connection. Every method returns at once or when
// ctx ends, and reports false when the connection no longer takes frames, which ends the Session.
type Sink interface {
	// SendEvent sends an event frame with content (the inner event, verbatim) and trackingID,
	// signed by the mock with its own secret token and a fresh timestamp. event is the inner
	// event's name, already read from content, for the mock's journal.
	SendEvent(ctx context.Context, event, content, trackingID string) bool
	// SendFrame sends any other frame verbatim.
	SendFrame(ctx context.Context, binary bool, payload []byte) bool
	// Close sends a close frame and ends the connection.
	Close(code int, reason string)
	// Drop ends the TCP connection without a close frame, once the frames sent before it are
	// written.
	Drop()
	// Drain waits until every frame sent so far has been written to the connection, or the
	// connection is gone, or ctx ends. A Session counts as played only then, so that a test that
	// waits for the end of the replay and then stops its client loses no frame.
	Drain(ctx context.Context)
}

// Session is one live connection of a playback: it plays the recorded connection of the same rank
// (Run) and records what the client did there (Answered, ClientFrame, Closed) for the comparison.
// The mock calls its methods from the connection's goroutines; they are safe for concurrent use.
type Session struct {
	p      *Playback
	gen    int
	n      int     // rank, from 0
	script *script // nil beyond the recording's connections
	info   ConnInfo
	token  string // the live token in the recording's terms (see tokenLabelLocked)

	// Guarded by p.mu.
	answered bool
	success  bool
	content  string // build_connection content of a refusal
	frames   []string
	beats    []time.Time
	closed   *cassettes.WSClose
	closedAt time.Time
	played   int
	over     bool
}

// Recorded is the id of the recorded connection this Session plays ("c1"), or "" for a connection
// beyond the recording's.
func (s *Session) Recorded() string {
	if s.script == nil {
		return ""
	}
	return s.script.id
}

// Refusal returns the recorded build_connection failure to replay on this connection, if any: the
// mock applies it when the connection would otherwise succeed. A failure is replayed only when the
// recording's client sent a token: it was then the server's decision (see the package doc).
func (s *Session) Refusal() (Refusal, bool) {
	if s.script == nil || s.script.refusal == nil {
		return Refusal{}, false
	}
	return *s.script.refusal, true
}

// Answered records the build_connection answer the mock gave: success, or the failure content.
// A refused connection plays nothing.
func (s *Session) Answered(success bool, content string) {
	s.observe(func() {
		s.answered, s.success = true, success
		if !success {
			s.content = content
			s.p.scriptOverLocked(s)
		}
	})
}

// ClientFrame records a frame the client sent.
func (s *Session) ClientFrame(binary bool, payload []byte) {
	now := s.p.now()
	s.observe(func() {
		if !binary && isHeartbeat(string(payload)) {
			s.beats = append(s.beats, now)
			return
		}
		s.frames = append(s.frames, frameText(binary, string(payload)))
	})
}

// Closed records how the connection ended (c.Conn is ignored). Its differences from the recording
// are logged now, since they can no longer change.
func (s *Session) Closed(c cassettes.WSClose) {
	now := s.p.now()
	var fresh []Difference
	s.observe(func() {
		if s.closed != nil {
			return
		}
		s.closed, s.closedAt = &c, now
		s.p.scriptOverLocked(s)
		fresh = s.p.unloggedLocked(s.p.compareLocked(s))
	})
	s.p.logDifferences(fresh)
}

// observe runs f under the playback's lock unless the playback was rewound or finished since the
// Session began.
func (s *Session) observe(f func()) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if s.gen == s.p.gen && s.p.finished.IsZero() {
		f()
	}
}

// Run plays the recorded connection into sink: each server frame at its recorded offset from
// ConnInfo.Opened scaled by the speed (or at each Step), then the recorded close or drop. It
// returns when everything was played, when the sink refuses a frame, or when ctx ends; the mock
// runs it in a goroutine owned by the connection and cancels ctx when the connection ends.
func (s *Session) Run(ctx context.Context, sink Sink) {
	defer s.observe(func() { s.p.scriptOverLocked(s) })
	if s.script == nil {
		return
	}
	if _, refused := s.Refusal(); refused {
		return
	}
	p := s.p
	for i, a := range s.script.actions {
		var reply chan StepResult
		if p.set.step {
			select {
			case req := <-p.stepCh:
				reply = req.reply
			case <-ctx.Done():
				return
			}
		} else if !sleepUntil(ctx, s.info.Opened.Add(p.scaled(a.at))) {
			return
		}
		ok := s.play(ctx, sink, a)
		s.observe(func() { s.played = i + 1 })
		if reply != nil {
			reply <- StepResult{Connection: s.info.ID, Recorded: s.script.id, Action: a.describe(),
				At: a.at.String(), Remaining: len(s.script.actions) - i - 1, Sent: ok}
		}
		if !ok {
			return
		}
		if a.close != nil {
			break
		}
	}
	sink.Drain(ctx)
}

// play performs one action and reports whether the connection is still there.
func (s *Session) play(ctx context.Context, sink Sink, a action) bool {
	switch {
	case a.close != nil && (a.close.Abrupt || !sendable(a.close.Code)):
		sink.Drop()
	case a.close != nil:
		sink.Close(a.close.Code, a.close.Reason)
	case a.event != "":
		return sink.SendEvent(ctx, a.event, a.content, a.trackingID)
	default:
		return sink.SendFrame(ctx, a.binary, a.frame)
	}
	return true
}

// sleepUntil waits until t or until ctx ends, and reports whether it was t.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// StepResult says what a Step released.
type StepResult struct {
	// Connection is the live connection it went to; Recorded the recorded one it came from.
	Connection string `json:"connection"`
	Recorded   string `json:"recorded"`
	// Action describes it: "event meeting.started (EventService_...)", "frame {...}", "close 1008
	// invalid_token", "drop (...)".
	Action string `json:"action"`
	// At is its recorded offset from the connection's open.
	At string `json:"at"`
	// Remaining counts what is left to play on that connection.
	Remaining int `json:"remaining"`
	// Sent is false when the connection no longer took it.
	Sent bool `json:"sent"`
}

type stepRequest struct{ reply chan StepResult }

// Step releases the next recorded frame (or close) of a playback made WithStep and returns what it
// was. It waits until a replayed connection is ready for one or ctx ends (ErrNothingToStep: the
// client has not connected yet, or everything was played), so a test may call it right after
// starting its client.
func (p *Playback) Step(ctx context.Context) (StepResult, error) {
	if !p.set.step {
		return StepResult{}, fmt.Errorf("%w: load the cassette with step mode to release frames one by one", ErrNotStepping)
	}
	req := stepRequest{reply: make(chan StepResult, 1)}
	select {
	case p.stepCh <- req:
	case <-ctx.Done():
		return StepResult{}, fmt.Errorf("%w (the client has not connected, or every recorded frame was played): %w", ErrNothingToStep, context.Cause(ctx))
	}
	return <-req.reply, nil // the Session that took the request always answers
}
