package zoomtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zoommock/zoommock/mockserver"
)

// Server is a mock Zoom on a loopback port for one test: the token endpoint at TokenURL and the
// event WebSocket at WebSocketURL, steered by its methods. Methods that can fail report through
// the testing.TB given to NewServer, so call them from that test's goroutine (make one Server per
// test or subtest: they are cheap).
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, with no trailing slash, as in httptest.Server.
	URL string

	t           testing.TB
	mock        *mockserver.Server
	hs          *httptest.Server
	waitTimeout time.Duration
	recording   *Config // set by Cassette in record mode: the proxy's URLs and the real credentials
}

// Config is what the code under test needs to reach the server: its two URLs and the credentials
// of one app for one subscription. The field names follow Zoom's app settings page.
type Config struct {
	TokenURL     string // POST here for a token: http://127.0.0.1:port/oauth/token
	WebSocketURL string // ws://127.0.0.1:port/ws?subscriptionId=ID: append &access_token=TOKEN

	ClientID       string
	ClientSecret   string
	AccountID      string
	SubscriptionID string
	// SecretToken signs every event frame (x-zm-signature); a client verifies with it.
	SecretToken string
	// VerificationToken is the Authorization value in every event frame's header.
	VerificationToken string
}

// NewServer starts a mock Zoom for t on a loopback port. t.Cleanup closes everything it started:
// every WebSocket (with 1001, so a client sees a clean "going away"), every goroutine, then the
// listener. When the test has failed by then, the cleanup also logs what the mock saw. A setting
// that cannot work fails the test at once, naming the option.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return newServer(t, newSettings(opts))
}

// newServer starts the mock that set describes: NewServer's, or Cassette's with a playback.
func newServer(t testing.TB, set settings) *Server {
	t.Helper()
	if !set.logger {
		// Created before the cleanup below is registered, so it falls silent only after it.
		set.mock.Logger = NewLogger(t)
	}
	mock, err := mockserver.New(set.mock)
	if err != nil {
		t.Fatalf("zoomtest: NewServer: %v", err)
	}
	s := &Server{t: t, mock: mock, hs: httptest.NewServer(mock), waitTimeout: set.waitTimeout}
	s.URL = s.hs.URL
	t.Cleanup(s.close)
	return s
}

// close is the cleanup of NewServer. The mock goes first: httptest.Server.Close neither knows nor
// closes hijacked WebSockets, and would leave their goroutines running. A replay is reported
// before the mock closes any connection, so that its closes are not taken for the client's.
func (s *Server) close() {
	s.reportReplay()
	if s.t.Failed() {
		s.t.Logf("zoomtest: what the mock saw (oldest first):\n%s", describeJournal(s.mock.Journal(), 60))
	}
	cfg := s.mock.Config()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.CloseGrace+cfg.WriteTimeout)
	defer cancel()
	err := s.mock.Shutdown(ctx)
	s.hs.Close()
	if err != nil {
		s.t.Errorf("zoomtest: %v", err)
	}
}

// Mock is the mockserver.Server underneath, for what this package does not wrap (Stats, Reset,
// one connection's close, the admin API as an http.Handler).
func (s *Server) Mock() *mockserver.Server { return s.mock }

// TokenURL is where the client requests tokens: URL + "/oauth/token".
func (s *Server) TokenURL() string { return s.URL + "/oauth/token" }

// WebSocketURL is the event WebSocket of the default subscription, as Zoom's settings page shows
// it: ws://127.0.0.1:port/ws?subscriptionId=ID, ready for "&access_token=" + token.
func (s *Server) WebSocketURL() string { return s.Config().WebSocketURL }

// Config describes the first subscription of the first app: the development credentials unless
// WithApps or WithSubscriptions changed them.
func (s *Server) Config() Config {
	if s.recording != nil {
		return *s.recording
	}
	app := s.mock.Config().Apps[0]
	return s.config(app, app.Subscriptions[0].ID)
}

// ConfigFor describes subscriptionID and its app, for a test with several subscriptions or apps.
// An unknown id fails the test.
func (s *Server) ConfigFor(subscriptionID string) Config {
	s.t.Helper()
	var ids []string
	for _, app := range s.mock.Config().Apps {
		for _, sub := range app.Subscriptions {
			if sub.ID == subscriptionID {
				return s.config(app, sub.ID)
			}
			ids = append(ids, sub.ID)
		}
	}
	s.t.Fatalf("zoomtest: ConfigFor(%q): no such subscription; the server has %q", subscriptionID, ids)
	return Config{}
}

