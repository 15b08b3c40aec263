package mockserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/internal/wire"
	"github.com/zoommock/zoommock/replayer"
)

// ErrClosed is returned by operations on a server that has shut down.
var ErrClosed = errors.New("mock server is closed")

// Server is the mock Zoom server: an http.Handler serving /oauth/token, /ws and the admin API under
// /_mock/, plus the lifecycle of every WebSocket it accepted (http.Server does not track hijacked
// connections, so Shutdown does).
type Server struct {
	cfg       Config
	log       *slog.Logger
	mux       *http.ServeMux
	admin     *http.ServeMux // the admin API, built at its first request (see routes)
	adminOnce sync.Once
	journal   *journal
	upgrader  websocket.Upgrader

	mu       sync.Mutex
	tokens   *tokenStore
	apps     map[string]*App // by client id
	subs     map[string]*subscription
	conns    map[string]*conn // every upgraded connection until its handler returns
	nextConn int
	faults   Faults
	stats    Stats
	closed   bool
	delayed  map[*time.Timer]struct{} // delayed deliveries not yet run
	playback *replayer.Playback       // the cassette being replayed, nil when live only
	wg       sync.WaitGroup           // WebSocket handlers and delayed deliveries
	closing  chan struct{}            // closed by Shutdown, so a burst waiting for its next event ends
	batches  sync.Pool                // *[]byte in which connection writers gather frames
	hbReply  []byte                   // the encoded reply to every heartbeat, shared, never written
}

// subscription is the live state of one subscription id.
type subscription struct {
	id       string
	app      *App
	signer   *wire.Signer // signs with app.SecretToken
	conns    []*conn      // connections that passed build_connection, oldest first
	buffered []string     // event contents kept for the next connection when Config.BufferEvents is on
}

// Stats are counters since start or the last Reset.
type Stats struct {
	TokensIssued       int `json:"tokensIssued"`
	OpenConnections    int `json:"openConnections"`
	Connections        int `json:"connections"`
	HeartbeatsReceived int `json:"heartbeatsReceived"`
	EventsEmitted      int `json:"eventsEmitted"`
	EventsDelivered    int `json:"eventsDelivered"`
	EventsDropped      int `json:"eventsDropped"`
	EventsBuffered     int `json:"eventsBuffered"`
	// JournalDropped counts journal entries discarded to stay within JournalLimit and JournalMaxBytes.
	JournalDropped uint64 `json:"journalDropped"`
	EventsReplayed int    `json:"eventsReplayed"`
}

// New returns a mock configured by cfg (zero fields take their documented defaults). It refuses a
// configuration that cannot work, naming the setting.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to configure the mock: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		journal: newJournal(cfg.JournalLimit, cfg.JournalMaxBytes),
		delayed: map[*time.Timer]struct{}{},
		closing: make(chan struct{}),
		upgrader: websocket.Upgrader{
			// Zoom's clients are servers, not browsers: no Origin policy applies.
			CheckOrigin: func(*http.Request) bool { return true },
			// Release write buffers between writes so idle connections stay small.
			WriteBufferPool: &sync.Pool{},
			// Clients send heartbeats of 28 bytes on the wire; larger frames are still read (up to
			// ReadLimit), in several reads, instead of reusing net/http's 4 KiB reader.
			ReadBufferSize: 1024,
			Error:          upgradeError,
		},
	}
	s.batches.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	s.hbReply = wire.HeartbeatReply.Marshal()
	s.resetStateLocked()
	s.playback = cfg.Playback
	s.mux = s.routes()
	return s, nil
}

