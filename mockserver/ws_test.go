package mockserver

import (
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestClosedConnectionIsNotOpen checks an ordering a waiter relies on: once the journal holds a
// connection's close, Connections no longer lists it, however the connection ended.
func TestClosedConnectionIsNotOpen(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ends := map[string]func(ws *websocket.Conn){
		"client close frame": func(ws *websocket.Conn) {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
			_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		},
		"client drops TCP": func(ws *websocket.Conn) { _ = ws.NetConn().Close() },
	}
	for name, end := range ends {
		for range 20 {
			ws := ts.connect(t)
			id := ts.Connections()[0].ID
			end(ws)
			closed := func() bool {
				return slices.ContainsFunc(ts.Journal(), func(e Entry) bool { return e.Kind == KindConnectionClose && e.Connection == id })
			}
			// Check the invariant at every change until the close is journaled.
			waitFor(t, ts.Server, name+" of "+id, func() bool {
				isClosed := closed()
				if isClosed && slices.ContainsFunc(ts.Connections(), func(c ConnectionInfo) bool { return c.ID == id }) {
					t.Fatalf("%s: %s is journaled as closed but still listed as open", name, id)
				}
				return isClosed
			})
		}
	}
}
