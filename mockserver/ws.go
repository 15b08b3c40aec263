package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/internal/wire"
	"github.com/zoommock/zoommock/replayer"
)

// conn is one accepted WebSocket. Its handler goroutine reads; a writer goroutine exists only while
// frames wait to be sent, so an idle connection costs one goroutine. Every write goes through the
// queue, so one slow client never blocks an emitter or another client.
type conn struct {
	s          *Server
	id         string
	ws         *websocket.Conn
	out        *batchConn // ws's connection: the writer sends what waits in the queue at once
	remote     string
	opened     time.Time
	sub        *subscription // nil until build_connection succeeded
	tokenValue string
	tokenRef   string
	done       chan struct{} // closed when the handler has cleaned up

	lastBeat   atomic.Int64 // unix nanoseconds of the last frame that resets the idle timer
	beats      atomic.Int64
	framesSent atomic.Int64

	mu          sync.Mutex
	queue       []outFrame
	writing     bool
	writer      sync.WaitGroup
	closing     bool       // a close frame is queued: no more data frames
	closeSent   *CloseSpec // what the server closed with
	closeNote   string
	dropped     bool // the server dropped the TCP connection on purpose
	dead        bool // the handler is cleaning up: nothing more is written
	hbTimer     *time.Timer
	expiryTimer *time.Timer
	graceTimer  *time.Timer
	timers      sync.WaitGroup // timer callbacks running; cleanup waits for them
	room        chan struct{}  // closed when the writer takes the queue (see enqueueWhenRoom)

	// replay plays the recording's connection of the same rank (nil when not replaying); it is set
	// by authenticate, before the reader starts. Its goroutine is stopped and waited for by cleanup.
	replay     *replayer.Session
	replayStop context.CancelFunc
	replayDone sync.WaitGroup
}

// owned wraps a timer callback so that cleanup waits for it: it does nothing once the connection
// is cleaned up, and cleanup does not return while it runs.
func (c *conn) owned(f func()) func() {
	return func() {
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			return
		}
		c.timers.Add(1)
		c.mu.Unlock()
		defer c.timers.Done()
		f()
	}
}

// outFrame is one frame waiting for the writer.
type outFrame struct {
	data     []byte
	prepared *websocket.PreparedMessage
	close    *CloseSpec
	drop     bool       // drop the TCP connection once the frames before it are written (a replay)
	entry    FrameEntry // what the journal records once it is written
}

