package recorder

import (
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
)

const (
	// maxFrame is the largest message passed on and recorded. Zoom's frames are a few KiB; a
	// cassette line may not exceed cassettes.MaxLineSize, which base64 or escaping of a larger
	// message could.
	maxFrame = 8 << 20
	// writeTimeout is how long a side may take to accept a frame before it counts as gone.
	writeTimeout = 10 * time.Second
	// closeTimeout is how long a side has to answer a close frame passed on to it before its TCP
	// connection is closed (as a WebSocket server does after a close handshake).
	closeTimeout = 5 * time.Second
)

// bridge joins one client WebSocket to one upstream WebSocket, passing every message, close and
// drop from each side to the other and recording it first.
type bridge struct {
	c                *core
	id               string
	client, upstream *websocket.Conn
}

// run passes messages both ways until both directions have ended, then closes both connections.
func (b *bridge) run() {
	b.relayControl(b.client, b.upstream)
	b.relayControl(b.upstream, b.client)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.pump(b.upstream, b.client, cassettes.Server)
	}()
	b.pump(b.client, b.upstream, cassettes.Client)
	<-done
	_ = b.client.Close()
	_ = b.upstream.Close()
	b.c.forget(b.id) // ended by the recorder (Close, oversized frame) if no close was recorded
}

// relayControl passes pings and pongs read from from on to to, so that each side answers the
// other's pings itself, and stops gorilla's automatic answer to a close frame: the close is passed
// on, and the other side's answer comes back.
func (b *bridge) relayControl(from, to *websocket.Conn) {
	from.SetReadLimit(maxFrame)
	relay := func(mt int) func(string) error {
		return func(data string) error {
			_ = to.WriteControl(mt, []byte(data), time.Now().Add(writeTimeout))
			return nil
		}
	}
	from.SetPingHandler(relay(websocket.PingMessage))
	from.SetPongHandler(relay(websocket.PongMessage))
	from.SetCloseHandler(func(int, string) error { return nil })
}

// pump reads messages sent by side on from, records each, and writes it to to.
func (b *bridge) pump(from, to *websocket.Conn, side cassettes.Side) {
	for {
		mt, data, err := from.ReadMessage()
		if err != nil {
			b.end(from, to, side, err)
			return
		}
		// Recorded before it is passed on, so that the answer is never recorded first.
		b.c.frame(b.id, side, mt, data)
		_ = to.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := to.WriteMessage(mt, data); err != nil {
			// The other side is gone, or stopped reading: a drop by the other side.
			b.c.closeConn(cassettes.WSClose{Conn: b.id, By: other(side), Abrupt: true})
			_ = from.Close()
			_ = to.Close()
			return
		}
	}
}

// end passes on how side ended its half: a close frame is recorded and passed on, and the other
// side has closeTimeout to answer it; a dropped TCP connection is recorded and the other side's
// TCP connection is dropped too, without a close frame.
func (b *bridge) end(from, to *websocket.Conn, side cassettes.Side, err error) {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		b.c.closeConn(cassettes.WSClose{Conn: b.id, By: side, Code: ce.Code, Reason: ce.Text})
		_ = to.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(ce.Code, ce.Text), time.Now().Add(writeTimeout))
		_ = to.SetReadDeadline(time.Now().Add(closeTimeout))
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has closed from with 1009; the recorder, not a side, ends the connection.
		b.c.log.Error("message too large to record: connection closed with 1009", "conn", b.id, "from", side, "limit", maxFrame)
		b.c.forget(b.id)
		_ = to.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "message too large to record"), time.Now().Add(writeTimeout))
		_ = from.Close()
		_ = to.Close()
	default:
		b.c.closeConn(cassettes.WSClose{Conn: b.id, By: side, Abrupt: true})
		_ = to.Close()
	}
}

// stop ends the bridge for Proxy.Close: both sides get 1001, as from a server or client going away.
func (b *bridge) stop() {
	deadline := time.Now().Add(time.Second)
	_ = b.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "recorder stopped"), deadline)
	_ = b.upstream.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), deadline)
	_ = b.client.Close()
	_ = b.upstream.Close()
}

func other(s cassettes.Side) cassettes.Side {
	if s == cassettes.Client {
		return cassettes.Server
	}
	return cassettes.Client
}
