package recorder

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/internal/wire"
)

// Stats counts what a recorder has seen so far, for a status line.
type Stats struct {
	// Records is how many records reached the cassette.
	Records int
	// Exchanges counts the HTTP exchanges recorded (token requests).
	Exchanges int
	// Connections counts the WebSocket upgrades recorded, refused ones included; Open is how
	// many of them are still open.
	Connections, Open int
	// Frames counts every frame recorded, in both directions.
	Frames int
	// Events counts the event deliveries (module "message") from the server.
	Events int
	// Heartbeats counts the client's {"module":"heartbeat"} frames.
	Heartbeats int
}

// core is what Proxy and Direct share: one cassette, one Redactor, one clock, one lock. Every
// record is stamped and written under the lock, so offsets never decrease, and a frame is written
// before it is passed on, so an answer is never recorded before what it answers.
type core struct {
	cfg    config
	cw     *cassettes.Writer
	log    *slog.Logger
	start  time.Time         // carries Go's monotonic clock reading; offsets are time.Since(start)
	http   *http.Client      // for upstream HTTP (newHTTPClient)
	dialer *websocket.Dialer // for the upstream WebSocket

	mu       sync.Mutex
	stopped  bool            // Close ran: nothing more is recorded
	err      error           // the first failure to write the cassette: nothing more is recorded
	failed   chan struct{}   // closed when err is set
	nextConn int             // connections are c1, c2, ... in the order they opened
	open     map[string]bool // connections with no close recorded yet
	stats    Stats
}

func newCore(cw *cassettes.Writer, opts []Option) (*core, error) {
	if cw == nil {
		return nil, fmt.Errorf("%w: no cassette writer", ErrBadOption)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &core{cfg: cfg, cw: cw, log: cfg.log, start: time.Now(), http: newHTTPClient(),
		dialer: &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: httpTimeout},
		failed: make(chan struct{}), open: map[string]bool{}}, nil
}

// write stamps, redacts and writes rec, unless recording has stopped. It reports whether rec was
// written.
func (c *core) write(rec cassettes.Record) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.writeLocked(rec)
	return ok
}

// writeLocked writes rec and returns it as written (redacted), or false when recording has
// stopped or the write failed.
func (c *core) writeLocked(rec cassettes.Record) (cassettes.Record, bool) {
	if c.stopped || c.err != nil {
		return rec, false
	}
	rec.Offset = time.Since(c.start)
	rec = c.cfg.redactor.Redact(rec)
	if err := c.cw.Write(rec); err != nil {
		c.err = fmt.Errorf("failed to write the cassette: %w", err)
		close(c.failed)
		c.log.Error("recording stopped: the cassette cannot be written", "records", c.stats.Records, "err", err)
		return rec, false
	}
	c.stats.Records++
	return rec, true
}

// exchange records an HTTP exchange.
func (c *core) exchange(h *cassettes.HTTPExchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rec, ok := c.writeLocked(cassettes.Record{HTTP: h}); ok {
		c.stats.Exchanges++
		c.log.Info("HTTP exchange", "method", rec.HTTP.Method, "path", rec.HTTP.Path, "status", rec.HTTP.Status)
	}
}

// openConn records a WebSocket upgrade answered with status and returns the new connection's id.
func (c *core) openConn(path, query string, status int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextConn++
	id := "c" + strconv.Itoa(c.nextConn)
	if _, ok := c.writeLocked(cassettes.Record{Open: &cassettes.WSOpen{Conn: id, Path: path, Query: query, Status: status}}); ok {
		c.log.Info("connection opened", "conn", id, "path", path, "status", status)
		c.stats.Connections++
		if status == http.StatusSwitchingProtocols {
			c.open[id] = true
			c.stats.Open++
		}
	}
	return id
}

// frame records a message that from sent on connection id; mt is a gorilla message type.
func (c *core) frame(id string, from cassettes.Side, mt int, data []byte) {
	f := &cassettes.Frame{Conn: id, From: from, Opcode: cassettes.Text, Payload: string(data)}
	if mt == websocket.BinaryMessage {
		f.Opcode = cassettes.Binary
	}
	module := ""
	if f.Opcode == cassettes.Text {
		var env struct {
			Module string `json:"module"`
		}
		if json.Unmarshal(data, &env) == nil {
			module = env.Module
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open[id] {
		return
	}
	if _, ok := c.writeLocked(cassettes.Record{Frame: f}); !ok {
		return
	}
	c.stats.Frames++
	switch {
	case from == cassettes.Server && module == wire.ModuleMessage:
		c.stats.Events++
	case from == cassettes.Client && module == wire.ModuleHeartbeat:
		c.stats.Heartbeats++
	}
}

// closeConn records the end of connection id, unless an end was recorded already (the answer to
// a close frame is not a second close). It reports whether this was the first end.
func (c *core) closeConn(cl cassettes.WSClose) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open[cl.Conn] {
		return false
	}
	c.forgetLocked(cl.Conn)
	if rec, ok := c.writeLocked(cassettes.Record{Close: &cl}); ok {
		c.log.Info("connection closed", closeAttrs(*rec.Close)...)
	}
	return true
}

// forget marks connection id as ended without recording a close: the recorder, not one of the
// two sides, ended it.
func (c *core) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(id)
}

func (c *core) forgetLocked(id string) {
	if c.open[id] {
		delete(c.open, id)
		c.stats.Open--
	}
}

// stop ends the recording: nothing is written after stop returns.
func (c *core) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// snapshot returns a copy of the counters.
func (c *core) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// writeErr returns the error that stopped the recording, if writing the cassette failed.
func (c *core) writeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func closeAttrs(cl cassettes.WSClose) []any {
	if cl.Abrupt {
		return []any{"conn", cl.Conn, "by", cl.By, "abrupt", true}
	}
	return []any{"conn", cl.Conn, "by", cl.By, "code", cl.Code, "reason", cl.Reason}
}
