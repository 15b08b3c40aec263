package mockserver

import (
	"context"
	"log/slog"
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

// TestSetFaultsWhileConnecting switches faults while connections are being accepted: SetFaults
// reaches a connection that is registered but whose expiry timer is not armed yet, which once
// panicked with the connection's lock held and hung the server's shutdown.
func TestSetFaultsWhileConnecting(t *testing.T) {
	t.Parallel()
	// A logger that is slow on "connection open" widens the window to make the race certain.
	ts := start(t, Config{ConnectionPolicy: FanOut, Logger: slog.New(slowOpenHandler{})})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				ts.SetFaults(Faults{StopHeartbeatReplies: true})
			}
		}
	}()
	for range 20 {
		ts.connect(t)
	}
	close(stop)
	<-done
}

// slowOpenHandler discards logs, taking 2ms over each "connection open".
type slowOpenHandler struct{}

func (slowOpenHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h slowOpenHandler) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h slowOpenHandler) WithGroup(string) slog.Handler          { return h }

func (slowOpenHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "connection open" {
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}
