// Package consumer is a small but complete consumer of Zoom's WebSocket event subscriptions, meant
// to be copied. It does what a production consumer must:
//
//   - gets a Server-to-Server OAuth token, and a new one before the old expires;
//   - connects to the subscription's WebSocket, waits for build_connection, and sends a heartbeat
//     every 30 seconds;
//   - notices a dead connection (no frame from Zoom for 75 seconds: heartbeat replies stopped) and
//     reconnects, with exponential backoff and jitter, after any drop or close;
//   - fetches a new token when Zoom refuses the old one, whatever words it uses ("Invalid Token"
//     in 2023, "Token is invalid" since 2025);
//   - decodes each event (the frame's content is the webhook body as a JSON string), verifies its
//     x-zm-signature with the app's secret token, and drops duplicates by x-zm-trackingid;
//   - stops on its context: a close frame to Zoom, every goroutine ended, Run returns.
//
// Events that happen while it is disconnected are lost: Zoom does not re-send them. A consumer
// that must not miss one reconciles through Zoom's REST API after a reconnect.
//
// Its tests, in consumer_test.go, prove each point against zoomtest.
package consumer

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Config is what a deployment sets: where Zoom is and the app's credentials, from the app's page
// on the Zoom Marketplace.
type Config struct {
	// TokenURL is Zoom's token endpoint, https://zoom.us/oauth/token.
	TokenURL string
	// WebSocketURL is the subscription's URL as the app's page shows it,
	// wss://ws.zoom.us/ws?subscriptionId=...; the consumer appends &access_token=.
	WebSocketURL string

	ClientID     string
	ClientSecret string
	AccountID    string
	// SecretToken verifies each event's x-zm-signature; an event that fails is dropped.
	SecretToken string
}

// Event is one event from Zoom.
type Event struct {
	// Name is the event type, such as "meeting.started".
	Name string
	// Time is when it happened (event_ts); it may arrive much later.
	Time time.Time
	// Payload is the event's "payload" object: {"account_id":...,"object":{...}}.
	Payload json.RawMessage
	// Body is the whole webhook body, for keys outside the payload (download_token).
	Body json.RawMessage
	// TrackingID is x-zm-trackingid, unique per event.
	TrackingID string
}

// Handler receives each event once. It runs on the goroutine that reads the connection, so it
// should return quickly (hand slow work to a queue): Zoom closes a connection that falls behind.
type Handler func(ctx context.Context, ev Event)

// Option changes one interval or dependency of a Consumer.
type Option func(*Consumer)

// WithHeartbeat sets how often a heartbeat is sent (default 30s, as Zoom asks) and after how long
// without any frame from Zoom the connection is taken for dead and replaced (default 75s: two
// heartbeat replies missed, and before Zoom's own 90s timeout).
func WithHeartbeat(every, deadAfter time.Duration) Option {
	return func(c *Consumer) { c.every, c.deadAfter = every, deadAfter }
}

// WithBackoff sets the wait before a reconnection: min after a connection that worked, doubling
// after each failure up to max (defaults 1s and 1m), with jitter so that many consumers restarted
// together do not reconnect together.
func WithBackoff(min, max time.Duration) Option {
	return func(c *Consumer) { c.minBackoff, c.maxBackoff = min, max }
}

// WithRenewBefore sets how long before its expiry a token is replaced (default 5m).
func WithRenewBefore(d time.Duration) Option { return func(c *Consumer) { c.renewBefore = d } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *Consumer) { c.log = l } }

// WithHTTPClient sets the client of token requests (default: one with a 30s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Consumer) { c.http = hc } }

// ErrConfig is wrapped by New's errors about the configuration.
var ErrConfig = errors.New("bad consumer configuration")

// ErrTokenRefused is wrapped by Run's error when the token endpoint refuses the credentials (an
// HTTP 4xx): retrying cannot help, so Run stops.
var ErrTokenRefused = errors.New("token request refused")

// Consumer keeps one event subscription connected and hands its events to a Handler.
type Consumer struct {
	cfg    Config
	handle Handler
	log    *slog.Logger
	http   *http.Client
	dialer websocket.Dialer

	every, deadAfter       time.Duration
	minBackoff, maxBackoff time.Duration
	renewBefore            time.Duration

	// Run's goroutine alone uses these (one connection at a time), so they need no lock.
	token   string
	renewAt time.Time
	seen    recent
}