func (s *Server) config(app mockserver.App, subscriptionID string) Config {
	return Config{
		TokenURL:          s.TokenURL(),
		WebSocketURL:      "ws" + strings.TrimPrefix(s.URL, "http") + "/ws?subscriptionId=" + subscriptionID,
		ClientID:          app.ClientID,
		ClientSecret:      app.ClientSecret,
		AccountID:         app.AccountID,
		SubscriptionID:    subscriptionID,
		SecretToken:       app.SecretToken,
		VerificationToken: app.VerificationToken,
	}
}

// Emit sends an inner Zoom event to every open connection of every subscription, as Zoom would
// when it happens. event is an Event (see MeetingStarted and the other constructors), raw JSON
// ([]byte, json.RawMessage or string), or any value that encodes to the JSON object
// {"event":"...","payload":{...}} (a struct or a map). A missing event_ts is set to now.
//
// The event travels as Zoom's message frame: its JSON serialized into the string "content",
// signed with the app's secret token, with a fresh x-zm-trackingid. An event emitted while no
// connection is open is dropped, as Zoom drops it; the result says so and the test log explains.
// A malformed event fails the test.
func (s *Server) Emit(event any) mockserver.EmitResult {
	s.t.Helper()
	return s.EmitTo("", event)
}

// EmitTo is Emit for one subscription only.
func (s *Server) EmitTo(subscriptionID string, event any) mockserver.EmitResult {
	s.t.Helper()
	data, err := eventJSON(event)
	if err != nil {
		s.t.Fatalf("zoomtest: Emit: %v", err)
		return mockserver.EmitResult{}
	}
	res, err := s.mock.Emit(subscriptionID, data)
	if err != nil {
		s.t.Fatalf("zoomtest: Emit: %v", err)
		return res
	}
	if res.Dropped {
		s.t.Logf("zoomtest: %s was dropped: no connection was open, and Zoom never re-fires an event "+
			"(call WaitForConnection before Emit if the client should have received it)", res.Event)
	}
	return res
}

// eventJSON encodes what Emit accepts.
func eventJSON(event any) ([]byte, error) {
	switch v := event.(type) {
	case Event:
		return v.MarshalJSON()
	case []byte:
		return v, nil
	case json.RawMessage:
		return v, nil
	case string:
		return []byte(v), nil
	}
	data, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the event: %w", err)
	}
	return data, nil
}

// Connections lists the open connections that passed build_connection, oldest first.
func (s *Server) Connections() []mockserver.ConnectionInfo { return s.mock.Connections() }

// CloseConnections closes every open connection with a close frame of code and reason, as Zoom
// does when it restarts (1001) or fails (1011), and returns how many it closed. A code that may
// not be sent (1005, 1006, 1015, or outside 1000-4999) fails the test: use DropConnections for an
// abrupt end.
func (s *Server) CloseConnections(code int, reason string) int {
	s.t.Helper()
	if _, err := mockserver.ParseCloseSpec(fmt.Sprintf("%d:%s", code, reason)); err != nil {
		s.t.Fatalf("zoomtest: CloseConnections: %v", err)
		return 0
	}
	return s.mock.CloseConnections(code, reason)
}

// DropConnections ends every open connection's TCP connection without a close frame, as a network
// failure does (the client sees 1006), and returns how many it dropped.
func (s *Server) DropConnections() int { return s.mock.DropConnections() }

// ExpireTokens makes every token issued so far expire now: the next connection with one of them
// fails with the invalid-token text, and open ones close when WithCloseOnTokenExpiry is set.
func (s *Server) ExpireTokens() { s.mock.ExpireTokens() }

// InvalidateTokens revokes every token issued so far before its expiry, as Zoom did when a newer
// token was requested: the next connection with any of them fails. Open connections live on.
func (s *Server) InvalidateTokens() { s.mock.InvalidateTokens() }

// SetFaults switches the server's faults (stop answering heartbeats, delay, backdate or duplicate
// events, reject tokens, close at token expiry); the zero Faults switches them all off.
func (s *Server) SetFaults(f mockserver.Faults) { s.mock.SetFaults(f) }

// Journal returns everything the mock saw and did, oldest first: token requests, connections,
// client and server frames, closes and dropped events, each with a Note when the client did
// something Zoom would not like. Compare entries with go-cmp and IgnoreVolatile.
func (s *Server) Journal() []mockserver.Entry { return s.mock.Journal() }
