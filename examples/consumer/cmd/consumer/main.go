// Command consumer prints the events of one Zoom event subscription as JSON lines, one event a
// line, until SIGINT or SIGTERM. Settings come from flags, or from the environment variables named
// in each flag's help; prefer the environment for the secrets, which flags would show to ps:
//
//	export ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... ZOOM_ACCOUNT_ID=... ZOOM_SECRET_TOKEN=...
//	consumer -ws-url 'wss://ws.zoom.us/ws?subscriptionId=...'
//
// Against zoommock, use the URLs and development credentials that "zoommock serve" prints.
//
// Exit status: 0 after a signal, 1 when Zoom refuses the credentials, 2 for bad usage.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zoommock/zoommock/examples/consumer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, with its inputs and outputs as parameters so a test can run it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(name, env, def, usage string) *string {
		if v := getenv(env); v != "" {
			def = v
		}
		return fs.String(name, def, usage+" (env "+env+")")
	}
	tokenURL := str("token-url", "ZOOM_TOKEN_URL", "https://zoom.us/oauth/token", "Zoom's token endpoint")
	wsURL := str("ws-url", "ZOOM_WS_URL", "", "the subscription's WebSocket URL, wss://ws.zoom.us/ws?subscriptionId=...")
	clientID := str("client-id", "ZOOM_CLIENT_ID", "", "the app's client id")
	clientSecret := str("client-secret", "ZOOM_CLIENT_SECRET", "", "the app's client secret")
	accountID := str("account-id", "ZOOM_ACCOUNT_ID", "", "the app's account id")
	secretToken := str("secret-token", "ZOOM_SECRET_TOKEN", "", "the app's secret token, which signs events")
	heartbeat := fs.Duration("heartbeat", 30*time.Second, "interval between heartbeats")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "consumer: unexpected arguments %q: settings are flags\n", fs.Args())
		return 2
	}
	cfg := consumer.Config{TokenURL: *tokenURL, WebSocketURL: *wsURL, ClientID: *clientID,
		ClientSecret: *clientSecret, AccountID: *accountID, SecretToken: *secretToken}

	out := json.NewEncoder(stdout)
	printEvent := func(_ context.Context, ev consumer.Event) {
		// Handlers run one at a time, on the reading goroutine: the encoder needs no lock.
		_ = out.Encode(struct {
			Event      string          `json:"event"`
			Time       time.Time       `json:"time"`
			TrackingID string          `json:"trackingId"`
			Payload    json.RawMessage `json:"payload"`
		}{ev.Name, ev.Time.UTC(), ev.TrackingID, ev.Payload})
	}
	c, err := consumer.New(cfg, printEvent,
		consumer.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))),
		consumer.WithHeartbeat(*heartbeat, *heartbeat*5/2))
	if err != nil {
		fmt.Fprintf(stderr, "consumer: %v\n", err)
		return 2
	}
	if err := c.Run(ctx); err != nil { // Zoom refused the credentials
		fmt.Fprintf(stderr, "consumer: %v\n", err)
		return 1
	}
	return 0
}
