package recorder

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/zoommock/zoommock/cassettes"
)

// The real Zoom endpoints, which a recorder talks to unless told otherwise.
const (
	// DefaultOAuthUpstream is where Zoom's token endpoint lives (POST /oauth/token).
	DefaultOAuthUpstream = "https://zoom.us"
	// DefaultWSUpstream is where Zoom's event WebSocket lives (GET /ws).
	DefaultWSUpstream = "wss://ws.zoom.us"
	// DefaultHeartbeatInterval is how often Direct sends {"module":"heartbeat"}: Zoom's documented
	// cadence.
	DefaultHeartbeatInterval = 30 * time.Second
)

// Sentinel errors, wrapped with %w so that callers can branch with errors.Is.
var (
	// ErrBadOption means an Option holds a value the recorder cannot use, such as an upstream
	// URL with a path. NewProxy, NewDirect and CheckOptions return it before anything is dialled.
	ErrBadOption = errors.New("bad recorder option")
	// ErrUpstream means an upstream could not be reached, or (in direct mode, where zoommock is
	// the client) refused the recorder's credentials or connection.
	ErrUpstream = errors.New("upstream failed")
	// ErrClosed means Direct.Run was called a second time: a Direct records one session.
	ErrClosed = errors.New("recorder already closed")
)

// upstreamError is an upstream failure: its message says what failed, and errors.Is finds
// ErrUpstream.
type upstreamError struct{ msg string }

func (e *upstreamError) Error() string { return e.msg }
func (e *upstreamError) Unwrap() error { return ErrUpstream }

func upstreamErrorf(format string, args ...any) error {
	return &upstreamError{fmt.Sprintf(format, args...)}
}

// Option configures NewProxy and NewDirect.
type Option func(*config)

type config struct {
	oauthRaw, wsRaw string
	oauth, ws       *url.URL // validated, ws with a ws or wss scheme
	heartbeat       time.Duration
	redactor        *cassettes.Redactor
	log             *slog.Logger
}

// WithOAuthUpstream sets the base URL of the token endpoint, such as https://zoom.us or the URL
// of a mock. The recorder adds the path (/oauth/token) itself, so rawURL has none.
func WithOAuthUpstream(rawURL string) Option { return func(c *config) { c.oauthRaw = rawURL } }

// WithWSUpstream sets the base URL of the event WebSocket, such as wss://ws.zoom.us or the ws://
// URL of a mock (http and https are read as ws and wss). The recorder adds /ws and the query.
func WithWSUpstream(rawURL string) Option { return func(c *config) { c.wsRaw = rawURL } }

// WithHeartbeatInterval sets how often Direct sends a heartbeat (DefaultHeartbeatInterval).
// Tests use milliseconds; the proxy ignores it, since there the application sends heartbeats.
func WithHeartbeatInterval(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// WithRedactor replaces the recorder's own Redactor, for example one made with
// cassettes.WithPseudonyms, or with cassettes.WithSecrets for secrets known ahead of time. Every
// record passes through it before it is written; use a fresh Redactor per cassette.
func WithRedactor(r *cassettes.Redactor) Option { return func(c *config) { c.redactor = r } }

// WithLogger sets where the recorder says what happens (token exchanges, connections opening and
// closing, upstream failures). By default it logs nothing. Logs never hold a secret.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// CheckOptions reports the first bad option as NewProxy and NewDirect would, so that a program
// refuses a bad command line before it creates (or, when forced, overwrites) a cassette.
func CheckOptions(opts ...Option) error {
	_, err := newConfig(opts)
	return err
}

func newConfig(opts []Option) (config, error) {
	c := config{oauthRaw: DefaultOAuthUpstream, wsRaw: DefaultWSUpstream, heartbeat: DefaultHeartbeatInterval}
	for _, o := range opts {
		o(&c)
	}
	var err error
	if c.oauth, err = parseUpstream("OAuth", c.oauthRaw, map[string]string{"http": "http", "https": "https"}); err != nil {
		return c, err
	}
	if c.ws, err = parseUpstream("WebSocket", c.wsRaw, map[string]string{"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}); err != nil {
		return c, err
	}
	if c.heartbeat <= 0 {
		return c, fmt.Errorf("%w: heartbeat interval %v: must be positive", ErrBadOption, c.heartbeat)
	}
	if c.redactor == nil {
		c.redactor = cassettes.NewRedactor()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// parseUpstream checks that raw is a scheme and a host only, and maps its scheme through schemes.
func parseUpstream(what, raw string, schemes map[string]string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s upstream %q: %v", ErrBadOption, what, raw, err)
	}
	scheme, ok := schemes[u.Scheme]
	switch {
	case !ok || u.Host == "":
		return nil, fmt.Errorf("%w: %s upstream %q: want a scheme and a host, such as %s", ErrBadOption, what, raw, example(what))
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%w: %s upstream %q: want the scheme and host only, such as %s (the recorder adds the path and the query)",
			ErrBadOption, what, raw, example(what))
	}
	return &url.URL{Scheme: scheme, User: u.User, Host: u.Host}, nil
}

func example(what string) string {
	if what == "OAuth" {
		return DefaultOAuthUpstream
	}
	return DefaultWSUpstream
}
