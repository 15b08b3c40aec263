// Package loadgen puts the load of many Zoom event consumers on a server that speaks Zoom's event
// WebSocket protocol and zoommock's admin API: the mock in a benchmark, or a user's own deployment
// of it. It holds many connections that send heartbeats, emits events at a steady rate through the
// admin API (or a Go function), and measures each event from emit to receipt.
//
// It is the client half of the mock's performance targets and of `zoommock loadgen`; its loops are
// bounded in count and time, so a run always stops by itself.
package loadgen

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/internal/wire"
)

// ErrBadConfig is wrapped by every error about a Config value, so a command line maps it to bad usage.
var ErrBadConfig = errors.New("bad load generator configuration")

// ErrFileLimit is wrapped when the open-file limit cannot hold the connections asked for.
var ErrFileLimit = errors.New("open-file limit too low")

// Bounds that keep a mistyped number from turning a load test into a runaway one.
const (
	MaxConnections = 50_000
	MaxRate        = 100_000 // events per second
	MaxDuration    = time.Hour
)

// EventName is the inner event name of the events a run emits. Their payload carries a sequence
// number and the emit time, which is how the receiving side measures latency.
const EventName = "zoommock.loadgen"

// fdSlack is the file descriptors a run needs besides its WebSockets: standard streams, the poller,
// the token and admin HTTP connections.
const fdSlack = 64

