package consumer_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/examples/consumer"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Fast intervals for tests: heartbeats every 25ms, a connection silent for 1s is dead (forty
// times the interval, so a loaded machine running -race does not kill healthy connections), and
// reconnections wait 5 to 50ms.
const (
	every     = 25 * time.Millisecond
	deadAfter = time.Second
)

// start runs a consumer against srv until the test ends; then it stops it, expects Run to return
// nil, and checks with zoomtest that it did nothing Zoom would not accept. The returned channel
// receives the events it handles.
func start(t *testing.T, srv *zoomtest.Server, opts ...consumer.Option) <-chan consumer.Event {
	t.Helper()
	events := make(chan consumer.Event, 100)
	c := newConsumer(t, srv.Config(), func(_ context.Context, ev consumer.Event) { events <- ev }, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil after a shutdown", err)
		}
		srv.CheckClient()
	})
	return events
}

// connected starts a server and a consumer, and returns once the consumer is connected.
func connected(t *testing.T, opts ...consumer.Option) (*zoomtest.Server, <-chan consumer.Event) {
	t.Helper()
	srv := zoomtest.NewServer(t)
	events := start(t, srv, opts...)
	srv.WaitForConnection(ctxFor(t))
	return srv, events
}

func newConsumer(t *testing.T, cfg zoomtest.Config, h consumer.Handler, opts ...consumer.Option) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(consumer.Config{
		TokenURL:     cfg.TokenURL,
		WebSocketURL: cfg.WebSocketURL,
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		AccountID:    cfg.AccountID,
		SecretToken:  cfg.SecretToken,
	}, h, append([]consumer.Option{
		consumer.WithHeartbeat(every, deadAfter),
		consumer.WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		consumer.WithLogger(zoomtest.NewLogger(t)),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next handled event, failing the test when none comes.
func next(t *testing.T, events <-chan consumer.Event) consumer.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event handled within 5s")
		return consumer.Event{}
	}
}

func TestHandlesEvents(t *testing.T) {
	t.Parallel()
	srv, events := connected(t)

	res := srv.Emit(zoomtest.MeetingStarted().With("payload.object.topic", "Standup"))
	ev := next(t, events)
	var payload struct {
		Object struct{ Topic string } `json:"object"`
	}
	if err := json.Unmarshal(ev.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if ev.Name != "meeting.started" || payload.Object.Topic != "Standup" || ev.TrackingID != res.TrackingIDs[0] || time.Since(ev.Time) > time.Minute {
		t.Errorf("handled %+v (topic %q), want meeting.started about Standup, tracking id %s, stamped now", ev, payload.Object.Topic, res.TrackingIDs[0])
	}

	srv.Emit(zoomtest.RecordingCompleted())
	if ev := next(t, events); ev.Name != "recording.completed" || !strings.Contains(string(ev.Body), `"download_token":`) {
		t.Errorf("handled %s with body %s, want recording.completed with its download_token", ev.Name, ev.Body)
	}
}

// TestHeartbeats proves the consumer keeps its connection alive through many heartbeat timeouts.
func TestHeartbeats(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t, zoomtest.WithHeartbeatTimeout(deadAfter))
	start(t, srv)
	ctx := ctxFor(t)
	first := srv.WaitForConnection(ctx)
	srv.WaitForHeartbeats(ctx, 60) // 1.5s at least: longer than the timeout
	if now := srv.WaitForConnection(ctx); now.ID != first.ID {
		t.Errorf("connection %s replaced by %s, want it kept alive", first.ID, now.ID)
	}
}

// TestSurvives breaks the connection as Zoom does, and checks that the consumer reconnects, with a
// new token where the old one is dead, and keeps handling events.
func TestSurvives(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []zoomtest.Option
		break_   func(ctx context.Context, srv *zoomtest.Server)
		closedBy string // who ends the first connection
		newToken bool   // the old token cannot work any more
	}{
		{"abrupt drop", nil, func(_ context.Context, srv *zoomtest.Server) { srv.DropConnections() }, "server", false},
		{"close 1001", nil, func(_ context.Context, srv *zoomtest.Server) { srv.CloseConnections(1001, "going away") }, "server", false},
		{"close 1011", nil, func(_ context.Context, srv *zoomtest.Server) { srv.CloseConnections(1011, "internal error") }, "server", false},
		{"close 1000", nil, func(_ context.Context, srv *zoomtest.Server) { srv.CloseConnections(1000, "") }, "server", false},
		{
			"token expiry closes the connection", []zoomtest.Option{zoomtest.WithCloseOnTokenExpiry()},
			func(_ context.Context, srv *zoomtest.Server) { srv.ExpireTokens() }, "server", true,
		},
		{
			// Zoom's words in 2023 ("Token is invalid" since 2025): a client must not depend on them.
			"Invalid Token on reconnect", []zoomtest.Option{zoomtest.WithInvalidTokenText("Invalid Token")},
			func(_ context.Context, srv *zoomtest.Server) {
				srv.InvalidateTokens()
				srv.DropConnections()
			}, "server", true,
		},
		{
			// The consumer must notice the silence itself and replace the connection.
			"heartbeat replies stop", nil,
			func(ctx context.Context, srv *zoomtest.Server) {
				srv.SetFaults(mockserver.Faults{StopHeartbeatReplies: true})
				srv.WaitForClose(ctx, "c1")
				srv.SetFaults(mockserver.Faults{})
			}, "client", false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := zoomtest.NewServer(t, tt.opts...)
			events := start(t, srv)
			ctx := ctxFor(t)
			first := srv.WaitForConnection(ctx)

			tt.break_(ctx, srv)
			if e := srv.WaitForClose(ctx, first.ID); e.Close.By != tt.closedBy {
				t.Errorf("%s ended by the %s (%s), want the %s", first.ID, e.Close.By, e.Note, tt.closedBy)
			}
			now := srv.WaitForConnection(ctx)
			if now.ID == first.ID || (tt.newToken && now.TokenRef == first.TokenRef) {
				t.Errorf("after the break: connection %s with token %s, before %s with %s", now.ID, now.TokenRef, first.ID, first.TokenRef)
			}
			srv.Emit(zoomtest.UserCreated())
			if ev := next(t, events); ev.Name != "user.created" {
				t.Errorf("after reconnecting handled %s, want user.created", ev.Name)
			}
		})
	}
}

