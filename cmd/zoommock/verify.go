package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// errNotFaithful is verify's failure: the server answered, but not as recorded.
var errNotFaithful = errors.New("the server's answers differ from the recording (see above)")

func verifyCommand() *cli.Command {
	// Credentials read ZOOM_* first, as the recorder does, then the ZOOMMOCK_* name every flag has.
	cred := func(name, env, value, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: append([]string{env}, envVars(name)...)}
	}
	return &cli.Command{
		Name:      "verify",
		Usage:     "play a cassette's client half against a server and report every answer that differs",
		ArgsUsage: "CASSETTE",
		Description: "CASSETTE is " + cassetteHelp() + ".\n" +
			"Requests tokens with the given credentials (the mock's development ones by default), opens the recorded\n" +
			"connections with the fresh tokens where the recording's placeholders were, and sends the recorded client\n" +
			"frames at their times (scaled by --speed). Every answer that differs from the recording is printed as a\n" +
			"diff: the token response's status and shape (keys and types, not values), the upgrade, build_connection,\n" +
			"heartbeat replies and other non-event frames, and how each connection ended. Tokens, timestamps, tracking\n" +
			"ids and signatures are ignored; events are counted, not compared.\n" +
			"Against Zoom: --target https://zoom.us --ws-target wss://ws.zoom.us with ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET,\n" +
			"ZOOM_ACCOUNT_ID and ZOOM_SUBSCRIPTION_ID set.\n" +
			"Exit status: 0 the server answered as recorded, 1 it did not (or could not be reached), 2 bad usage.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Value: "http://127.0.0.1:9876", EnvVars: envVars("target"),
				Usage: "base `URL` of the server's token endpoint (its /oauth/token): the mock's address, or https://zoom.us"},
			&cli.StringFlag{Name: "ws-target", EnvVars: envVars("ws-target"),
				Usage: "base `URL` of the server's WebSocket (default: --target with http turned into ws), e.g. wss://ws.zoom.us"},
			cred("client-id", "ZOOM_CLIENT_ID", mockserver.DevClientID, "client id for the token requests"),
			cred("client-secret", "ZOOM_CLIENT_SECRET", mockserver.DevClientSecret, "client secret for the token requests"),
			cred("account-id", "ZOOM_ACCOUNT_ID", "", "account_id to send instead of the recorded one"),
			cred("subscription-id", "ZOOM_SUBSCRIPTION_ID", "", "subscriptionId to connect to instead of the recorded one"),
			&cli.Float64Flag{Name: "speed", Value: 1, EnvVars: envVars("speed"),
				Usage: "1 the recorded timing, N N times faster, 0 as fast as the server answers"},
			&cli.DurationFlag{Name: "grace", Value: 2 * time.Second, EnvVars: envVars("grace"),
				Usage: "how long past its recorded time to wait for an answer or a close before reporting it missing"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("verify needs exactly one CASSETTE (%s), got %d arguments", cassetteHelp(), c.NArg())
			}
			cfg := replayer.VerifyConfig{
				BaseURL: c.String("target"), WebSocketURL: c.String("ws-target"),
				ClientID: c.String("client-id"), ClientSecret: c.String("client-secret"),
				AccountID: c.String("account-id"), SubscriptionID: c.String("subscription-id"),
				Speed: c.Float64("speed"), Grace: c.Duration("grace"),
			}
			for flag, raw := range map[string]string{"target": cfg.BaseURL, "ws-target": cfg.WebSocketURL} {
				if u, err := url.Parse(raw); raw != "" && (err != nil || u.Host == "") {
					return usagef("--%s %q: want a base URL such as http://127.0.0.1:9876", flag, raw)
				}
			}
			if cfg.Speed < 0 || cfg.Grace <= 0 {
				return usagef("--speed must be 0 or more and --grace positive")
			}
			name := c.Args().First()
			_, recs, err := replayer.ReadCassette(name)
			switch {
			case errors.Is(err, cassettes.ErrUnknownBuiltin):
				return usageError{err}
			case errors.Is(err, cassettes.ErrTruncated):
				fmt.Fprintf(c.App.ErrWriter, "zoommock: warning: %s: %v: verifying the complete records before the cut\n", name, err)
			case err != nil:
				return fmt.Errorf("failed to read %s: %w", name, err)
			}
			report, err := replayer.Verify(c.Context, recs, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s against %s: %s\n", name, cfg.BaseURL, report)
			if !report.Faithful() {
				return errNotFaithful
			}
			return nil
		},
	}
}