// Config describes one load test. Zero fields take the defaults documented on them.
type Config struct {
	// Target is the base URL of the server, e.g. http://127.0.0.1:9876: /oauth/token, /ws and
	// /_mock/events are under it (https gives wss).
	Target string
	// Connections is how many WebSockets to hold open at once (default 1).
	Connections int
	// HeartbeatInterval is how often each connection sends {"module":"heartbeat"} (default 30s,
	// what Zoom asks for).
	HeartbeatInterval time.Duration
	// Rate is how many events per second to emit while the connections are held; 0 emits none, for
	// a test of connections and heartbeats alone. Under the fan-out policy each event reaches every
	// connection, so deliveries per second are Rate times Connections.
	Rate float64
	// Duration is how long the connections are held, and events emitted, once all are open
	// (default 10s).
	Duration time.Duration

	// ClientID, ClientSecret and AccountID are exchanged for an access token at /oauth/token.
	ClientID, ClientSecret, AccountID string
	// SubscriptionID is the subscription every connection asks for and every event goes to.
	SubscriptionID string
	// AccessToken, when set, is used as it is instead of exchanging the credentials.
	AccessToken string
	// AdminToken is the bearer token the admin API wants from a client not on loopback.
	AdminToken string

	// Emit sends one event and says how many connections it was delivered to. Nil posts it to the
	// admin API (Target/_mock/events); a Go benchmark passes the mock's Emit method instead.
	Emit func(ctx context.Context, event []byte) (delivered int, err error)
	// Senders is how many events may be in flight at once (default 4), so one slow request does
	// not hold the rate back.
	Senders int
	// DialConcurrency is how many connections are opened at once (default 64).
	DialConcurrency int
	// Ready, when set, is called once every connection is open and before the first event, with
	// the number held. A benchmark measures the server's memory there.
	Ready func(held int)
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Connections == 0 {
		c.Connections = 1
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 30 * time.Second
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Senders == 0 {
		c.Senders = 4
	}
	if c.DialConcurrency == 0 {
		c.DialConcurrency = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate names the first setting that is out of bounds.
func (c Config) validate() error {
	u, err := url.Parse(c.Target)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: target %q: want the server's base URL, such as http://127.0.0.1:9876", ErrBadConfig, c.Target)
	case c.Connections < 1 || c.Connections > MaxConnections:
		return fmt.Errorf("%w: connections %d: want 1 to %d", ErrBadConfig, c.Connections, MaxConnections)
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: heartbeat interval %v: must be positive", ErrBadConfig, c.HeartbeatInterval)
	case math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("%w: rate %v: want 0 (no events) to %d events per second", ErrBadConfig, c.Rate, MaxRate)
	case c.Duration < 0 || c.Duration > MaxDuration:
		return fmt.Errorf("%w: duration %v: want up to %v", ErrBadConfig, c.Duration, MaxDuration)
	case c.Senders < 1 || c.DialConcurrency < 1:
		return fmt.Errorf("%w: senders and dial concurrency must be positive", ErrBadConfig)
	case c.SubscriptionID == "":
		return fmt.Errorf("%w: the subscription id is empty", ErrBadConfig)
	case c.AccessToken == "" && (c.ClientID == "" || c.ClientSecret == "" || c.AccountID == ""):
		return fmt.Errorf("%w: an access token, or a client id, client secret and account id to get one, are needed", ErrBadConfig)
	}
	return nil
}

// Result is what a run saw. Counts are over every connection; Problems says what went wrong.
type Result struct {
	Target    string `json:"target"`
	Requested int    `json:"requested"`
	// Connections is how many WebSockets opened and passed build_connection.
	Connections    int    `json:"connections"`
	DialFailures   int    `json:"dialFailures"`
	FirstDialError string `json:"firstDialError,omitempty"`
	// ClosedByServer counts connections the server ended before the run did.
	ClosedByServer int    `json:"closedByServer"`
	FirstClose     string `json:"firstClose,omitempty"`

	HeartbeatsSent     int64 `json:"heartbeatsSent"`
	HeartbeatsAnswered int64 `json:"heartbeatsAnswered"`

	EventsSent     int64  `json:"eventsSent"`
	EmitFailures   int64  `json:"emitFailures"`
	FirstEmitError string `json:"firstEmitError,omitempty"`
	// EventsDelivered is how many deliveries the server reported; EventsReceived how many arrived.
	EventsDelivered int64   `json:"eventsDelivered"`
	EventsReceived  int64   `json:"eventsReceived"`
	Latency         Latency `json:"latency"`

	// Held is how long the connections were held once open; SendRate the events per second achieved.
	Held     time.Duration `json:"held"`
	SendRate float64       `json:"sendRate"`
	// Stopped is true when the context ended the run before its duration.
	Stopped bool `json:"stopped,omitempty"`
}

// Problems lists, in words a person acts on, what kept the run from being clean.
func (r Result) Problems() []string {
	var out []string
	if r.DialFailures > 0 {
		out = append(out, fmt.Sprintf("%d of %d connections failed to open; the first: %s", r.DialFailures, r.Requested, r.FirstDialError))
	}
	if r.ClosedByServer > 0 {
		p := fmt.Sprintf("the server ended %d connections during the run; the first: %s", r.ClosedByServer, r.FirstClose)
		if strings.Contains(r.FirstClose, "replaced") {
			p += " (a mock keeps one connection per subscription unless served with --connection-policy fan-out)"
		}
		out = append(out, p)
	}
	if r.EmitFailures > 0 {
		out = append(out, fmt.Sprintf("%d events failed to emit; the first: %s", r.EmitFailures, r.FirstEmitError))
	}
	if lost := r.EventsDelivered - r.EventsReceived; lost > 0 && !r.Stopped {
		out = append(out, fmt.Sprintf("%d of %d deliveries the server reported never arrived", lost, r.EventsDelivered))
	}
	return out
}

// WriteSummary prints the result for a person: connections, heartbeats, events and latency.
func (r Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "load test of %s", r.Target)
	if r.Stopped {
		fmt.Fprint(w, " (stopped early)")
	}
	fmt.Fprintf(w, "\n  connections held:    %d of %d for %v (%d failed to open, %d closed by the server)\n",
		r.Connections, r.Requested, r.Held.Round(time.Millisecond), r.DialFailures, r.ClosedByServer)
	fmt.Fprintf(w, "  heartbeats answered: %d of %d sent\n", r.HeartbeatsAnswered, r.HeartbeatsSent)
	fmt.Fprintf(w, "  events received:     %d of %d delivered (%d emitted at %.0f/s, %d failed)\n",
		r.EventsReceived, r.EventsDelivered, r.EventsSent, r.SendRate, r.EmitFailures)
	l := r.Latency
	if l.Samples > 0 {
		fmt.Fprintf(w, "  latency emit→receive: p50 %v  p90 %v  p99 %v  max %v (%d samples)\n",
			round(l.P50), round(l.P90), round(l.P99), round(l.Max), l.Samples)
	}
	for _, p := range r.Problems() {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}

// round keeps three significant figures of a latency.
func round(d time.Duration) time.Duration {
	for unit := time.Duration(1); unit < time.Hour; unit *= 10 {
		if d < 1000*unit {
			return d.Round(unit)
		}
	}
	return d
}

// run is the state of one load test.
type run struct {
	cfg       Config
	wsURL     string // without the access token, for messages
	eventsURL string
	dialer    websocket.Dialer
	client    *http.Client
	lat       histogram
	stopping  atomic.Bool

	hbSent, hbAnswered, sent, delivered, received, emitFailures atomic.Int64

	mu             sync.Mutex
	dialFailures   int
	closedByServer int
	firstDialErr   string
	firstClose     string
	firstEmitErr   string
}

// Run performs one load test: it gets a token, opens cfg.Connections WebSockets (each heartbeating
// from the moment it opens), calls cfg.Ready, emits events at cfg.Rate for cfg.Duration, waits
// briefly for deliveries in flight, closes every connection with 1000 and returns what it saw.
// When ctx ends early it stops the same way and sets Result.Stopped. It fails only when the
// configuration is unusable or no connection opens; anything else is in Result.Problems.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if _, err := RaiseFileLimit(uint64(cfg.Connections) + fdSlack); err != nil {
		return Result{}, fmt.Errorf("failed to hold %d connections: %w", cfg.Connections, err)
	}
	g := newRun(cfg)
	defer g.client.CloseIdleConnections()
	res := Result{Target: cfg.Target, Requested: cfg.Connections}

	token := cfg.AccessToken
	if token == "" {
		var err error
		if token, err = g.token(ctx); err != nil {
			return res, err
		}
	}
	hbCtx, stopHeartbeats := context.WithCancel(ctx)
	defer stopHeartbeats()
	var wg sync.WaitGroup // readers and heartbeaters
	conns := g.dialAll(ctx, hbCtx, token, &wg)
	if len(conns) == 0 {
		g.mu.Lock()
		defer g.mu.Unlock()
		if ctx.Err() != nil {
			return res, fmt.Errorf("stopped before any connection opened: %w", ctx.Err())
		}
		return res, fmt.Errorf("failed to open any connection to %s: %s", g.wsURL, g.firstDialErr)
	}
	cfg.Logger.Info("connections open", "held", len(conns), "requested", cfg.Connections)
	if cfg.Ready != nil {
		cfg.Ready(len(conns))
	}

	start := time.Now()
	holdCtx, endHold := context.WithTimeout(ctx, cfg.Duration)
	if cfg.Rate > 0 {
		g.emitEvents(holdCtx)
	}
	<-holdCtx.Done()
	endHold()
	res.Held = time.Since(start)
	if ctx.Err() == nil {
		g.awaitDeliveries(ctx, 2*time.Second)
	}

	stopHeartbeats()
	g.stopping.Store(true)
	g.closeAll(conns, &wg)

	g.mu.Lock()
	defer g.mu.Unlock()
	res.Connections = len(conns)
	res.DialFailures, res.FirstDialError = g.dialFailures, g.firstDialErr
	res.ClosedByServer, res.FirstClose = g.closedByServer, g.firstClose
	res.HeartbeatsSent, res.HeartbeatsAnswered = g.hbSent.Load(), g.hbAnswered.Load()
	res.EventsSent, res.EmitFailures, res.FirstEmitError = g.sent.Load(), g.emitFailures.Load(), g.firstEmitErr
	res.EventsDelivered, res.EventsReceived = g.delivered.Load(), g.received.Load()
	res.Latency = g.lat.latency()
	if s := res.Held.Seconds(); s > 0 {
		res.SendRate = float64(res.EventsSent) / s
	}
	res.Stopped = ctx.Err() != nil
	return res, nil
}

