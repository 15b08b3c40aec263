package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// replayFlags are the settings of a replay, shared by replay and serve --cassette.
func replayFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "speed", Value: 1, EnvVars: envVars("speed"),
			Usage: "replay speed: 1 real time, N N times faster, 0 as fast as the client reads"},
		&cli.StringFlag{Name: "replay-strict", Value: string(replayer.StrictAll), EnvVars: envVars("replay-strict"),
			Usage: "what is compared with the recording's client: off, frames (frames, build_connection, connections) or all (also heartbeat cadence, tokens, closes)"},
		&cli.BoolFlag{Name: "replay-step", EnvVars: envVars("replay-step"),
			Usage: "hold every recorded frame until POST /_mock/replay/step releases it"},
	}
}

// cassetteHelp names what a CASSETTE argument may be.
func cassetteHelp() string {
	return "a cassette file (zstd or JSON lines) or builtin:NAME, NAME one of " + strings.Join(cassettes.BuiltinNames(), ", ")
}

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "serve a recorded session: the mock plays the cassette's server half to the client",
		ArgsUsage: "CASSETTE",
		Description: "CASSETTE is " + cassetteHelp() + ".\n" +
			"The Nth connection the client opens plays the recording's Nth connection: its events at their recorded\n" +
			"times (scaled by --speed), its closes and drops. Tokens, build_connection and heartbeats are answered live.\n" +
			"Whatever the client does differently from the recording's client is logged as a diff when its connection\n" +
			"ends, and shown by GET /_mock/replay. POST /_mock/replay loads another cassette at run time.\n" +
			"Same flags as serve. SIGINT or SIGTERM stops it (exit 0, differences or not).\n" +
			"Example: zoommock replay builtin:meeting-lifecycle --speed 10",
		Flags: append(serverFlags(), replayFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("replay needs exactly one CASSETTE (%s), got %d arguments", cassetteHelp(), c.NArg())
			}
			cfg, err := serverConfig(c)
			if err != nil {
				return err
			}
			if cfg.Playback, err = openPlayback(c, c.Args().First(), cfg.Logger); err != nil {
				return err
			}
			return serve(c, cfg)
		},
	}
}

// addCassette loads serve's --cassette into cfg, if given.
func addCassette(c *cli.Context, cfg *mockserver.Config) error {
	name := c.String("cassette")
	if name == "" {
		for _, f := range []string{"speed", "replay-strict", "replay-step"} {
			if c.IsSet(f) {
				return usagef("--%s needs --cassette FILE (or use zoommock replay CASSETTE)", f)
			}
		}
		return nil
	}
	p, err := openPlayback(c, name, cfg.Logger)
	cfg.Playback = p
	return err
}

// openPlayback loads the cassette name with the replay flags.
func openPlayback(c *cli.Context, name string, log *slog.Logger) (*replayer.Playback, error) {
	strict, err := replayer.ParseStrictness(c.String("replay-strict"))
	if err != nil {
		return nil, usagef("--replay-strict: %w", err)
	}
	speed := c.Float64("speed")
	if speed < 0 {
		return nil, usagef("--speed %v: use 1 (real time), N (N times faster) or 0 (as fast as the client reads)", speed)
	}
	opts := []replayer.Option{replayer.WithSpeed(speed), replayer.WithStrictness(strict), replayer.WithLogger(log)}
	if c.Bool("replay-step") {
		opts = append(opts, replayer.WithStep())
	}
	p, err := replayer.Open(name, opts...)
	if errors.Is(err, cassettes.ErrUnknownBuiltin) {
		return nil, usageError{err}
	}
	return p, err
}

// replayBanner adds the replay to the banner: what is played, and where to see how it goes.
func replayBanner(p *replayer.Playback, base string) string {
	if p == nil {
		return ""
	}
	s := fmt.Sprintf("  replaying:       %s\n  replay status:   %s/_mock/replay\n", p, base)
	for _, w := range p.Warnings() {
		s += "  warning:         " + w + "\n"
	}
	return s
}
