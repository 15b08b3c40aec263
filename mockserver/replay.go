package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/replayer"
)

// ErrNoPlayback is returned by the replay endpoints when no cassette is loaded.
var ErrNoPlayback = errors.New("no cassette is loaded: POST one to /_mock/replay (body: a cassette, or ?builtin=NAME)")

// MaxCassetteBytes limits a cassette posted to /_mock/replay. It is far above
// Config.MaxBodyBytes, which is sized for events, because an hour's recording
// of a busy account runs to megabytes.
const MaxCassetteBytes = 256 << 20

// LoadPlayback makes p play on the connections opened from now on: the first of them plays the
// recording's first connection. nil stops replaying. Connections already open keep playing what
// they were playing, but a previous playback is finished (its comparison becomes final).
func (s *Server) LoadPlayback(p *replayer.Playback) {
	s.mu.Lock()
	old := s.playback
	s.playback = p
	s.mu.Unlock()
	if old != nil && old != p {
		old.Finish()
	}
	if p != nil {
		s.log.Info("replaying", "cassette", p.String(), "warnings", p.Warnings())
	}
	s.journal.notify()
}

// Playback returns the playback in force, nil when the mock is not replaying.
func (s *Server) Playback() *replayer.Playback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.playback
}

// tokenName names the token a connection used for the playback, without its value.
func tokenName(value string, tok *token, known bool) string {
	switch {
	case value == "":
		return ""
	case known:
		return tok.ref
	}
	return "a token this mock did not issue"
}

// startReplay runs the connection's Session in a goroutine that cleanup stops and waits for.
func (c *conn) startReplay() {
	ctx, cancel := context.WithCancel(context.Background())
	c.replayStop = cancel
	c.replayDone.Add(1)
	go func() {
		defer c.replayDone.Done()
		c.replay.Run(ctx, replaySink{c})
	}()
}

// replaySink plays a Session into a connection through its write queue, so replayed frames keep
// their order with build_connection, heartbeat replies and live events.
type replaySink struct{ c *conn }

func (r replaySink) SendEvent(ctx context.Context, event, content, trackingID string) bool {
	c := r.c
	if trackingID == "" {
		trackingID = newTrackingID()
	}
	if !c.enqueueWhenRoom(ctx, c.s.messageFrame(c.sub, content, event, trackingID)) {
		return false
	}
	c.s.mu.Lock()
	c.s.stats.EventsReplayed++
	c.s.mu.Unlock()
	return true
}

func (r replaySink) SendFrame(ctx context.Context, binary bool, payload []byte) bool {
	f := outFrame{data: payload, entry: FrameEntry{Binary: binary}}
	if binary {
		pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, payload)
		if err != nil {
			return false
		}
		f.prepared = pm
	} else {
		var env struct {
			Module string `json:"module"`
		}
		if json.Unmarshal(payload, &env) == nil {
			f.entry.Module = env.Module
		}
	}
	return r.c.enqueueWhenRoom(ctx, f)
}

func (r replaySink) Close(code int, reason string) {
	r.c.close(CloseSpec{Code: code, Reason: reason}, "closed as the cassette recorded")
}

// Drop queues the drop behind the frames already queued: at speed 0 they were queued a moment
// ago, and the recording's client received them before its connection dropped.
func (r replaySink) Drop() {
	c := r.c
	c.mu.Lock()
	if !c.closing {
		c.closeNote = "dropped as the cassette recorded"
	}
	c.mu.Unlock()
	if !c.enqueue(outFrame{drop: true}) {
		c.drop()
	}
}

func (r replaySink) Drain(ctx context.Context) { r.c.waitWritten(ctx) }

// waitWritten waits until the writer has written every queued frame (or the connection is gone,
// or ctx ends).
func (c *conn) waitWritten(ctx context.Context) {
	for {
		c.mu.Lock()
		if c.dead || (len(c.queue) == 0 && !c.writing) {
			c.mu.Unlock()
			return
		}
		room := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return
		}
	}
}

// roomLocked returns a channel closed when the writer next takes the queue or goes idle.
func (c *conn) roomLocked() chan struct{} {
	if c.room == nil {
		c.room = make(chan struct{})
	}
	return c.room
}