func newRun(cfg Config) *run {
	u, _ := url.Parse(cfg.Target) // validated
	base := strings.TrimRight(u.String(), "/")
	ws := *u
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	ws.Path = strings.TrimRight(u.Path, "/") + "/ws"
	ws.RawQuery = "subscriptionId=" + url.QueryEscape(cfg.SubscriptionID)
	g := &run{
		cfg:       cfg,
		wsURL:     ws.String(),
		eventsURL: base + "/_mock/events?subscriptionId=" + url.QueryEscape(cfg.SubscriptionID),
		dialer: websocket.Dialer{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   2048,
			WriteBufferPool:  &sync.Pool{}, // heartbeats are rare: no write buffer held between them
		},
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: cfg.Senders + 1}},
	}
	if g.cfg.Emit == nil {
		g.cfg.Emit = g.adminEmit
	}
	return g
}

// token exchanges the app credentials for an access token, as a Zoom consumer does.
func (g *run) token(ctx context.Context) (string, error) {
	base := strings.TrimRight(g.cfg.Target, "/")
	endpoint := base + "/oauth/token?grant_type=account_credentials&account_id=" + url.QueryEscape(g.cfg.AccountID)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return "", fmt.Errorf("failed to build the token request: %w", err)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(g.cfg.ClientID+":"+g.cfg.ClientSecret)))
	body, err := g.do(req)
	if err != nil {
		return "", fmt.Errorf("failed to get an access token: %w", err)
	}
	var tr wire.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("failed to get an access token: %s answered without one: %.200q", endpoint, body)
	}
	return tr.AccessToken, nil
}

