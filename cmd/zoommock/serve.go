package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/mockserver"
)

// serverFlags are the settings of the mock, shared by serve and replay.
func serverFlags() []cli.Flag {
	str := func(name, value, usage string) cli.Flag {
		return &cli.StringFlag{Name: name, Value: value, Usage: usage, EnvVars: envVars(name)}
	}
	dur := func(name string, value time.Duration, usage string) cli.Flag {
		return &cli.DurationFlag{Name: name, Value: value, Usage: usage, EnvVars: envVars(name)}
	}
	boolean := func(name, usage string) cli.Flag {
		return &cli.BoolFlag{Name: name, Usage: usage, EnvVars: envVars(name)}
	}
	return []cli.Flag{
		str("addr", "127.0.0.1:9876", "`HOST:PORT` to listen on (port 0 picks a free one)"),
		str("config", "", "JSON `FILE` declaring several apps and subscriptions (replaces the single-app flags)"),
		str("client-id", mockserver.DevClientID, "client id of the single app"),
		str("client-secret", mockserver.DevClientSecret, "client secret of the single app"),
		str("account-id", mockserver.DevAccountID, "account id of the single app"),
		str("subscription-id", mockserver.DevSubscriptionID, "subscription id of the single app"),
		str("secret-token", mockserver.DevSecretToken, "secret token that signs events (x-zm-signature)"),
		str("verification-token", mockserver.DevVerificationToken, "value of the Authorization key in event headers"),
		dur("heartbeat-timeout", 90*time.Second, "close a connection with no heartbeat for this long (negative: never)"),
		boolean("any-frame-resets-heartbeat", "let any client frame, not only heartbeats, reset the idle timer"),
		str("heartbeat-close", "1000:heartbeat timeout", "`CODE:REASON` of the close after a heartbeat timeout"),
		dur("token-ttl", time.Hour, "lifetime of access tokens (expires_in is this minus one second)"),
		&cli.IntFlag{Name: "live-tokens", Usage: "live tokens per app: 0 unlimited, 1 = a new token invalidates older ones", EnvVars: envVars("live-tokens")},
		boolean("strict-token-request", "answer 'unsupported grant type' to a JSON token request body, as Zoom once did"),
		str("api-url", "https://api.zoom.us", "api_url of token responses"),
		str("connection-policy", "kick-old", "second connection on a subscription: kick-old, reject-new or fan-out"),
		str("kick-close", "1000:replaced by a newer connection", "`CODE:REASON` closing a connection displaced under kick-old"),
		str("reject-new-text", "subscription already has an open connection", "build_connection content under reject-new"),
		str("reject-new-close", "1008:connection_limit", "`CODE:REASON` after a reject-new failure"),
		str("empty-token-text", "token is empty", "build_connection content when access_token is missing"),
		str("invalid-token-text", "Token is invalid", "build_connection content for a wrong or expired token ('Invalid Token' before 2025)"),
		str("unknown-subscription-text", "Invalid subscriptionId", "build_connection content for an unknown subscription"),
		str("connected-text", "connected", "build_connection content on success"),
		str("auth-failure-close", "1008:invalid_token", "`CODE:REASON` after a token failure"),
		str("subscription-failure-close", "1008:invalid_subscription", "`CODE:REASON` after an unknown subscription"),
		boolean("close-on-token-expiry", "close connections when their token expires (default: checked only at connect)"),
		str("token-expiry-close", "1008:invalid_token", "`CODE:REASON` when a token expires under --close-on-token-expiry"),
		boolean("buffer-events", "keep events emitted with no connection for the next one (Zoom never does)"),
		&cli.Int64Flag{Name: "read-limit", Value: 64 << 10, Usage: "largest client frame in bytes; larger ones are closed with 1009", EnvVars: envVars("read-limit")},
		dur("write-timeout", 10*time.Second, "drop a client that does not take a frame within this time"),
		str("admin-token", "", "bearer token the admin API requires from non-loopback clients"),
		str("log-format", "text", "log format: text or json"),
		str("log-level", "info", "log level: debug, info, warn or error"),
	}
}