// errDropped ends the writer after a queued drop.
var errDropped = errors.New("dropped as queued")

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "this is Zoom's event WebSocket endpoint: connect with a WebSocket client "+
			"(GET with Upgrade: websocket) to /ws?subscriptionId=<id>&access_token=<token>", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "the mock is shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1) // done by the connection's reader, or here when the upgrade fails
	s.mu.Unlock()

	var rw http.ResponseWriter = w
	hijacker := &batchHijacker{ResponseWriter: w, pool: &s.batches}
	if _, ok := w.(http.Hijacker); ok {
		rw = hijacker
	}
	ws, err := s.upgrader.Upgrade(rw, r, nil)
	if err != nil {
		s.wg.Done()
		s.log.Warn("failed to upgrade", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &conn{s: s, ws: ws, out: hijacker.conn, remote: r.RemoteAddr, opened: time.Now(), done: make(chan struct{})}
	c.lastBeat.Store(c.opened.UnixNano())
	ws.SetReadLimit(s.cfg.ReadLimit)

	s.mu.Lock()
	s.nextConn++
	c.id = "c" + strconv.Itoa(s.nextConn)
	s.conns[c.id] = c
	s.stats.Connections++
	closedMeanwhile := s.closed
	s.mu.Unlock()
	if closedMeanwhile { // Shutdown ran between the check above and the registration
		c.close(CloseSpec{Code: websocket.CloseGoingAway, Reason: "server shutting down"}, "")
	} else {
		c.authenticate(r)
	}
	// The reader is a goroutine of its own so that this handler returns: net/http keeps its
	// connection's buffers, request and larger stack until then, half of an idle connection's cost.
	go c.serve()
}

// serve reads client frames until the connection ends, then releases it.
func (c *conn) serve() {
	defer c.s.wg.Done()
	c.readLoop()
	c.cleanup()
}

// authenticate answers build_connection: success registers the connection on its subscription;
// failure sends the failure frame and closes, as Zoom completes the upgrade even for a bad token.
func (c *conn) authenticate(r *http.Request) {
	s := c.s
	q := r.URL.Query()
	tokenValue, subID := q.Get("access_token"), q.Get("subscriptionId")
	c.tokenValue = tokenValue
	var notes []string
	if r.Header.Get("Authorization") != "" {
		notes = append(notes, "the client sent an Authorization header, which Zoom ignores: the token belongs in ?access_token=")
	}
	for _, k := range []string{"access_token", "subscriptionId"} {
		if len(q[k]) > 1 {
			notes = append(notes, fmt.Sprintf("%s appears %d times in the query: the first is used", k, len(q[k])))
		}
	}
	if q.Has("subscriptionid") || q.Has("subscription_id") {
		notes = append(notes, "the query has subscriptionid or subscription_id: Zoom spells it subscriptionId")
	}
	now := time.Now()

	s.mu.Lock()
	tok, known := s.tokens.lookup(tokenValue)
	if known {
		c.tokenRef = tok.ref
	}
	sub := s.subs[subID]
	if s.playback != nil {
		c.replay = s.playback.Connect(replayer.ConnInfo{ID: c.id, Opened: c.opened, Token: tokenName(tokenValue, tok, known)})
		c.ws.SetCloseHandler(c.onClientClose)
	}
	var content string
	var closeWith CloseSpec
	switch {
	case tokenValue == "":
		content, closeWith = s.cfg.EmptyTokenText, s.cfg.AuthFailureClose
		notes = append(notes, "no access_token in the query string")
	case !known:
		content, closeWith = s.cfg.InvalidTokenText, s.cfg.AuthFailureClose
		notes = append(notes, "the access_token was not issued by this mock")
	case !tok.validAt(now):
		content, closeWith = s.cfg.InvalidTokenText, s.cfg.AuthFailureClose
		if tok.revoked {
			notes = append(notes, "token "+tok.ref+" was invalidated")
		} else {
			notes = append(notes, fmt.Sprintf("token %s expired %s ago", tok.ref, now.Sub(tok.expires).Round(time.Millisecond)))
		}
	case s.faults.RejectTokens:
		content, closeWith = s.cfg.InvalidTokenText, s.cfg.AuthFailureClose
		notes = append(notes, "the rejectTokens fault is on")
	case sub == nil:
		content, closeWith = s.cfg.UnknownSubscriptionText, s.cfg.SubscriptionFailureClose
		notes = append(notes, fmt.Sprintf("unknown subscriptionId %q", subID))
	case sub.app.ClientID != tok.app.ClientID:
		content, closeWith = s.cfg.InvalidTokenText, s.cfg.AuthFailureClose
		notes = append(notes, fmt.Sprintf("token %s belongs to app %s, not to the app of subscription %s", tok.ref, tok.app.ClientID, subID))
	case s.cfg.ConnectionPolicy == RejectNew && len(sub.conns) > 0:
		content, closeWith = s.cfg.RejectNewText, s.cfg.RejectNewClose
		notes = append(notes, fmt.Sprintf("subscription %s already has connection %s (policy reject-new)", subID, sub.conns[0].id))
	}
	if refusal, ok := c.replayRefusal(); ok && content == "" {
		content, closeWith = refusal.Content, s.cfg.AuthFailureClose
		if refusal.Code != 0 {
			closeWith = CloseSpec{Code: refusal.Code, Reason: refusal.Reason}
		}
		notes = append(notes, "refused as connection "+c.replay.Recorded()+" of the cassette was")
	}
	if content != "" {
		s.mu.Unlock()
		if c.replay != nil {
			c.replay.Answered(false, content)
		}
		s.journal.add(Entry{Kind: KindConnectionOpen, Connection: c.id, SubscriptionID: subID,
			Open: &OpenEntry{RemoteAddr: c.remote, TokenRef: c.tokenRef, Content: content}, Note: strings.Join(notes, "; ")})
		s.log.Info("connection refused", "conn", c.id, "subscription", subID, "content", content)
		reply := wire.Reply{Module: wire.ModuleBuildConnection, Success: false, Content: content}
		c.enqueue(outFrame{data: reply.Marshal(), entry: FrameEntry{Module: wire.ModuleBuildConnection}})
		c.close(closeWith, "")
		return
	}

	// Success. Register and queue build_connection under s.mu so no event can overtake it.
	var kicked []*conn
	if s.cfg.ConnectionPolicy == KickOld {
		kicked = sub.conns
		sub.conns = nil
	}
	sub.conns = append(sub.conns, c)
	c.sub = sub
	buffered := sub.buffered
	sub.buffered = nil
	s.journal.add(Entry{Kind: KindConnectionOpen, Connection: c.id, SubscriptionID: subID,
		Open: &OpenEntry{RemoteAddr: c.remote, TokenRef: c.tokenRef, Success: true, Content: s.cfg.ConnectedText}, Note: strings.Join(notes, "; ")})
	if c.replay != nil { // before the client can see the answer, so its report is never behind
		c.replay.Answered(true, s.cfg.ConnectedText)
	}
	reply := wire.Reply{Module: wire.ModuleBuildConnection, Success: true, Content: s.cfg.ConnectedText}
	c.enqueue(outFrame{data: reply.Marshal(), entry: FrameEntry{Module: wire.ModuleBuildConnection}})
	for _, content := range buffered {
		c.enqueue(s.messageFrame(sub, content, eventName(content), newTrackingID()))
		s.stats.EventsDelivered++
	}
	expires := s.tokens.expiry(tokenValue)
	s.mu.Unlock()

	s.log.Info("connection open", "conn", c.id, "subscription", subID, "token", c.tokenRef, "remote", c.remote)
	for _, old := range kicked {
		old.close(s.cfg.KickClose, "replaced by "+c.id+" (policy kick-old)")
	}
	c.mu.Lock()
	if s.cfg.HeartbeatTimeout > 0 {
		c.hbTimer = time.AfterFunc(s.cfg.HeartbeatTimeout, c.owned(c.checkHeartbeat))
	}
	c.expiryTimer = time.AfterFunc(time.Until(expires), c.owned(c.checkExpiry))
	c.mu.Unlock()
	if c.replay != nil {
		c.startReplay()
	}
}

// replayRefusal is the recorded build_connection failure to replay on this connection, if any.
func (c *conn) replayRefusal() (replayer.Refusal, bool) {
	if c.replay == nil {
		return replayer.Refusal{}, false
	}
	return c.replay.Refusal()
}

// readLoop reads client frames until the connection ends.
func (c *conn) readLoop() {
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			// Off the subscription before the close is journaled, so that whoever sees the close
			// entry no longer finds the connection open (nor routes events to it).
			c.unsubscribe()
			c.finish(err)
			return
		}
		c.handleFrame(mt, data)
	}
}