// do sends req and returns the body of a 2xx answer; anything else is an error quoting the body.
func (g *run) do(req *http.Request) ([]byte, error) {
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to read the answer of %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s answered %s: %.200q", req.Method, req.URL.Path, resp.Status, body)
	}
	return body, nil
}

// dialAll opens the connections with cfg.DialConcurrency dialers, starting each one's reader and
// heartbeats (owned by wg, stopped by hbCtx and closeAll) as soon as it is open. It gives up early
// when failures pile up, as they do when the server or the limit on open files says no.
func (g *run) dialAll(ctx, hbCtx context.Context, token string, wg *sync.WaitGroup) []*websocket.Conn {
	n := g.cfg.Connections
	wsURL := g.wsURL + "&access_token=" + url.QueryEscape(token)
	var (
		mu    sync.Mutex
		conns = make([]*websocket.Conn, 0, n)
		next  atomic.Int64
		dials sync.WaitGroup
	)
	maxFailures := n/10 + 10
	for range min(g.cfg.DialConcurrency, n) {
		dials.Add(1)
		go func() {
			defer dials.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				ws, err := g.dial(ctx, wsURL)
				if err != nil {
					g.mu.Lock()
					g.dialFailures++
					if g.firstDialErr == "" {
						g.firstDialErr = err.Error()
					}
					tooMany := g.dialFailures >= maxFailures
					g.mu.Unlock()
					if tooMany {
						next.Store(int64(n)) // stop every dialer
					}
					continue
				}
				mu.Lock()
				conns = append(conns, ws)
				mu.Unlock()
				wg.Add(2)
				go func() { defer wg.Done(); g.read(ws) }()
				go func() { defer wg.Done(); g.heartbeat(hbCtx, ws) }()
			}
		}()
	}
	dials.Wait()
	return conns
}

// dial opens one WebSocket and waits for a successful build_connection.
func (g *run) dial(ctx context.Context, wsURL string) (*websocket.Conn, error) {
	ws, resp, err := g.dialer.DialContext(ctx, wsURL, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("failed to open %s: %w (HTTP %s)", g.wsURL, err, resp.Status)
		}
		return nil, fmt.Errorf("failed to open %s: %w", g.wsURL, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("failed to read build_connection from %s: %w", g.wsURL, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	var reply wire.Reply
	if err := json.Unmarshal(data, &reply); err != nil || reply.Module != wire.ModuleBuildConnection || !reply.Success {
		ws.Close()
		return nil, fmt.Errorf("build_connection on %s failed: %.200q", g.wsURL, data)
	}
	return ws, nil
}

var heartbeatFrame = []byte(`{"module":"heartbeat"}`)

// heartbeat sends a heartbeat every interval, the first after a random part of it so that many
// connections do not beat in step. A failed write ends it; the reader reports the connection's end.
func (g *run) heartbeat(ctx context.Context, ws *websocket.Conn) {
	interval := g.cfg.HeartbeatInterval
	t := time.NewTimer(rand.N(interval) + 1)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, heartbeatFrame); err != nil {
			return
		}
		g.hbSent.Add(1)
		t.Reset(interval)
	}
}