// serverConfig turns the flags into a mockserver.Config, naming the flag of any bad value.
func serverConfig(c *cli.Context) (mockserver.Config, error) {
	logger, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return mockserver.Config{}, err
	}
	policy, err := mockserver.ParsePolicy(c.String("connection-policy"))
	if err != nil {
		return mockserver.Config{}, usagef("--connection-policy: %w", err)
	}
	cfg := mockserver.Config{
		TokenTTL:                c.Duration("token-ttl"),
		LiveTokens:              c.Int("live-tokens"),
		APIURL:                  c.String("api-url"),
		StrictTokenRequest:      c.Bool("strict-token-request"),
		HeartbeatTimeout:        c.Duration("heartbeat-timeout"),
		AnyFrameResetsHeartbeat: c.Bool("any-frame-resets-heartbeat"),
		EmptyTokenText:          c.String("empty-token-text"),
		InvalidTokenText:        c.String("invalid-token-text"),
		UnknownSubscriptionText: c.String("unknown-subscription-text"),
		ConnectedText:           c.String("connected-text"),
		ConnectionPolicy:        policy,
		RejectNewText:           c.String("reject-new-text"),
		CloseOnTokenExpiry:      c.Bool("close-on-token-expiry"),
		BufferEvents:            c.Bool("buffer-events"),
		ReadLimit:               c.Int64("read-limit"),
		WriteTimeout:            c.Duration("write-timeout"),
		AdminToken:              c.String("admin-token"),
		Logger:                  logger,
	}
	if cfg.TokenTTL <= 0 {
		return cfg, usagef("--token-ttl %v: must be positive", cfg.TokenTTL)
	}
	if cfg.HeartbeatTimeout == 0 {
		return cfg, usagef("--heartbeat-timeout 0: use a positive duration, or a negative one to disable enforcement")
	}
	if cfg.LiveTokens < 0 {
		return cfg, usagef("--live-tokens %d: use 0 (unlimited) or more", cfg.LiveTokens)
	}
	if cfg.ReadLimit <= 0 {
		return cfg, usagef("--read-limit %d: must be a positive number of bytes", cfg.ReadLimit)
	}
	if cfg.WriteTimeout <= 0 {
		return cfg, usagef("--write-timeout %v: must be positive", cfg.WriteTimeout)
	}
	if _, _, err := net.SplitHostPort(c.String("addr")); err != nil {
		return cfg, usagef("--addr %q: want HOST:PORT, such as 127.0.0.1:9876 or 0.0.0.0:9876", c.String("addr"))
	}
	for _, f := range []struct {
		flag string
		dst  *mockserver.CloseSpec
	}{
		{"heartbeat-close", &cfg.HeartbeatClose}, {"kick-close", &cfg.KickClose}, {"reject-new-close", &cfg.RejectNewClose},
		{"auth-failure-close", &cfg.AuthFailureClose}, {"subscription-failure-close", &cfg.SubscriptionFailureClose},
		{"token-expiry-close", &cfg.TokenExpiryClose},
	} {
		cs, err := mockserver.ParseCloseSpec(c.String(f.flag))
		if err != nil {
			return cfg, usagef("--%s: %w", f.flag, err)
		}
		*f.dst = cs
	}
	if path := c.String("config"); path != "" {
		for _, f := range []string{"client-id", "client-secret", "account-id", "subscription-id", "secret-token", "verification-token"} {
			if c.IsSet(f) {
				return cfg, usagef("--config and --%s cannot be used together: declare the app in the config file", f)
			}
		}
		fc, err := mockserver.ReadConfigFile(path)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--config: %w", err)}
		}
		cfg.Apps = fc.Apps
	} else {
		for _, f := range []string{"client-id", "client-secret", "account-id", "subscription-id", "secret-token"} {
			if c.String(f) == "" {
				return cfg, usagef("--%s is empty: give it a value, or leave it out for the development default", f)
			}
		}
		if id := c.String("subscription-id"); strings.ContainsAny(id, "&?#/ ") {
			return cfg, usagef("--subscription-id %q: a subscription id cannot contain &, ?, #, / or spaces", id)
		}
		cfg.Apps = []mockserver.App{{
			ClientID:          c.String("client-id"),
			ClientSecret:      c.String("client-secret"),
			AccountID:         c.String("account-id"),
			SecretToken:       c.String("secret-token"),
			VerificationToken: c.String("verification-token"),
			Subscriptions:     []mockserver.Subscription{{ID: c.String("subscription-id")}},
		}}
	}
	return cfg, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: use text or json", format)
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the mock Zoom server (/oauth/token, /ws and the admin API under /_mock/)",
		Description: "With no configuration the mock has one app with fixed development credentials, printed at start.\n" +
			"SIGINT or SIGTERM closes every WebSocket with 1001 and exits 0.\n" +
			"--cassette FILE replays a recording, as zoommock replay FILE does.",
		Flags: append(append(serverFlags(), &cli.StringFlag{Name: "cassette", EnvVars: envVars("cassette"),
			Usage: "replay this cassette (a file, or builtin:NAME) to the clients, as zoommock replay does"}), replayFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("serve takes no arguments, got %q", c.Args().Slice())
			}
			cfg, err := serverConfig(c)
			if err != nil {
				return err
			}
			if err := addCassette(c, &cfg); err != nil {
				return err
			}
			return serve(c, cfg)
		},
	}
}

// serve listens, prints how to connect, and runs the mock until the context ends.
func serve(c *cli.Context, cfg mockserver.Config) error {
	srv, err := mockserver.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("failed to listen on --addr %s: %w", c.String("addr"), err)
	}
	printBanner(c.App.Writer, ln.Addr().String(), srv.Config())
	err = srv.Serve(c.Context, ln)
	cfg.Logger.Info("mock stopped")
	return err
}

// printBanner tells a person (and a test reading stdout) exactly how to connect.
func printBanner(w io.Writer, addr string, cfg mockserver.Config) {
	host := addr
	if h, port, err := net.SplitHostPort(addr); err == nil && (h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("localhost", port)
	}
	base := "http://" + host
	fmt.Fprintf(w, "zoommock is serving a mock Zoom on %s\n", addr)
	fmt.Fprintf(w, "  token URL:       %s/oauth/token\n", base)
	for _, app := range cfg.Apps {
		fmt.Fprintf(w, "  client id:       %s\n  client secret:   %s\n  account id:      %s\n  secret token:    %s\n",
			app.ClientID, app.ClientSecret, app.AccountID, app.SecretToken)
		for _, sub := range app.Subscriptions {
			fmt.Fprintf(w, "  WebSocket URL:   ws://%s/ws?subscriptionId=%s&access_token=<token>\n", host, sub.ID)
		}
	}
	fmt.Fprintf(w, "  admin API:       %s/_mock/ (health, events, connections, journal, faults, reset)\n", base)
	fmt.Fprintf(w, "  get a token:     curl -s -X POST -u '%s:%s' '%s/oauth/token?grant_type=account_credentials&account_id=%s'\n",
		cfg.Apps[0].ClientID, cfg.Apps[0].ClientSecret, base, cfg.Apps[0].AccountID)
	fmt.Fprint(w, replayBanner(cfg.Playback, base))
	fmt.Fprintln(w, strings.Repeat("-", 60))
}
