// Command zoommock is the one binary of the project: a thin urfave/cli layer over the mockserver,
// recorder, replayer and cassettes packages. Every flag also reads ZOOMMOCK_<FLAG_NAME>, so a
// docker-compose file configures it with environment: alone.
//
// Exit status: 0 success, 1 a failure of the work, 2 bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit status; main is only its wiring, so
// tests run the whole CLI in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		help := "zoommock --help"
		if len(args) > 1 && app.Command(args[1]) != nil {
			help = "zoommock " + args[1] + " --help"
		}
		fmt.Fprintf(stderr, "zoommock: %v\nRun '%s' for usage.\n", err, help)
		return 2
	}
	fmt.Fprintf(stderr, "zoommock: %v\n", err)
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "zoommock",
		Usage:   "a faithful mock of Zoom's WebSocket event subscriptions, with record and replay",
		Version: version,
		Writer:  stdout, ErrWriter: stderr,
		HideVersion:     true,
		HideHelpCommand: true,
		// Usage errors are reported once, by run, with exit status 2.
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return usageError{err} },
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			serveCommand(),
			replayCommand(),
			verifyCommand(),
			emitCommand(),
			recordCommand(),
			cassetteCommand(),
			healthcheckCommand(),
			loadgenCommand(),
			versionCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q: the commands are %s", c.Args().First(), commandList(c.App.VisibleCommands()))
			}
			return cli.ShowAppHelp(c)
		},
	}
	markUsageErrors(app.Commands)
	return app
}

// markUsageErrors makes every command report a bad flag as one usage error (exit status 2)
// instead of printing its whole help page.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
		markUsageErrors(c.Subcommands)
	}
}

// usageError marks an error as bad usage (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error: the command line, not the work, is wrong.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func commandList(cmds []*cli.Command) string {
	names := make([]string, 0, len(cmds))
	for _, c := range cmds {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// envVars is the environment variable that mirrors a flag: ZOOMMOCK_ and the flag name in upper
// case with dashes turned to underscores.
func envVars(flag string) []string {
	b := []byte("ZOOMMOCK_" + flag)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		}
	}
	return []string{string(b)}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "zoommock %s\n", version)
			return nil
		},
	}
}