// handleFrame answers a heartbeat and journals everything else with a note saying what is wrong.
func (c *conn) handleFrame(mt int, data []byte) {
	s := c.s
	if c.replay != nil {
		c.replay.ClientFrame(mt == websocket.BinaryMessage, data)
	}
	entry := Entry{Kind: KindClientFrame, Connection: c.id, Frame: &FrameEntry{Payload: string(data)}}
	if c.sub != nil {
		entry.SubscriptionID = c.sub.id
	}
	isBeat := false
	switch {
	case mt == websocket.BinaryMessage:
		entry.Frame.Binary = true
		entry.Note = "binary frame ignored: Zoom's event protocol uses text frames"
	case !utf8.Valid(data):
		entry.Note = "text frame with invalid UTF-8: closing with 1007 as RFC 6455 requires"
		s.journal.add(entry)
		c.close(CloseSpec{Code: websocket.CloseInvalidFramePayloadData, Reason: "invalid UTF-8 in text frame"}, "")
		return
	default:
		var env struct {
			Module *string `json:"module"`
		}
		switch err := json.Unmarshal(data, &env); {
		case err != nil:
			entry.Note = `not a heartbeat: the frame is not a JSON object (send {"module":"heartbeat"})`
		case env.Module == nil:
			entry.Note = `not a heartbeat: the frame has no "module" key (send {"module":"heartbeat"})`
		default:
			entry.Frame.Module = *env.Module
			if *env.Module == wire.ModuleHeartbeat {
				isBeat = true
			} else {
				entry.Note = fmt.Sprintf("unknown module %q ignored: clients send only heartbeats", *env.Module)
			}
		}
	}
	if c.sub == nil && entry.Note == "" {
		entry.Note = "frame on a connection that failed build_connection: ignored"
	}
	// Count before journaling: a waiter woken by the entry must find the count already updated.
	silent := false
	if isBeat && c.sub != nil {
		c.beats.Add(1)
		s.mu.Lock()
		s.stats.HeartbeatsReceived++
		silent = s.faults.StopHeartbeatReplies
		s.mu.Unlock()
	}
	s.journal.add(entry)
	if entry.Note != "" {
		s.log.Warn("client frame ignored", "conn", c.id, "why", entry.Note)
	}
	if c.sub == nil {
		return
	}
	if isBeat || s.cfg.AnyFrameResetsHeartbeat {
		c.lastBeat.Store(time.Now().UnixNano())
	}
	if !isBeat {
		return
	}
	if !silent {
		c.enqueue(outFrame{data: s.hbReply, entry: FrameEntry{Module: wire.ModuleHeartbeat}})
	}
}

