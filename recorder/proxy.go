package recorder

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
)

// Proxy records the sessions of an application under test: it stands where Zoom stands, passes
// /oauth/token to the OAuth upstream and bridges /ws to the WebSocket upstream frame by frame, and
// writes everything that passes into a cassette. The application cannot tell it from the
// upstream: status codes, bodies, frames, close codes and dropped connections are passed on as
// they come, and the client's query string goes upstream byte for byte.
//
// A Proxy is an http.Handler; Serve runs it on a listener. Close (or the end of Serve) stops
// the recording and ends every bridged connection; the caller then closes the cassette Writer.
type Proxy struct {
	*core
	ctx    context.Context // cancelled by Close: ends dials and exchanges in flight
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup // ServeHTTP calls in progress
	bridges  map[*bridge]bool
}

// NewProxy returns a Proxy that records into cw, configured by opts (the upstreams, a Redactor,
// a logger). Offsets in the cassette count from this call. The caller keeps cw and closes it after
// Close; the Proxy redacts every record before it writes it, learning the client secret from
// the Basic credentials of token requests and the tokens from token responses.
func NewProxy(cw *cassettes.Writer, opts ...Option) (*Proxy, error) {
	c, err := newCore(cw, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy{
		core: c,
		ctx:  ctx, cancel: cancel,
		bridges: map[*bridge]bool{},
	}, nil
}

// Failed is closed when writing the cassette fails (a full disk, say). The Proxy then goes on
// passing traffic but records nothing more; Err says why. A program that records should stop.
func (p *Proxy) Failed() <-chan struct{} { return p.failed }

// Err returns the error that stopped the recording, or nil, so that a program can say why Failed
// was closed.
func (p *Proxy) Err() error { return p.writeErr() }

// Stats returns what the Proxy has recorded so far.
func (p *Proxy) Stats() Stats { return p.snapshot() }

// ServeHTTP passes /oauth/token to the OAuth upstream and /ws to the WebSocket upstream (a GET
// /ws that is not a WebSocket upgrade goes there as plain HTTP), and answers 404 to anything else:
// the recorder stands in for Zoom's token and event endpoints only.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "zoommock record: the recorder has stopped", http.StatusServiceUnavailable)
		return
	}
	p.handlers.Add(1)
	p.mu.Unlock()
	defer p.handlers.Done()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	r = r.WithContext(ctx)

	switch {
	case r.URL.Path == "/oauth/token":
		p.forward(w, r, p.cfg.oauth)
	case r.URL.Path == "/ws" && isUpgrade(r):
		p.serveWS(w, r)
	case r.URL.Path == "/ws":
		p.forward(w, r, httpScheme(p.cfg.ws))
	default:
		http.Error(w, fmt.Sprintf("zoommock record: %s is not recorded: the recorder stands in for Zoom's /oauth/token and /ws only", r.URL.Path),
			http.StatusNotFound)
	}
}

// isUpgrade reports whether r is a WebSocket upgrade that gorilla's Upgrader will accept, so
// that the upstream is dialled only for a client that can be bridged.
func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && websocket.IsWebSocketUpgrade(r) &&
		r.Header.Get("Sec-Websocket-Version") == "13" && r.Header.Get("Sec-Websocket-Key") != ""
}

// httpScheme is a ws or wss URL as http or https, for plain HTTP to the WebSocket upstream.
func httpScheme(u *url.URL) *url.URL {
	h := *u
	h.Scheme = map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	return &h
}

// handshakeHeaders are the request and response headers of the upgrade itself, which each
// connection negotiates on its own.
var handshakeHeaders = []string{"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Accept"}

// serveWS dials the upstream with the client's path, query and headers, then upgrades the client
// only if the upstream did: a refusal is passed on with its status and body.
func (p *Proxy) serveWS(w http.ResponseWriter, r *http.Request) {
	up, resp, err := p.dial(r.Context(), r.URL.Path, r.URL.RawQuery, withoutHop(r.Header, handshakeHeaders...))
	switch {
	case err != nil && p.ctx.Err() != nil: // Close interrupted the dial
		http.Error(w, "zoommock record: the recorder has stopped", http.StatusServiceUnavailable)
		return
	case err != nil && (resp == nil || resp.StatusCode == http.StatusSwitchingProtocols):
		if resp != nil { // 101 with a handshake gorilla cannot accept, such as forced compression
			err = upstreamErrorf("the WebSocket upstream %s answered an unusable handshake: %v", p.cfg.ws.Redacted(), err)
		}
		p.log.Error("upstream unreachable", "path", r.URL.Path, "err", err)
		http.Error(w, "zoommock record: "+err.Error(), http.StatusBadGateway)
		return
	case err != nil: // the upstream answered, and refused the upgrade
		p.openConn(r.URL.Path, r.URL.RawQuery, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body) // gorilla keeps the first KiB
		for k, vs := range withoutHop(resp.Header) {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
		return
	}
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	if proto := resp.Header.Get("Sec-Websocket-Protocol"); proto != "" {
		upgrader.Subprotocols = []string{proto}
	}
	client, err := upgrader.Upgrade(w, r, withoutHop(resp.Header, append(handshakeHeaders, "Sec-Websocket-Protocol")...))
	if err != nil { // gorilla has answered the client with an error status
		p.log.Warn("failed to upgrade the client after the upstream accepted it", "err", err)
		_ = up.Close()
		return
	}
	b := &bridge{c: p.core, id: p.openConn(r.URL.Path, r.URL.RawQuery, resp.StatusCode), client: client, upstream: up}
	p.mu.Lock()
	if p.closed { // Close ran while this connection was being set up
		p.mu.Unlock()
		b.stop()
		b.c.forget(b.id)
		return
	}
	p.bridges[b] = true
	p.mu.Unlock()
	b.run()
	p.mu.Lock()
	delete(p.bridges, b)
	p.mu.Unlock()
}

// Close stops the recording, then ends every bridged connection with a 1001 close to both sides
// (without waiting for their answers) and waits for every goroutine the Proxy started; requests
// still arriving get 503. The recording ends before the sockets do, so a cassette shows those
// connections still open at its end rather than a close that neither side sent. Close does not
// close the cassette Writer: that is the caller's, and comes next.
func (p *Proxy) Close() {
	p.stop()
	p.mu.Lock()
	p.closed = true
	bridges := make([]*bridge, 0, len(p.bridges))
	for b := range p.bridges {
		bridges = append(bridges, b)
	}
	p.mu.Unlock()
	p.cancel()
	for _, b := range bridges {
		b.stop()
	}
	p.handlers.Wait()
	p.http.CloseIdleConnections()
}

// Serve answers connections on ln until ctx is done or the cassette cannot be written, then shuts
// down: the recording stops, bridged connections end, and Serve returns once everything it
// started has. It returns nil when ctx ended, or the error that stopped the recording.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
		p.Close()
		return fmt.Errorf("failed to serve: %w", err)
	case <-p.failed:
		err = p.Err()
	case <-ctx.Done():
	}
	p.Close()
	// Every hijacked connection has ended; what is left are plain HTTP requests, which the
	// Proxy now answers at once.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if herr := hs.Shutdown(sctx); herr != nil && err == nil {
		err = fmt.Errorf("failed to stop the HTTP server: %w", herr)
	}
	<-errc
	return err
}
