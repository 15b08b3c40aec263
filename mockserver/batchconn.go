package mockserver

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
)

// batchLimit is how many bytes of frames a writer gathers before it sends them.
const batchLimit = 64 << 10

// batchConn lets a connection's writer send the frames waiting in its queue with one system call
// instead of one per frame, which was most of the cost of delivering an event. Between begin and
// end, writes are gathered; outside, and for the control frames gorilla/websocket writes from the
// reader goroutine meanwhile (they join the batch in order), it writes through.
type batchConn struct {
	net.Conn
	pool *sync.Pool // of *[]byte, shared by the server's connections so idle ones hold no buffer

	mu  sync.Mutex
	buf *[]byte // non-nil during a batch
}

// begin starts gathering writes.
func (b *batchConn) begin() {
	b.mu.Lock()
	b.buf = b.pool.Get().(*[]byte)
	b.mu.Unlock()
}

// gathered is how many bytes wait in the batch.
func (b *batchConn) gathered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(*b.buf)
}

// end sends what was gathered and stops gathering.
func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if len(*b.buf) > 0 {
		_, err = b.Conn.Write(*b.buf)
	}
	if cap(*b.buf) <= 4*batchLimit { // an event of a megabyte does not stay in the pool
		*b.buf = (*b.buf)[:0]
		b.pool.Put(b.buf)
	}
	b.buf = nil
	return err
}

// Write gathers p during a batch and writes it through otherwise.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return b.Conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// batchHijacker hands gorilla/websocket's Upgrade a batchConn in place of the hijacked connection.
type batchHijacker struct {
	http.ResponseWriter
	pool *sync.Pool
	conn *batchConn // set by Hijack
}

// Hijack takes over the connection as http.Hijacker does, wrapped in a batchConn.
func (h *batchHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the HTTP server does not let a handler take over its connection (http.Hijacker)")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = &batchConn{Conn: nc, pool: h.pool}
	return h.conn, brw, nil
}

// Unwrap gives http.ResponseController the original ResponseWriter.
func (h *batchHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