// checkHeartbeat runs when the idle timer fires: it closes an idle connection or re-arms the timer
// for the time left since the last heartbeat.
func (c *conn) checkHeartbeat() {
	timeout := c.s.cfg.HeartbeatTimeout
	idle := time.Since(time.Unix(0, c.lastBeat.Load()))
	if idle >= timeout {
		what := "heartbeat"
		if c.s.cfg.AnyFrameResetsHeartbeat {
			what = "frame"
		}
		c.close(c.s.cfg.HeartbeatClose, fmt.Sprintf("no %s for %v: connection closed", what, idle.Round(time.Millisecond)))
		return
	}
	c.mu.Lock()
	if !c.dead && !c.closing {
		c.hbTimer.Reset(timeout - idle)
	}
	c.mu.Unlock()
}

// checkExpiry closes the connection when its token has expired and expiry closes connections.
func (c *conn) checkExpiry() {
	s := c.s
	s.mu.Lock()
	on := s.cfg.CloseOnTokenExpiry || s.faults.CloseOnTokenExpiry
	expires := s.tokens.expiry(c.tokenValue)
	s.mu.Unlock()
	now := time.Now()
	if !on || now.Before(expires) {
		c.mu.Lock()
		// The timer is nil while authenticate has registered the connection but not armed it yet
		// (SetFaults and ExpireTokens can call this then); authenticate arms it next.
		if !c.dead && now.Before(expires) && c.expiryTimer != nil {
			c.expiryTimer.Reset(expires.Sub(now))
		}
		c.mu.Unlock()
		return
	}
	c.close(s.cfg.TokenExpiryClose, "token "+c.tokenRef+" expired")
}