// resetStateLocked builds the per-run state: apps, subscriptions, tokens, faults, counters.
func (s *Server) resetStateLocked() {
	s.tokens = newTokenStore(s.cfg.TokenTTL, s.cfg.LiveTokens)
	s.apps = map[string]*App{}
	s.subs = map[string]*subscription{}
	for i := range s.cfg.Apps {
		app := &s.cfg.Apps[i]
		s.apps[app.ClientID] = app
		signer := wire.NewSigner(app.SecretToken)
		for _, sub := range app.Subscriptions {
			s.subs[sub.ID] = &subscription{id: sub.ID, app: app, signer: signer}
		}
	}
	if s.conns == nil {
		s.conns = map[string]*conn{}
	}
	s.nextConn = 0
	s.faults = Faults{}
	s.stats = Stats{}
}

// Config returns the effective configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// ServeHTTP routes /oauth/token, /ws and /_mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Serve accepts connections on ln until ctx is done, then shuts down: every WebSocket gets a 1001
// close and CloseGrace to answer, and HTTP requests still in flight get a few seconds to finish
// before they are cut. A client that stalls its side never turns a clean stop into a failure: Serve
// returns nil after a stop and logs what it had to cut.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		// Bounds slow request bodies; a WebSocket is unaffected (the upgrade clears deadlines).
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		_ = s.Shutdown(context.Background())
		return fmt.Errorf("failed to serve: %w", err)
	case <-ctx.Done():
	}
	wctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseGrace+s.cfg.WriteTimeout)
	defer cancel()
	if err := s.Shutdown(wctx); err != nil {
		s.log.Warn("some WebSocket clients did not answer the close in time: dropped them", "err", err)
	}
	hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := hs.Shutdown(hctx); err != nil {
		s.log.Warn("HTTP requests were still in progress at shutdown: cut them", "err", err)
		_ = hs.Close()
	}
	<-errc
	return nil
}

// Shutdown closes every WebSocket with 1001 "server shutting down", cancels delayed deliveries and
// waits until every goroutine the server started has returned. When ctx ends first, the remaining
// sockets are dropped and Shutdown still waits for their goroutines, which then end at once. A
// playback is finished first, so that these closes are not taken for the client's.
func (s *Server) Shutdown(ctx context.Context) error {
	if p := s.Playback(); p != nil {
		p.Finish()
	}
	s.mu.Lock()
	if !s.closed {
		close(s.closing)
	}
	s.closed = true
	for t := range s.delayed {
		if t.Stop() {
			s.wg.Done()
		}
	}
	clear(s.delayed)
	conns := s.allConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.close(CloseSpec{Code: websocket.CloseGoingAway, Reason: "server shutting down"}, "")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.drop()
		}
		<-done
		return fmt.Errorf("failed to close every WebSocket gracefully: %w", ctx.Err())
	}
}

func (s *Server) allConnsLocked() []*conn {
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Changed returns a channel closed at the next change of the mock's state (any journal entry). A
// waiter checks its condition, then waits on a channel taken before the check, so nothing is missed.
func (s *Server) Changed() <-chan struct{} { return s.journal.watch() }

// Journal returns every entry recorded so far, oldest first.
func (s *Server) Journal() []Entry {
	entries, _ := s.journal.snapshot()
	return entries
}

// ClearJournal forgets every entry.
func (s *Server) ClearJournal() { s.journal.clear() }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.TokensIssued = s.tokens.count()
	st.JournalDropped = s.journal.droppedCount()
	for _, sub := range s.subs {
		st.OpenConnections += len(sub.conns)
	}
	return st
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the faults in force. Switching CloseOnTokenExpiry on closes at once the
// connections whose token has already expired.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	conns := s.openConnsLocked()
	s.mu.Unlock()
	s.log.Info("faults set", "faults", faultsText(f))
	s.journal.notify()
	for _, c := range conns {
		c.checkExpiry()
	}
}

// ExpireTokens makes every issued token expire now: new connections with them fail, and open ones
// close if CloseOnTokenExpiry is on.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	s.tokens.expireAll(time.Now())
	conns := s.openConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.checkExpiry()
	}
}

// InvalidateTokens revokes every issued token before its expiry, as Zoom did when a newer token
// was requested: the next connection with any of them fails. Open connections live on.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	s.tokens.revokeAll()
	s.mu.Unlock()
}