// wakeLocked closes the channel of roomLocked.
func (c *conn) wakeLocked() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// onClientClose answers a client's close frame as gorilla's default handler does, after telling
// the playback that the client closed: the client acts on the answer at once (a test's cleanup
// reads the playback's report), so the playback must know before, not when the reader returns.
func (c *conn) onClientClose(code int, text string) error {
	c.mu.Lock()
	serverFirst := c.closeSent != nil || c.dropped
	c.mu.Unlock()
	if !serverFirst {
		c.replay.Closed(cassettes.WSClose{By: cassettes.Client, Code: code, Reason: text})
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
	return nil
}

// enqueueWhenRoom is enqueue for a replay. Where a live emitter would overflow the queue of a
// client that reads slower than events come, and get it dropped, a replay at speed 0 must go only
// as fast as the client reads: so it waits (until ctx ends) while the queue is half full. A client
// that reads nothing at all is still dropped, by the write timeout.
func (c *conn) enqueueWhenRoom(ctx context.Context, f outFrame) bool {
	limit := max(1, c.s.cfg.SendQueue/2)
	for {
		c.mu.Lock()
		if c.dead || c.closing {
			c.mu.Unlock()
			return false
		}
		if len(c.queue) < limit {
			c.mu.Unlock()
			return c.enqueue(f)
		}
		room := c.roomLocked()
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return false
		}
	}
}

// closeEntryToCassette is how a connection ended, in the cassette's terms, for the playback.
func closeEntryToCassette(ce *CloseEntry) cassettes.WSClose {
	return cassettes.WSClose{By: cassettes.Side(ce.By), Code: ce.Code, Reason: ce.Reason, Abrupt: ce.Abrupt}
}

// addReplayRoutes wires the replay endpoints of the admin API.
func (s *Server) addReplayRoutes(admin func(pattern string, h func(w http.ResponseWriter, r *http.Request) (any, error))) {
	admin("GET /_mock/replay", func(http.ResponseWriter, *http.Request) (any, error) {
		p := s.Playback()
		if p == nil {
			return nil, ErrNoPlayback
		}
		return p.Status(), nil
	})
	admin("POST /_mock/replay", func(w http.ResponseWriter, r *http.Request) (any, error) {
		p, err := s.loadFromRequest(w, r)
		if err != nil {
			return nil, err
		}
		s.LoadPlayback(p)
		return p.Status(), nil
	})
	admin("DELETE /_mock/replay", func(http.ResponseWriter, *http.Request) (any, error) {
		p := s.Playback()
		if p == nil {
			return nil, ErrNoPlayback
		}
		s.LoadPlayback(nil)
		return p.Status(), nil
	})
	admin("POST /_mock/replay/step", func(_ http.ResponseWriter, r *http.Request) (any, error) {
		p := s.Playback()
		if p == nil {
			return nil, ErrNoPlayback
		}
		timeout := 5 * time.Second
		if v := r.URL.Query().Get("timeout"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: timeout %q: want a positive Go duration such as 2s", errBadAdminRequest, v)
			}
			timeout = d
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		return p.Step(ctx)
	})
}

// loadFromRequest makes a playback of POST /_mock/replay: the cassette in the body (compressed or
// plain JSON lines) or ?builtin=NAME, with ?speed=, ?strict= and ?step=true.
func (s *Server) loadFromRequest(w http.ResponseWriter, r *http.Request) (*replayer.Playback, error) {
	q := r.URL.Query()
	opts := []replayer.Option{replayer.WithLogger(s.log)}
	if v := q.Get("speed"); v != "" {
		speed, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: speed %q: want a number: 1 real time, 10 ten times faster, 0 as fast as possible", errBadAdminRequest, v)
		}
		opts = append(opts, replayer.WithSpeed(speed))
	}
	if v := q.Get("strict"); v != "" {
		opts = append(opts, replayer.WithStrictness(replayer.Strictness(v)))
	}
	if v := q.Get("step"); v != "" {
		step, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%w: step %q: want true or false", errBadAdminRequest, v)
		}
		if step {
			opts = append(opts, replayer.WithStep())
		}
	}
	var p *replayer.Playback
	var err error
	if name := q.Get("builtin"); name != "" {
		p, err = replayer.Open(replayer.BuiltinPrefix+name, opts...)
	} else {
		body, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCassetteBytes))
		if rerr != nil {
			return nil, fmt.Errorf("%w: failed to read the cassette: %w", errBadAdminRequest, rerr)
		}
		if len(body) == 0 {
			return nil, fmt.Errorf("%w: the body is empty: send a cassette (compressed or JSON lines), or use ?builtin=NAME (%v)",
				errBadAdminRequest, cassettes.BuiltinNames())
		}
		p, err = replayer.Load(bytes.NewReader(body), append([]replayer.Option{replayer.WithName("the posted cassette")}, opts...)...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadAdminRequest, err)
	}
	return p, nil
}