// enqueue adds a frame for the writer. It never blocks: a client whose queue is full is not
// reading, and is dropped so it cannot hold anyone else up.
func (c *conn) enqueue(f outFrame) bool {
	c.mu.Lock()
	if c.dead || (c.closing && f.close == nil) {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.s.cfg.SendQueue {
		c.mu.Unlock()
		c.s.log.Warn("client does not read: dropping it", "conn", c.id, "queued", c.s.cfg.SendQueue)
		c.mu.Lock()
		c.closeNote = fmt.Sprintf("the client did not read %d queued frames: connection dropped", c.s.cfg.SendQueue)
		c.mu.Unlock()
		c.drop()
		return false
	}
	c.queue = append(c.queue, f)
	if !c.writing {
		c.writing = true
		c.writer.Add(1)
		go c.writeLoop()
	}
	c.mu.Unlock()
	return true
}

// writeLoop sends queued frames until the queue is empty, then exits.
func (c *conn) writeLoop() {
	defer c.writer.Done()
	var batch []outFrame
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.dead {
			c.writing = false
			c.wakeLocked()
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.wakeLocked()
		c.mu.Unlock()
		for sent := 0; sent < len(batch); {
			n, err := c.writeBatch(batch[sent:])
			if err != nil {
				c.mu.Lock()
				c.queue, c.writing = nil, false
				c.wakeLocked()
				c.mu.Unlock()
				if errors.Is(err, websocket.ErrCloseSent) || errors.Is(err, errDropped) {
					// The close handshake is under way (the client closed first and gorilla
					// answered it), or a replay dropped it: the connection is ending, not failing.
					return
				}
				c.s.log.Info("failed to write to client: dropping it", "conn", c.id, "err", err)
				c.drop()
				return
			}
			sent += n
		}
		clear(batch)
	}
}

// writeBatch sends frames from the start of frames, up to batchLimit bytes, with one write to the
// socket, and journals them once they are written. It returns how many it sent.
func (c *conn) writeBatch(frames []outFrame) (int, error) {
	c.out.begin()
	n := 0
	for n < len(frames) && c.out.gathered() < batchLimit {
		if frames[n].drop && n > 0 {
			// A drop ends the socket at once: send what was gathered before it first.
			break
		}
		if err := c.write(&frames[n]); err != nil {
			_ = c.out.end()
			return 0, err
		}
		n++
	}
	if err := c.out.end(); err != nil {
		return 0, err
	}
	for i := range frames[:n] {
		c.journalSent(&frames[i])
	}
	return n, nil
}

// write hands one frame to gorilla/websocket.
func (c *conn) write(f *outFrame) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	switch {
	case f.drop:
		c.drop()
		return errDropped
	case f.close != nil:
		if c.replay != nil { // before the client can read it, so the report is never behind
			c.replay.Closed(cassettes.WSClose{By: cassettes.Server, Code: f.close.Code, Reason: f.close.Reason})
		}
		return c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.close.Code, f.close.Reason))
	case f.prepared != nil:
		return c.ws.WritePreparedMessage(f.prepared)
	default:
		return c.ws.WriteMessage(websocket.TextMessage, f.data)
	}
}

// journalSent records a data frame that was written.
func (c *conn) journalSent(f *outFrame) {
	if f.close != nil {
		return
	}
	c.framesSent.Add(1)
	e := f.entry
	// No copy: a frame's data is never written once the frame is built, and the journal outlives
	// it only as this string.
	e.Payload = unsafe.String(unsafe.SliceData(f.data), len(f.data))
	entry := Entry{Kind: KindServerFrame, Connection: c.id, Frame: &e}
	if c.sub != nil {
		entry.SubscriptionID = c.sub.id
	}
	c.s.journal.add(entry)
}

// close queues a close frame after the frames already queued, then gives the client CloseGrace to
// answer before the TCP connection is dropped. note says why, for the journal. It takes s.mu, so
// it must not be called with s.mu held.
func (c *conn) close(cs CloseSpec, note string) {
	c.mu.Lock()
	if c.closing || c.dead {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeSent = &cs
	c.closeNote = note
	c.graceTimer = time.AfterFunc(c.s.cfg.CloseGrace, c.owned(c.drop))
	c.mu.Unlock()
	c.unsubscribe()
	c.enqueue(outFrame{close: &cs})
}

// drop ends the TCP connection at once, without a close frame. It takes no server lock, so it is
// safe while delivering under s.mu: a closing connection refuses new frames at once, and the reader's
// cleanup takes it off its subscription.
func (c *conn) drop() {
	c.mu.Lock()
	abrupt := c.closeSent == nil && !c.dead
	if abrupt {
		c.dropped = true
	}
	c.closing = true
	c.mu.Unlock()
	if abrupt && c.replay != nil { // before the client can notice, so the report is never behind
		c.replay.Closed(cassettes.WSClose{By: cassettes.Server, Abrupt: true})
	}
	_ = c.ws.NetConn().Close()
}

// unsubscribe takes the connection off its subscription so no further event is routed to it.
func (c *conn) unsubscribe() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.sub != nil {
		c.sub.conns = slices.DeleteFunc(c.sub.conns, func(o *conn) bool { return o == c })
	}
}