const (
	maxFrame  = 4 << 20     // the largest frame accepted: events are kilobytes, so 4 MiB is plenty
	closeWait = time.Second // how long a close frame waits for Zoom's reply at shutdown
	dedupe    = 10000       // how many tracking ids are remembered: duplicates come within seconds
)

// New checks cfg and returns a Consumer that calls handle for each event.
func New(cfg Config, handle Handler, opts ...Option) (*Consumer, error) {
	c := &Consumer{
		cfg: cfg, handle: handle,
		log:   slog.Default(),
		http:  &http.Client{Timeout: 30 * time.Second},
		every: 30 * time.Second, deadAfter: 75 * time.Second,
		minBackoff: time.Second, maxBackoff: time.Minute,
		renewBefore: 5 * time.Minute,
		dialer:      websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 10 * time.Second},
		seen:        recent{ids: map[string]bool{}, size: dedupe},
	}
	for _, o := range opts {
		o(c)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}

// check names the first setting that cannot work.
func (c *Consumer) check() error {
	for _, f := range []struct{ name, value string }{
		{"ClientID", c.cfg.ClientID}, {"ClientSecret", c.cfg.ClientSecret},
		{"AccountID", c.cfg.AccountID}, {"SecretToken", c.cfg.SecretToken},
	} {
		if f.value == "" {
			return fmt.Errorf("%s is empty", f.name)
		}
	}
	if u, err := url.Parse(c.cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("TokenURL %q: want https://zoom.us/oauth/token or another http(s) URL", c.cfg.TokenURL)
	}
	if u, err := url.Parse(c.cfg.WebSocketURL); err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Query().Get("subscriptionId") == "" {
		return fmt.Errorf("WebSocketURL %q: want wss://ws.zoom.us/ws?subscriptionId=... as the app's page shows it", c.cfg.WebSocketURL)
	}
	switch {
	case c.handle == nil:
		return errors.New("the Handler is nil")
	case c.every <= 0 || c.deadAfter <= c.every:
		return fmt.Errorf("heartbeat every %v, dead after %v: want both positive, and dead after longer than every", c.every, c.deadAfter)
	case c.minBackoff <= 0 || c.maxBackoff < c.minBackoff:
		return fmt.Errorf("backoff %v to %v: want 0 < min <= max", c.minBackoff, c.maxBackoff)
	case c.renewBefore < 0:
		return fmt.Errorf("renew before %v: must not be negative", c.renewBefore)
	case c.log == nil || c.http == nil:
		return errors.New("the logger and the HTTP client must not be nil")
	}
	return nil
}