// ConnectionInfo describes one open, authenticated connection.
type ConnectionInfo struct {
	ID             string    `json:"id"`
	SubscriptionID string    `json:"subscriptionId"`
	ClientID       string    `json:"clientId"`
	TokenRef       string    `json:"tokenRef"`
	RemoteAddr     string    `json:"remoteAddr"`
	OpenedAt       time.Time `json:"openedAt"`
	LastHeartbeat  time.Time `json:"lastHeartbeat,omitzero"`
	Heartbeats     int64     `json:"heartbeats"`
	FramesSent     int64     `json:"framesSent"`
}

// Connections lists the open connections that passed build_connection, oldest first.
func (s *Server) Connections() []ConnectionInfo {
	s.mu.Lock()
	conns := s.openConnsLocked()
	s.mu.Unlock()
	out := make([]ConnectionInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.info())
	}
	return out
}

// openConnsLocked returns the authenticated connections ordered by id number.
func (s *Server) openConnsLocked() []*conn {
	var out []*conn
	for _, sub := range s.subs {
		out = append(out, sub.conns...)
	}
	sortConns(out)
	return out
}

// ErrUnknownConnection is returned when a connection id names no open connection.
var ErrUnknownConnection = errors.New("unknown connection")

// CloseConnection sends a close frame with code and reason to one connection.
func (s *Server) CloseConnection(id string, code int, reason string) error {
	c, err := s.conn(id)
	if err != nil {
		return err
	}
	c.close(CloseSpec{Code: code, Reason: reason}, "closed through the admin API")
	return nil
}

// DropConnection ends one connection's TCP connection without a close frame (the client sees 1006).
func (s *Server) DropConnection(id string) error {
	c, err := s.conn(id)
	if err != nil {
		return err
	}
	c.drop()
	return nil
}

// CloseConnections closes every open connection with code and reason and returns how many.
func (s *Server) CloseConnections(code int, reason string) int {
	s.mu.Lock()
	conns := s.openConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.close(CloseSpec{Code: code, Reason: reason}, "closed through the admin API")
	}
	return len(conns)
}

// DropConnections drops every open connection without a close frame and returns how many.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := s.openConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
	return len(conns)
}

func (s *Server) conn(id string) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[id]
	if !ok || c.sub == nil {
		return nil, fmt.Errorf("%w %q: list them with GET /_mock/connections", ErrUnknownConnection, id)
	}
	return c, nil
}

// Reset brings the mock back to its state at start: every connection closed with 1001, tokens,
// faults, buffered events, counters and the journal forgotten, connection ids counting from c1.
// The playback in force is finished, and Config.Playback (if any) is rewound and loaded again.
func (s *Server) Reset() {
	if p := s.Playback(); p != nil {
		p.Finish()
	}
	s.mu.Lock()
	conns := s.allConnsLocked()
	for t := range s.delayed {
		if t.Stop() {
			s.wg.Done()
		}
	}
	clear(s.delayed)
	s.mu.Unlock()
	for _, c := range conns {
		c.close(CloseSpec{Code: websocket.CloseGoingAway, Reason: "mock reset"}, "")
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-time.After(s.cfg.CloseGrace + s.cfg.WriteTimeout):
			c.drop()
			<-c.done
		}
	}
	if s.cfg.Playback != nil {
		s.cfg.Playback.Rewind()
	}
	s.mu.Lock()
	s.resetStateLocked()
	s.playback = s.cfg.Playback
	s.mu.Unlock()
	s.journal.clear()
	s.journal.notify()
}

// upgradeError answers a failed WebSocket handshake in words a person can act on.
func upgradeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	http.Error(w, "failed to open the WebSocket: "+reason.Error(), status)
}

// loopback reports whether addr ("host:port") is a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// connNumber is the number in a connection id, for ordering.
func connNumber(id string) int {
	n, _ := strconv.Atoi(id[1:])
	return n
}
