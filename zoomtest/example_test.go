package zoomtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/examples/consumer"
	"github.com/zoommock/zoommock/zoomtest"
)

// exampleT stands in for the *testing.T that a test passes to NewServer, as an example function
// has none. It runs the cleanups when the example ends and prints any failure.
type exampleT struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
}

func (*exampleT) Helper()             {}
func (*exampleT) Log(...any)          {}
func (*exampleT) Logf(string, ...any) {}
func (*exampleT) Failed() bool        { return false }
func (*exampleT) Errorf(format string, args ...any) {
	fmt.Printf("ERROR "+format+"\n", args...)
}
func (*exampleT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleT) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// A test of a Zoom consumer (here the one in examples/consumer) starts the server, points the
// consumer at it, and checks what the consumer does with an event.
func Example() {
	t := &exampleT{} // in a test: func TestConsumer(t *testing.T)
	defer t.cleanup()

	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	handled := make(chan consumer.Event, 1)
	c, err := consumer.New(consumer.Config{
		TokenURL: cfg.TokenURL, WebSocketURL: cfg.WebSocketURL,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, AccountID: cfg.AccountID,
		SecretToken: cfg.SecretToken,
	}, func(_ context.Context, ev consumer.Event) { handled <- ev },
		consumer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("consumer.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	srv.WaitForConnection(ctx)
	srv.Emit(zoomtest.MeetingStarted().With("payload.object.topic", "Standup"))
	ev := <-handled
	var payload struct {
		Object struct{ Topic string } `json:"object"`
	}
	_ = json.Unmarshal(ev.Payload, &payload)
	fmt.Println(ev.Name, payload.Object.Topic)

	stop()
	fmt.Println("Run:", <-done)
	srv.CheckClient() // reports anything the consumer did that Zoom would not accept
	// Output:
	// meeting.started Standup
	// Run: <nil>
}

// Options pin the behaviour a test depends on, here Zoom's invalid-token text before 2025 and a
// heartbeat timeout short enough to catch a client that stops heartbeating.
func ExampleNewServer() {
	t := &exampleT{}
	defer t.cleanup()

	srv := zoomtest.NewServer(t,
		zoomtest.WithInvalidTokenText("Invalid Token"),
		zoomtest.WithHeartbeatTimeout(200*time.Millisecond))
	ws, _, err := websocket.DefaultDialer.Dial(srv.WebSocketURL()+"&access_token=forged", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	_, frame, _ := ws.ReadMessage()
	fmt.Printf("%s\n", frame)
	// Output:
	// {"module":"build_connection","success":false,"content":"Invalid Token","header":{}}
}

// An event emitted while no client is connected is lost, as with Zoom; Emit says so.
func ExampleServer_Emit() {
	t := &exampleT{}
	defer t.cleanup()

	srv := zoomtest.NewServer(t)
	res := srv.Emit(`{"event":"meeting.ended","payload":{"object":{"id":"1"}}}`)
	fmt.Println(res.Event, "delivered:", res.Delivered, "dropped:", res.Dropped)
	// Output:
	// meeting.ended delivered: 0 dropped: true
}

// Mistakes says what the client did wrong, in words: here, a token sent in an Authorization header
// (Zoom ignores it) instead of the query string.
func ExampleServer_Mistakes() {
	t := &exampleT{}
	defer t.cleanup()

	srv := zoomtest.NewServer(t)
	header := http.Header{"Authorization": {"Bearer some-token"}}
	ws, _, err := websocket.DefaultDialer.Dial(srv.WebSocketURL(), header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	_, _, _ = ws.ReadMessage() // build_connection, success:false
	for _, m := range srv.Mistakes() {
		fmt.Println(m)
	}
	// Output:
	// connection c1 was refused (token is empty): the client sent an Authorization header, which Zoom ignores: the token belongs in ?access_token=; no access_token in the query string
}

// The constructors return complete, realistic events; With changes what a test cares about.
func ExampleEvent_With() {
	ev := zoomtest.UserUpdated().
		With("payload.object.first_name", "Ada").
		With("payload.old_object.first_name", "Grace")
	fmt.Println(ev)
	// Output:
	// {"event":"user.updated","payload":{"account_id":"Q2k9mXr4TzWv8aLpN3bYcA","object":{"first_name":"Ada","id":"Zt4nB7cXvM1qW9eRtY6uIo"},"old_object":{"first_name":"Grace","id":"Zt4nB7cXvM1qW9eRtY6uIo"},"operator":"admin@example.com","operator_id":"Ov8eR2tYpLq5sDfGhJk1Zw","time_stamp":1764775000333}}
}