// read counts heartbeat replies and events until the connection ends, timing each event from the
// emit time it carries.
func (g *run) read(ws *websocket.Conn) {
	var buf bytes.Buffer
	for {
		_, r, err := ws.NextReader()
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		now := time.Now()
		if err != nil {
			if !g.stopping.Load() {
				g.noteClose(err)
			}
			return
		}
		data := buf.Bytes()
		switch {
		case bytes.HasPrefix(data, []byte(`{"module":"heartbeat"`)):
			g.hbAnswered.Add(1)
		case bytes.Contains(data, []byte(EventName)):
			if sent, ok := sentAt(data); ok {
				g.lat.record(now.Sub(time.Unix(0, sent)))
				g.received.Add(1)
			}
		}
	}
}

func (g *run) noteClose(err error) {
	what := "the connection ended: " + err.Error()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		what = fmt.Sprintf("closed with %d %q", ce.Code, ce.Text)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closedByServer++
	if g.firstClose == "" {
		g.firstClose = what
	}
}

// sentAt finds the emit time in a message frame. The event is the frame's content, a JSON string,
// so its keys arrive with escaped quotes: \"sentUnixNano\":1764770400123456789.
func sentAt(frame []byte) (int64, bool) {
	i := bytes.Index(frame, []byte("sentUnixNano"))
	if i < 0 {
		return 0, false
	}
	rest := frame[i+len("sentUnixNano"):]
	rest = rest[min(len(rest), bytes.IndexAny(rest, "0123456789")):]
	end := 0
	for end < len(rest) && '0' <= rest[end] && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}

// emitEvents emits Rate×Duration events on a fixed schedule until ctx ends. A sender that falls
// behind makes the next events go out at once, so the average rate holds and SendRate shows it
// when it cannot.
func (g *run) emitEvents(ctx context.Context) {
	total := max(1, int64(math.Round(g.cfg.Rate*g.cfg.Duration.Seconds())))
	jobs := make(chan int64, g.cfg.Senders)
	var senders sync.WaitGroup
	for range g.cfg.Senders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for seq := range jobs {
				g.emitOne(ctx, seq)
			}
		}()
	}
	defer senders.Wait()
	defer close(jobs)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for seq := range total {
		due := start.Add(time.Duration(float64(seq) / g.cfg.Rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		select {
		case <-ctx.Done():
			return
		case jobs <- seq:
		}
	}
}

func (g *run) emitOne(ctx context.Context, seq int64) {
	event := fmt.Appendf(nil, `{"event":%q,"payload":{"seq":%d,"sentUnixNano":%d}}`, EventName, seq, time.Now().UnixNano())
	delivered, err := g.cfg.Emit(ctx, event)
	if err != nil {
		if ctx.Err() != nil {
			return // the run ended while the event was in flight
		}
		g.emitFailures.Add(1)
		g.mu.Lock()
		if g.firstEmitErr == "" {
			g.firstEmitErr = err.Error()
		}
		g.mu.Unlock()
		return
	}
	g.sent.Add(1)
	g.delivered.Add(int64(delivered))
}

// adminEmit posts one event to the admin API and reads how many connections it reached.
func (g *run) adminEmit(ctx context.Context, event []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.eventsURL, bytes.NewReader(event))
	if err != nil {
		return 0, fmt.Errorf("failed to build the event request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if g.cfg.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+g.cfg.AdminToken)
	}
	body, err := g.do(req)
	if err != nil {
		return 0, fmt.Errorf("failed to emit through the admin API: %w", err)
	}
	var res struct {
		Delivered *int `json:"delivered"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.Delivered == nil {
		return 0, fmt.Errorf("%s answered without a delivery count, so it is not zoommock's admin API: %.200q", g.eventsURL, body)
	}
	return *res.Delivered, nil
}

// awaitDeliveries waits until every delivery the server reported has arrived, or at most limit.
func (g *run) awaitDeliveries(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for g.received.Load() < g.delivered.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// closeAll closes every connection with 1000 and waits for its goroutines; connections whose
// server does not answer the close within a few seconds are dropped.
func (g *run) closeAll(conns []*websocket.Conn, wg *sync.WaitGroup) {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load test done")
	for _, ws := range conns {
		_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	for _, ws := range conns {
		ws.Close()
	}
	<-done
}