// Run keeps the subscription connected until ctx ends, then says goodbye to Zoom with a close
// frame and returns nil once every goroutine it started has ended. It returns early only with an
// error wrapping ErrTokenRefused, when Zoom refuses the credentials.
func (c *Consumer) Run(ctx context.Context) error {
	backoff := backoff{min: c.minBackoff, max: c.maxBackoff}
	for {
		err := c.connect(ctx, &backoff)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrTokenRefused) {
			return err
		}
		wait := backoff.next()
		c.log.Warn("disconnected from Zoom: reconnecting", "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// errRefused means Zoom answered build_connection with success:false.
var errRefused = errors.New("Zoom refused the connection")

// connect runs one connection from token to close.
func (c *Consumer) connect(ctx context.Context, backoff *backoff) error {
	token, err := c.currentToken(ctx)
	if err != nil {
		return err
	}
	sep := "&"
	if !strings.Contains(c.cfg.WebSocketURL, "?") {
		sep = "?"
	}
	// Zoom wants the token in the query string (an Authorization header is ignored), appended as
	// is: tokens are URL-safe.
	ws, _, err := c.dialer.DialContext(ctx, c.cfg.WebSocketURL+sep+"access_token="+token, nil)
	if err != nil {
		return fmt.Errorf("failed to connect: %w", err)
	}
	defer ws.Close()
	ws.SetReadLimit(maxFrame)
	err = c.serve(ctx, ws, backoff)
	var ce *websocket.CloseError // readError wraps it, and IsCloseError does not unwrap
	if errors.Is(err, errRefused) || (errors.As(err, &ce) && ce.Code == websocket.ClosePolicyViolation) {
		// Zoom's words for a bad token have changed before, so any refusal, and a close for a
		// policy violation (how a token's end is announced), means a new token.
		c.token = ""
	}
	return err
}

// serve reads the connection until it ends, heartbeating from a second goroutine once Zoom has
// accepted it. When ctx ends it sends a close frame and waits for Zoom's reply. It returns only
// when both goroutines it may start have ended.
func (c *Consumer) serve(ctx context.Context, ws *websocket.Conn, backoff *backoff) error {
	readDone := make(chan struct{})
	goodbyeDone := make(chan struct{})
	stopGoodbye := context.AfterFunc(ctx, func() {
		defer close(goodbyeDone)
		goodbye(ws, websocket.CloseNormalClosure, "consumer shutting down")
		select {
		case <-readDone: // Zoom answered the close, which ended the read loop
		case <-time.After(closeWait):
			ws.Close()
		}
	})
	var heartbeats sync.WaitGroup
	err := c.readLoop(ctx, ws, func() {
		backoff.reset()
		heartbeats.Go(func() { c.heartbeat(ws, readDone) })
	})
	close(readDone)
	if !stopGoodbye() {
		<-goodbyeDone
	}
	heartbeats.Wait()
	return err
}

// frame is any frame Zoom sends. content is a string in every module: for "message" it is the
// webhook body serialized as JSON, to be decoded a second time.
type frame struct {
	Module  string `json:"module"`
	Success bool   `json:"success"`
	Content string `json:"content"`
	Header  struct {
		TrackingID string `json:"x-zm-trackingid"`
		Signature  string `json:"x-zm-signature"`
		Timestamp  string `json:"x-zm-request-timestamp"`
	} `json:"header"`
}

// readLoop handles frames until the connection fails; accepted runs once, on build_connection
// success.
func (c *Consumer) readLoop(ctx context.Context, ws *websocket.Conn, accepted func()) error {
	connected := false
	for {
		// Zoom answers every heartbeat, so silence this long means the connection is dead even
		// if TCP has not noticed.
		_ = ws.SetReadDeadline(time.Now().Add(c.deadAfter))
		_, data, err := ws.ReadMessage()
		if err != nil {
			return c.readError(ws, err)
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.log.Warn("frame from Zoom is not JSON: ignored", "err", err, "bytes", len(data))
			continue
		}
		switch f.Module {
		case "build_connection":
			if !f.Success {
				goodbye(ws, websocket.CloseNormalClosure, "")
				return fmt.Errorf("%w: %s", errRefused, f.Content)
			}
			if !connected {
				connected = true
				c.log.Info("connected to Zoom", "content", f.Content)
				accepted()
			}
		case "heartbeat":
			// The reply; reading it has already pushed the deadline back.
		case "message":
			c.deliver(ctx, f)
		default:
			c.log.Debug("frame with an unknown module: ignored", "module", f.Module)
		}
	}
}

// readError explains why reading stopped. When Zoom went silent, it also tells Zoom the
// connection is being replaced, in case it is still listening.
func (c *Consumer) readError(ws *websocket.Conn, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		reason := fmt.Sprintf("no frame for %v", c.deadAfter)
		goodbye(ws, websocket.CloseNormalClosure, reason)
		return fmt.Errorf("%s: connection taken for dead: %w", reason, err)
	}
	return fmt.Errorf("failed to read: %w", err)
}

// heartbeat sends {"module":"heartbeat"} every interval until stop is closed. A heartbeat that
// cannot be written within the dead-connection time means a dead connection; and after a failed
// write the connection cannot write anything again (gorilla/websocket keeps the error), not even
// a close frame. So it closes the connection, which ends the read loop and starts a reconnection.
func (c *Consumer) heartbeat(ws *websocket.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			_ = ws.SetWriteDeadline(time.Now().Add(c.deadAfter))
			if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`)); err != nil {
				c.log.Warn("failed to send a heartbeat: closing the connection", "err", err)
				ws.Close()
				return
			}
		}
	}
}

// goodbye sends a close frame. It may be called from any goroutine (gorilla's WriteControl may).
func goodbye(ws *websocket.Conn, code int, reason string) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(closeWait))
}

// deliver verifies, de-duplicates, decodes and hands on one event frame.
func (c *Consumer) deliver(ctx context.Context, f frame) {
	h := f.Header
	// Verify first, so that a forged frame cannot mark a real event's tracking id as seen.
	if !validSignature(c.cfg.SecretToken, h.Timestamp, f.Content, h.Signature) {
		c.log.Warn("event with a bad signature: dropped", "trackingId", h.TrackingID)
		return
	}
	if !c.seen.add(h.TrackingID) {
		c.log.Info("duplicate event: dropped", "trackingId", h.TrackingID)
		return
	}
	ev, err := decodeEvent(f.Content, h.TrackingID)
	if err != nil {
		c.log.Warn("event dropped", "err", err, "trackingId", h.TrackingID)
		return
	}
	c.handle(ctx, ev)
}

// validSignature checks x-zm-signature, Zoom's webhook rule:
// "v0=" + hex(HMAC-SHA256(secret token, "v0:" + timestamp + ":" + content)).
func validSignature(secret, timestamp, content, signature string) bool {
	if timestamp == "" {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, "v0:"+timestamp+":"+content)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(signature))
}

// decodeEvent reads the webhook body that a message frame carries as a string.
func decodeEvent(content, trackingID string) (Event, error) {
	var body struct {
		Event   string          `json:"event"`
		EventTS int64           `json:"event_ts"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal([]byte(content), &body); err != nil {
		return Event{}, fmt.Errorf("failed to decode the event: %w", err)
	}
	if body.Event == "" {
		return Event{}, errors.New(`failed to decode the event: no "event" name`)
	}
	return Event{
		Name:       body.Event,
		Time:       time.UnixMilli(body.EventTS),
		Payload:    body.Payload,
		Body:       json.RawMessage(content),
		TrackingID: trackingID,
	}, nil
}

// currentToken returns the token, fetching a new one when there is none or it is close to expiry.
// The token is checked only when connecting: Zoom checks it then, and an open connection lives
// on after it expires, so renewing it in the background would buy nothing.
func (c *Consumer) currentToken(ctx context.Context) (string, error) {
	if c.token != "" && time.Now().Before(c.renewAt) {
		return c.token, nil
	}
	token, lifetime, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.token = token
	c.renewAt = time.Now().Add(lifetime - c.renewBefore)
	c.log.Info("new token", "expiresIn", lifetime)
	return token, nil
}

// fetchToken asks for a token with the account_credentials grant (Server-to-Server OAuth).
func (c *Consumer) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {c.cfg.AccountID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("failed to request a token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.cfg.ClientID, c.cfg.ClientSecret)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("failed to request a token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("failed to read the token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Reason, Error string }
		_ = json.Unmarshal(body, &e)
		err := fmt.Errorf("%s: %s (%s)", resp.Status, e.Error, e.Reason)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return "", 0, fmt.Errorf("%w: %w", ErrTokenRefused, err)
		}
		return "", 0, fmt.Errorf("failed to get a token: %w", err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"` // seconds
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, fmt.Errorf("failed to read the token response: no access_token in %.100q", body)
	}
	return tr.AccessToken, time.Duration(tr.ExpiresIn) * time.Second, nil
}

// backoff is exponential backoff with jitter.
type backoff struct {
	min, max, cur time.Duration
}

// next returns the wait before the next attempt: between half and all of the current step, which
// then doubles up to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	}
	d := b.cur/2 + rand.N(b.cur/2+1)
	b.cur = min(2*b.cur, b.max)
	return d
}

// reset starts again from min, after a connection that worked.
func (b *backoff) reset() { b.cur = 0 }

// sleep waits d, or less if ctx ends first; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// recent remembers the last size tracking ids, oldest dropped first.
type recent struct {
	ids   map[string]bool
	order []string
	size  int
}

// add records id and reports whether it is new. An event without a tracking id cannot be matched,
// so it always counts as new.
func (r *recent) add(id string) bool {
	if id == "" {
		return true
	}
	if r.ids[id] {
		return false
	}
	if len(r.order) == r.size {
		delete(r.ids, r.order[0])
		r.order = r.order[1:]
	}
	r.ids[id] = true
	r.order = append(r.order, id)
	return true
}