// TestRenewsTokenBeforeExpiry gives tokens a 1s lifetime (expires_in 1) and checks that a
// reconnection after 200ms, while the old token is still valid, already uses a new one.
func TestRenewsTokenBeforeExpiry(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t, zoomtest.WithTokenTTL(2*time.Second))
	start(t, srv, consumer.WithRenewBefore(800*time.Millisecond))
	ctx := ctxFor(t)
	if c := srv.WaitForConnection(ctx); c.TokenRef != "t1" {
		t.Fatalf("first connection uses %s, want t1", c.TokenRef)
	}
	srv.WaitForHeartbeats(ctx, 10) // ten ticks of the 25ms ticker: 250ms after connecting at least
	srv.DropConnections()
	srv.WaitForClose(ctx, "c1")
	if c := srv.WaitForConnection(ctx); c.TokenRef == "t1" {
		t.Errorf("reconnected as %s with %s, want a renewed token", c.ID, c.TokenRef)
	}
	for _, e := range srv.Journal() {
		if e.Open != nil && !e.Open.Success {
			t.Errorf("connection %s refused (%s): the token should have been renewed before", e.Connection, e.Note)
		}
	}
}

// TestHandlesDuplicatesOnce has Zoom deliver an event twice and checks it is handled once.
func TestHandlesDuplicatesOnce(t *testing.T) {
	t.Parallel()
	srv, events := connected(t)
	srv.SetFaults(mockserver.Faults{DuplicateEvents: true})
	srv.Emit(zoomtest.ParticipantJoined())
	srv.SetFaults(mockserver.Faults{})
	srv.Emit(zoomtest.ParticipantLeft()) // after the duplicate on the same connection
	if a, b := next(t, events), next(t, events); a.Name != "meeting.participant_joined" || b.Name != "meeting.participant_left" {
		t.Errorf("handled %s then %s, want joined once, then left", a.Name, b.Name)
	}
}