// finish records how the connection ended, from the read error that ended it.
func (c *conn) finish(err error) {
	c.mu.Lock()
	sent, dropped, note := c.closeSent, c.dropped, c.closeNote
	c.mu.Unlock()
	ce := &CloseEntry{}
	var closeErr *websocket.CloseError
	switch {
	case dropped:
		*ce = CloseEntry{By: "server", Abrupt: true}
		if note == "" {
			note = "dropped without a close frame"
		}
	case sent != nil:
		*ce = CloseEntry{By: "server", Code: sent.Code, Reason: sent.Reason}
	case errors.Is(err, websocket.ErrReadLimit):
		*ce = CloseEntry{By: "server", Code: websocket.CloseMessageTooBig}
		note = fmt.Sprintf("client frame larger than the read limit of %d bytes: closed with 1009", c.s.cfg.ReadLimit)
	case errors.As(err, &closeErr) && closeErr.Code != websocket.CloseAbnormalClosure:
		*ce = CloseEntry{By: "client", Code: closeErr.Code, Reason: closeErr.Text}
	case isProtocolError(err):
		// gorilla has already answered with a 1002 close naming the problem.
		msg := strings.TrimPrefix(err.Error(), "websocket: ")
		*ce = CloseEntry{By: "server", Code: websocket.CloseProtocolError, Reason: msg}
		note = "the client broke the WebSocket protocol (" + msg + "): closed with 1002"
	default:
		*ce = CloseEntry{By: "client", Abrupt: true}
		note = "the client's TCP connection ended without a close frame"
	}
	if c.replay != nil {
		c.replay.Closed(closeEntryToCassette(ce))
	}
	entry := Entry{Kind: KindConnectionClose, Connection: c.id, Close: ce, Note: note}
	if c.sub != nil {
		entry.SubscriptionID = c.sub.id
	}
	c.s.journal.add(entry)
	c.s.log.Info("connection closed", "conn", c.id, "by", ce.By, "code", ce.Code, "reason", ce.Reason, "abrupt", ce.Abrupt, "note", note)
}

// isProtocolError recognises gorilla's errors for frames that break RFC 6455 (unmasked, reserved
// bits or opcodes, bad close payloads): they are plain "websocket: ..." errors, not close, network
// or end-of-stream errors.
func isProtocolError(err error) bool {
	var ce *websocket.CloseError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	return strings.HasPrefix(err.Error(), "websocket: ")
}

// cleanup releases everything the connection holds, waiting for its writer.
func (c *conn) cleanup() {
	c.unsubscribe()
	c.mu.Lock()
	c.dead = true
	c.queue = nil
	for _, t := range []*time.Timer{c.hbTimer, c.expiryTimer, c.graceTimer} {
		if t != nil {
			t.Stop()
		}
	}
	c.mu.Unlock()
	if c.replayStop != nil {
		c.replayStop()
	}
	c.replayDone.Wait()
	_ = c.ws.NetConn().Close()
	c.writer.Wait()
	c.timers.Wait()
	c.s.mu.Lock()
	delete(c.s.conns, c.id)
	c.s.mu.Unlock()
	close(c.done)
}

func (c *conn) info() ConnectionInfo {
	ci := ConnectionInfo{ID: c.id, RemoteAddr: c.remote, OpenedAt: c.opened.UTC(), TokenRef: c.tokenRef,
		Heartbeats: c.beats.Load(), FramesSent: c.framesSent.Load()}
	if c.sub != nil {
		ci.SubscriptionID, ci.ClientID = c.sub.id, c.sub.app.ClientID
	}
	if ci.Heartbeats > 0 {
		ci.LastHeartbeat = time.Unix(0, c.lastBeat.Load()).UTC()
	}
	return ci
}

func sortConns(cs []*conn) {
	slices.SortFunc(cs, func(a, b *conn) int { return connNumber(a.id) - connNumber(b.id) })
}
