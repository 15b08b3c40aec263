package zoomtest

import (
	"log/slog"
	"time"

	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// Option changes one setting of a Server made by NewServer. Every setting of mockserver.Config has
// an option, so a test states the behaviour it depends on in its own words; settings a test does
// not name keep the mock's documented defaults (those of the real Zoom where they are known).
type Option func(*settings)

// settings is what the options build: the mock's configuration and zoomtest's own knobs. A later
// record/replay constructor takes the same options, so it starts from the same struct.
type settings struct {
	mock        mockserver.Config
	waitTimeout time.Duration
	logger      bool              // Logger was set by an option (nil included): do not log to t.Log
	replay      []replayer.Option // for Cassette
}

// defaultWaitTimeout bounds a waiter whose context has no deadline, so a broken client fails a
// test in seconds with a message instead of hanging until go test's own timeout.
const defaultWaitTimeout = 5 * time.Second

// defaultCloseGrace replaces the mock's 1s wait for a client's close reply: a test client on
// loopback answers in microseconds, and a client that never answers should not slow every test.
const defaultCloseGrace = 250 * time.Millisecond

func newSettings(opts []Option) settings {
	s := settings{waitTimeout: defaultWaitTimeout}
	s.mock.CloseGrace = defaultCloseGrace
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithWaitTimeout bounds the waiters (WaitForConnection, WaitForHeartbeats, WaitForClose,
// WaitFor) when their context has no deadline (default 5s).
func WithWaitTimeout(d time.Duration) Option { return func(s *settings) { s.waitTimeout = d } }

// WithApps replaces the development app by apps, for tests of several apps or subscriptions.
// Server.Config describes the first subscription of the first app.
func WithApps(apps ...mockserver.App) Option {
	return func(s *settings) { s.mock.Apps = append([]mockserver.App(nil), apps...) }
}

// WithSubscriptions gives the development app these subscription ids instead of its one, for a
// consumer that follows several subscriptions with one set of credentials. The first is the one
// Server.Config and Server.WebSocketURL use.
func WithSubscriptions(ids ...string) Option {
	return func(s *settings) {
		app := mockserver.DevApp()
		app.Subscriptions = nil
		for _, id := range ids {
			app.Subscriptions = append(app.Subscriptions, mockserver.Subscription{ID: id})
		}
		s.mock.Apps = []mockserver.App{app}
	}
}

// WithTokenTTL sets how long access tokens live (default 1h; expires_in is the TTL in seconds minus
// one), so a test sees a client renew its token without waiting an hour.
func WithTokenTTL(d time.Duration) Option { return func(s *settings) { s.mock.TokenTTL = d } }

// WithLiveTokens limits the live tokens of an app (default 0, unlimited as Zoom is today); 1 makes
// every new token invalidate the older ones, as Zoom did in 2022-2023.
func WithLiveTokens(n int) Option { return func(s *settings) { s.mock.LiveTokens = n } }

// WithAPIURL sets api_url in token responses (default https://api.zoom.us), for a client that
// follows it to Zoom's REST API (point it at your own fake).
func WithAPIURL(u string) Option { return func(s *settings) { s.mock.APIURL = u } }

// WithStrictTokenRequest refuses a JSON token request body with "unsupported grant type", as the
// real server once did.
func WithStrictTokenRequest() Option { return func(s *settings) { s.mock.StrictTokenRequest = true } }

// WithHeartbeatTimeout closes a connection that sent no heartbeat for d (default 90s, Zoom's
// guessed behaviour; negative disables it). A short timeout proves in milliseconds that a client
// keeps its connection alive.
func WithHeartbeatTimeout(d time.Duration) Option {
	return func(s *settings) { s.mock.HeartbeatTimeout = d }
}

// WithAnyFrameResetsHeartbeat lets any client frame, not only {"module":"heartbeat"}, keep a
// connection alive, in case Zoom turns out to be that lenient.
func WithAnyFrameResetsHeartbeat() Option {
	return func(s *settings) { s.mock.AnyFrameResetsHeartbeat = true }
}

// WithHeartbeatClose sets the close sent when the heartbeat timeout strikes (default 1000
// "heartbeat timeout").
func WithHeartbeatClose(code int, reason string) Option {
	return func(s *settings) { s.mock.HeartbeatClose = mockserver.CloseSpec{Code: code, Reason: reason} }
}

// WithEmptyTokenText sets the build_connection content for a connection without access_token
// (default "token is empty", as seen from Zoom).
func WithEmptyTokenText(text string) Option {
	return func(s *settings) { s.mock.EmptyTokenText = text }
}

// WithInvalidTokenText sets the build_connection content for a wrong or expired token (default
// "Token is invalid", Zoom since 2025). "Invalid Token" is the text before: a client must survive
// both, so test it with both.
func WithInvalidTokenText(text string) Option {
	return func(s *settings) { s.mock.InvalidTokenText = text }
}

// WithUnknownSubscriptionText sets the build_connection content for an unknown subscription id
// (default "Invalid subscriptionId", a guess).
func WithUnknownSubscriptionText(text string) Option {
	return func(s *settings) { s.mock.UnknownSubscriptionText = text }
}

// WithConnectedText sets the content of a successful build_connection (default "connected", a
// guess: a client should check success, not this text).
func WithConnectedText(text string) Option { return func(s *settings) { s.mock.ConnectedText = text } }

// WithAuthFailureClose sets the close that follows a token failure (default 1008 "invalid_token").
func WithAuthFailureClose(code int, reason string) Option {
	return func(s *settings) { s.mock.AuthFailureClose = mockserver.CloseSpec{Code: code, Reason: reason} }
}

// WithSubscriptionFailureClose sets the close that follows an unknown subscription (default 1008
// "invalid_subscription").
func WithSubscriptionFailureClose(code int, reason string) Option {
	return func(s *settings) {
		s.mock.SubscriptionFailureClose = mockserver.CloseSpec{Code: code, Reason: reason}
	}
}

// WithConnectionPolicy decides what a second connection on one subscription does (default
// mockserver.KickOld; also RejectNew and FanOut), since Zoom's behaviour is not documented.
func WithConnectionPolicy(p mockserver.Policy) Option {
	return func(s *settings) { s.mock.ConnectionPolicy = p }
}

// WithKickClose sets the close of a connection displaced under KickOld (default 1000 "replaced by a
// newer connection").
func WithKickClose(code int, reason string) Option {
	return func(s *settings) { s.mock.KickClose = mockserver.CloseSpec{Code: code, Reason: reason} }
}

// WithRejectNewText sets the build_connection content of a connection refused under RejectNew.
func WithRejectNewText(text string) Option { return func(s *settings) { s.mock.RejectNewText = text } }

// WithRejectNewClose sets the close that follows a RejectNew refusal (default 1008 "connection_limit").
func WithRejectNewClose(code int, reason string) Option {
	return func(s *settings) { s.mock.RejectNewClose = mockserver.CloseSpec{Code: code, Reason: reason} }
}

// WithCloseOnTokenExpiry closes an open connection when its token expires (default: Zoom is
// guessed to check the token only at connect).
func WithCloseOnTokenExpiry() Option { return func(s *settings) { s.mock.CloseOnTokenExpiry = true } }

// WithTokenExpiryClose sets the close sent at token expiry (default 1008 "invalid_token").
func WithTokenExpiryClose(code int, reason string) Option {
	return func(s *settings) { s.mock.TokenExpiryClose = mockserver.CloseSpec{Code: code, Reason: reason} }
}

// WithBufferEvents keeps events emitted while no connection is open for the next one. Zoom never
// does this (its events are lost): use it only when a test is about something else.
func WithBufferEvents() Option { return func(s *settings) { s.mock.BufferEvents = true } }

// WithReadLimit sets the largest client frame the server accepts (default 64 KiB; larger ones are
// closed with 1009).
func WithReadLimit(n int64) Option { return func(s *settings) { s.mock.ReadLimit = n } }

// WithWriteTimeout sets how long the server waits for a client to take one frame before dropping
// it (default 10s).
func WithWriteTimeout(d time.Duration) Option { return func(s *settings) { s.mock.WriteTimeout = d } }

// WithSendQueue sets how many frames may wait for a client that does not read before it is
// dropped (default 4096).
func WithSendQueue(n int) Option { return func(s *settings) { s.mock.SendQueue = n } }

// WithCloseGrace sets how long the server waits for a client's close reply before it drops the
// TCP connection (zoomtest's default is 250ms, the mock's 1s).
func WithCloseGrace(d time.Duration) Option { return func(s *settings) { s.mock.CloseGrace = d } }

// WithMaxBodyBytes limits token request bodies (default 1 MiB).
func WithMaxBodyBytes(n int64) Option { return func(s *settings) { s.mock.MaxBodyBytes = n } }

// WithJournalLimit sets how many journal entries are kept (default 100000); older ones are dropped.
func WithJournalLimit(n int) Option { return func(s *settings) { s.mock.JournalLimit = n } }

// WithLogger sends the server's logs to l instead of t.Log; nil discards them.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) { s.mock.Logger, s.logger = l, true }
}

// WithConfig edits the mock's configuration directly, for a setting added to mockserver.Config
// after this package was written. The named options are clearer where one exists.
func WithConfig(edit func(*mockserver.Config)) Option { return func(s *settings) { edit(&s.mock) } }

// WithSpeed sets the speed a Cassette replays at: 0 (zoomtest's default) as fast as the client
// reads, 1 real time (for a test of timing), N N times faster. NewServer ignores it.
func WithSpeed(speed float64) Option {
	return func(s *settings) { s.replay = append(s.replay, replayer.WithSpeed(speed)) }
}

// WithStepping makes a Cassette hold every recorded frame until Server.Step releases it, so a
// test can check the client's state between two events. NewServer ignores it.
func WithStepping() Option {
	return func(s *settings) { s.replay = append(s.replay, replayer.WithStep()) }
}

// WithReplayStrictness sets what a Cassette compares between the client and the recording's
// client (default replayer.StrictAll: frames, heartbeat cadence, tokens, closes, connections;
// replayer.StrictFrames leaves out heartbeats, tokens and closes; replayer.StrictOff compares
// nothing). NewServer ignores it.
func WithReplayStrictness(st replayer.Strictness) Option {
	return func(s *settings) { s.replay = append(s.replay, replayer.WithStrictness(st)) }
}
