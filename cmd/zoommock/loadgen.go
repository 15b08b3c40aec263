package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/internal/loadgen"
	"github.com/zoommock/zoommock/mockserver"
)

func loadgenCommand() *cli.Command {
	str := func(name, value, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envVars(name)}
	}
	return &cli.Command{
		Name:  "loadgen",
		Usage: "put the load of many consumers on a running mock: connections with heartbeats, events at a rate, latency",
		Description: "Gets a token, opens --connections WebSockets that heartbeat every --heartbeat-interval, then for\n" +
			"--duration emits --rate events per second through the admin API (POST /_mock/events) and times\n" +
			"each from emit to receipt. It then closes every connection and prints connections held, heartbeats\n" +
			"answered, events received and p50/p90/p99/max latency. Serve the mock with --connection-policy\n" +
			"fan-out to hold more than one connection; each event then reaches every connection. The open-file\n" +
			"limit is raised to its hard limit, and a limit too low for --connections is named.\n" +
			"Exit status: 0 a clean run, 1 a problem (listed) or no connection, 2 bad usage.",
		Flags: []cli.Flag{
			str("target", "http://127.0.0.1:9876", "base `URL` of the mock (or a deployment of it)"),
			&cli.IntFlag{Name: "connections", Value: 1, EnvVars: envVars("connections"),
				Usage: fmt.Sprintf("WebSockets to hold at once (at most %d)", loadgen.MaxConnections)},
			&cli.Float64Flag{Name: "rate", Value: 100, EnvVars: envVars("rate"),
				Usage: "events per second to emit (0: none, connections and heartbeats only)"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, EnvVars: envVars("duration"),
				Usage: fmt.Sprintf("how long to hold the connections and emit once all are open (at most %v)", loadgen.MaxDuration)},
			&cli.DurationFlag{Name: "heartbeat-interval", Value: 30 * time.Second, EnvVars: envVars("heartbeat-interval"),
				Usage: "how often each connection sends a heartbeat (Zoom asks for 30s)"},
			str("client-id", mockserver.DevClientID, "client id to get a token with"),
			str("client-secret", mockserver.DevClientSecret, "client secret to get a token with"),
			str("account-id", mockserver.DevAccountID, "account id to get a token with"),
			str("subscription-id", mockserver.DevSubscriptionID, "subscription every connection opens and every event goes to"),
			str("admin-token", "", "bearer `TOKEN` the admin API requires from non-loopback clients (the mock's --admin-token)"),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("loadgen takes no arguments, got %q", c.Args().Slice())
			}
			cfg := loadgen.Config{
				Target:            c.String("target"),
				Connections:       c.Int("connections"),
				Rate:              c.Float64("rate"),
				Duration:          c.Duration("duration"),
				HeartbeatInterval: c.Duration("heartbeat-interval"),
				ClientID:          c.String("client-id"),
				ClientSecret:      c.String("client-secret"),
				AccountID:         c.String("account-id"),
				SubscriptionID:    c.String("subscription-id"),
				AdminToken:        c.String("admin-token"),
			}
			if cfg.Connections < 1 || cfg.Duration <= 0 || cfg.HeartbeatInterval <= 0 {
				return usagef("--connections, --duration and --heartbeat-interval must be positive")
			}
			fmt.Fprintf(c.App.ErrWriter, "zoommock loadgen: opening %d connections to %s\n", cfg.Connections, cfg.Target)
			res, err := loadgen.Run(c.Context, cfg)
			if errors.Is(err, loadgen.ErrBadConfig) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			res.WriteSummary(c.App.Writer)
			if p := res.Problems(); len(p) > 0 {
				return fmt.Errorf("the load test had %d problem(s), listed above", len(p))
			}
			return nil
		},
	}
}