// TestHandlesLargeEvents sends events far over 4 KiB, which a client reading into one fixed
// buffer would truncate.
func TestHandlesLargeEvents(t *testing.T) {
	t.Parallel()
	// Under the race detector a 1 MiB frame can take longer than the dead timeout of the other
	// tests to be built, sent and read.
	srv, events := connected(t, consumer.WithHeartbeat(every, 5*time.Second))
	for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
		topic := strings.Repeat("x", size)
		srv.Emit(zoomtest.MeetingEnded().With("payload.object.topic", topic))
		ev := next(t, events)
		if !strings.Contains(string(ev.Payload), topic) {
			t.Errorf("a %d byte topic arrived as %d bytes of payload", size, len(ev.Payload))
		}
	}
}

// TestShutdown checks that Run ends on its context with a close frame, and returns nil.
func TestShutdown(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	c := newConsumer(t, srv.Config(), func(context.Context, consumer.Event) {})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	srv.WaitForConnection(ctxFor(t))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	e := srv.WaitForClose(ctxFor(t), "c1")
	if *e.Close != (mockserver.CloseEntry{By: "client", Code: 1000, Reason: "consumer shutting down"}) {
		t.Errorf("close = %+v, want the client's 1000", *e.Close)
	}
	srv.CheckClient()
}

func TestStopsWhenCredentialsAreRefused(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	cfg.ClientSecret = "wrong"
	err := newConsumer(t, cfg, func(context.Context, consumer.Event) {}).Run(ctxFor(t))
	if !errors.Is(err, consumer.ErrTokenRefused) || !strings.Contains(err.Error(), "invalid_client (Invalid client_id or client_secret)") {
		t.Errorf("Run = %v, want ErrTokenRefused with Zoom's reason", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := consumer.Config{
		TokenURL: "https://zoom.us/oauth/token", WebSocketURL: "wss://ws.zoom.us/ws?subscriptionId=abc",
		ClientID: "id", ClientSecret: "secret", AccountID: "acc", SecretToken: "st",
	}
	h := func(context.Context, consumer.Event) {}
	tests := []struct {
		name string
		edit func(*consumer.Config)
		h    consumer.Handler
		opts []consumer.Option
		want string
	}{
		{"no client id", func(c *consumer.Config) { c.ClientID = "" }, h, nil, "ClientID is empty"},
		{"no secret token", func(c *consumer.Config) { c.SecretToken = "" }, h, nil, "SecretToken is empty"},
		{"token URL", func(c *consumer.Config) { c.TokenURL = "zoom.us/oauth/token" }, h, nil, `TokenURL "zoom.us/oauth/token"`},
		{"websocket scheme", func(c *consumer.Config) { c.WebSocketURL = "https://ws.zoom.us/ws?subscriptionId=abc" }, h, nil, "WebSocketURL"},
		{"no subscription", func(c *consumer.Config) { c.WebSocketURL = "wss://ws.zoom.us/ws" }, h, nil, "subscriptionId=..."},
		{"no handler", func(*consumer.Config) {}, nil, nil, "Handler is nil"},
		{"heartbeat", func(*consumer.Config) {}, h, []consumer.Option{consumer.WithHeartbeat(time.Second, time.Second)}, "dead after longer than every"},
		{"backoff", func(*consumer.Config) {}, h, []consumer.Option{consumer.WithBackoff(time.Second, time.Millisecond)}, "want 0 < min <= max"},
		{"renewal", func(*consumer.Config) {}, h, []consumer.Option{consumer.WithRenewBefore(-1)}, "must not be negative"},
		{"nil logger", func(*consumer.Config) {}, h, []consumer.Option{consumer.WithLogger(nil)}, "must not be nil"},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		_, err := consumer.New(cfg, tt.h, tt.opts...)
		if !errors.Is(err, consumer.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want ErrConfig naming %q", tt.name, err, tt.want)
		}
	}
	if _, err := consumer.New(good, h); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}
