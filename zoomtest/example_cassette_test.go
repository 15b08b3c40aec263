package zoomtest_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/zoommock/zoommock/examples/consumer"
	"github.com/zoommock/zoommock/zoomtest"
)

// A test replays a recording (here a built-in one; usually testdata/NAME.cassette, recorded once
// with ZOOMTEST_RECORD=1) and checks what the consumer did with its events. Had the consumer done
// anything the recording's client did not (another frame, a missed heartbeat, a reused token), the
// test would fail at its end with a diff.
func ExampleCassette() {
	t := &exampleT{} // in a test: func TestConsumer(t *testing.T)
	defer t.cleanup()

	srv := zoomtest.Cassette(t, "builtin:meeting-lifecycle")
	cfg := srv.Config()
	var handled []string // appended to by the consumer's goroutine, read after Run returns
	c, err := consumer.New(consumer.Config{
		TokenURL: cfg.TokenURL, WebSocketURL: cfg.WebSocketURL,
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, AccountID: cfg.AccountID,
		SecretToken: cfg.SecretToken,
	}, func(_ context.Context, ev consumer.Event) { handled = append(handled, ev.Name) },
		consumer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("consumer.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	srv.WaitForReplay(ctx) // every recorded event is written to the consumer's connection
	stop()
	fmt.Println("Run:", <-done)
	for _, name := range handled {
		fmt.Println(name)
	}
	// Output:
	// Run: <nil>
	// meeting.started
	// meeting.participant_joined
	// meeting.participant_joined
	// meeting.participant_left
	// meeting.participant_left
	// meeting.ended
	// recording.completed
}
