package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/zoommock/zoommock/cassettes"
)

func cassetteCommand() *cli.Command {
	subs := []*cli.Command{
		{
			Name: "cat", Usage: "print a cassette as JSON lines", ArgsUsage: "FILE|-",
			Description: "Prints the header line and every record line, decompressed, on standard output, for reading,\n" +
				"grepping, jq or editing by hand ('zoommock cassette pack' turns the lines back into a cassette).\n" +
				"A truncated cassette prints every complete line, then exits 1 saying where it was cut.",
			Action: func(c *cli.Context) error {
				return withCassette(c, 1, func(r io.Reader, _ string) error { return cassettes.Cat(c.App.Writer, r) })
			},
		},
		{
			Name: "inspect", Usage: "summarize a cassette: duration, connections, events by type, heartbeat cadence", ArgsUsage: "FILE|-",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", EnvVars: envVars("json"), Usage: "print the summary as JSON"}},
			Action: func(c *cli.Context) error {
				return withCassette(c, 1, func(r io.Reader, _ string) error {
					s, err := cassettes.Inspect(r)
					if s.Header.Format == "" { // not even the header was read: nothing to show
						return err
					}
					if c.Bool("json") {
						out, jerr := json.MarshalIndent(summaryJSON(s), "", "  ")
						if jerr != nil {
							return jerr
						}
						fmt.Fprintf(c.App.Writer, "%s\n", out)
					} else {
						fmt.Fprint(c.App.Writer, s)
					}
					return err
				})
			},
		},
		{
			Name: "validate", Usage: "check a cassette, listing every problem with its record, line and field", ArgsUsage: "FILE|-",
			Action: func(c *cli.Context) error {
				return withCassette(c, 1, func(r io.Reader, name string) error {
					if err := cassettes.Validate(r); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "%s is a valid cassette\n", name)
					return nil
				})
			},
		},
		{
			Name: "pack", Usage: "compress JSON lines (written by hand or by cat) into a cassette", ArgsUsage: "IN|- OUT",
			Description: "Checks every record as validate does and stops at the first problem; OUT is written only when all\n" +
				"of IN is good, and never over an existing file without --force.",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "force", EnvVars: envVars("force"), Usage: "overwrite OUT if it exists"}},
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return argsError(c, "IN (or - for standard input) and OUT")
				}
				return withCassette(c, 2, func(r io.Reader, _ string) error { return pack(r, c.Args().Get(1), c.App.Writer, c.Bool("force")) })
			},
		},
		{
			Name: "diff", Usage: "compare two cassettes, ignoring timing, placeholder numbers, tracking ids and signatures", ArgsUsage: "A B",
			Description: "Prints a go-cmp diff (- A, + B) and exits 1 when the recordings differ; exits 0 when they match.",
			Action: func(c *cli.Context) error {
				if c.NArg() != 2 {
					return argsError(c, "two cassettes A and B")
				}
				return diff(c)
			},
		},
	}
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name
	}
	return &cli.Command{
		Name:            "cassette",
		Usage:           "read, check, compress and compare cassettes (" + strings.Join(names, ", ") + ")",
		Subcommands:     subs,
		HideHelpCommand: true,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown cassette command %q: the commands are %s", c.Args().First(), strings.Join(names, ", "))
			}
			return usagef("cassette needs a command: %s", strings.Join(names, ", "))
		},
	}
}

// withCassette opens the cassette named by the first argument ("-" is standard input), checking
// that there are nargs arguments, and runs f on it; f's error is explained with the file's name.
func withCassette(c *cli.Context, nargs int, f func(r io.Reader, name string) error) error {
	if c.NArg() != nargs {
		return argsError(c, "a cassette FILE (or - for standard input)")
	}
	r, name, err := openCassette(c.Args().First(), c.App.Reader)
	if err != nil {
		return err
	}
	defer r.Close()
	return explain(name, f(r, name))
}

// argsError says which arguments the command needs, and that flags come first: urfave/cli stops
// reading flags at the first argument.
func argsError(c *cli.Context, want string) error {
	flagLate := ""
	for _, a := range c.Args().Slice() {
		if len(a) > 1 && a[0] == '-' {
			flagLate = fmt.Sprintf(" (flags such as %s go before the arguments)", a)
			break
		}
	}
	return usagef("%s needs %s, got %q%s", c.Command.Name, want, c.Args().Slice(), flagLate)
}

func openCassette(path string, stdin io.Reader) (io.ReadCloser, string, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return io.NopCloser(stdin), "standard input", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, path, fmt.Errorf("failed to open the cassette: %w", err)
	}
	return f, path, nil
}

// explain names the file in err and says what to do about it.
func explain(name string, err error) error {
	if err == nil {
		return nil
	}
	var hint string
	var ve *cassettes.ValidationError
	switch {
	case errors.Is(err, cassettes.ErrNotCassette):
		hint = "a cassette is what 'zoommock record' or 'zoommock cassette pack' writes"
	case errors.Is(err, cassettes.ErrTruncated):
		file := name
		if file == "standard input" {
			file = "FILE"
		}
		hint = "every complete record before the cut was read (was the recorder killed?); to keep them as a clean cassette:\n" +
			fmt.Sprintf("  zoommock cassette cat %[1]s > %[1]s.jsonl; zoommock cassette pack %[1]s.jsonl FIXED.cassette", file)
	case errors.Is(err, cassettes.ErrCorrupt):
		hint = "the compressed data is damaged: restore the file from a copy ('zoommock cassette cat' prints the records before the damage)"
	case errors.Is(err, cassettes.ErrInvalidRecord):
		hint = "fix the record at that line ('zoommock cassette cat' prints the lines), then 'zoommock cassette pack' it again"
	}
	msg := err.Error()
	if errors.As(err, &ve) && len(ve.Problems)+ve.Omitted > 1 {
		msg = "\n  " + strings.ReplaceAll(msg, "\n", "\n  ")
	}
	if hint != "" {
		return fmt.Errorf("%s: %s\n%s", name, msg, hint)
	}
	return fmt.Errorf("%s: %s", name, msg)
}

// pack writes the cassette packed from r to out ("-" is stdout) through a temporary file that
// replaces out only once it is complete.
func pack(r io.Reader, out string, stdout io.Writer, force bool) error {
	if out == "-" {
		return cassettes.Pack(stdout, r)
	}
	if _, err := os.Stat(out); err == nil && !force {
		return fmt.Errorf("%s already exists: choose another OUT, or add --force to overwrite it", out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".packing-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := cassettes.Pack(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	return nil
}

// diff reads both cassettes whole, so that a problem names its file, then compares them.
func diff(c *cli.Context) error {
	var data [2][]byte
	for i, path := range c.Args().Slice() {
		r, name, err := openCassette(path, c.App.Reader)
		if err != nil {
			return err
		}
		data[i], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("failed to read %s: %w", name, err)
		}
		if _, _, err := cassettes.ReadAll(bytes.NewReader(data[i])); err != nil {
			return explain(name, err)
		}
	}
	d, err := cassettes.Diff(bytes.NewReader(data[0]), bytes.NewReader(data[1]))
	if err != nil {
		return err
	}
	a, b := c.Args().Get(0), c.Args().Get(1)
	if d == "" {
		fmt.Fprintf(c.App.Writer, "%s and %s hold the same session (timing, placeholder numbers, tracking ids and signatures aside)\n", a, b)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "--- %s\n+++ %s\n%s", a, b, d)
	return fmt.Errorf("%s and %s differ (the diff is above)", a, b)
}

// summaryJSON is inspect --json: the Summary with offsets and intervals in microseconds, as
// at_us in the cassette itself.
func summaryJSON(s cassettes.Summary) any {
	us := func(d time.Duration) int64 { return d.Microseconds() }
	type closeJSON struct {
		By     cassettes.Side `json:"by"`
		Code   int            `json:"code,omitempty"`
		Reason string         `json:"reason,omitempty"`
		Abrupt bool           `json:"abrupt,omitempty"`
		AtUS   int64          `json:"at_us"`
	}
	type connJSON struct {
		ID           string     `json:"id"`
		Path         string     `json:"path"`
		Status       int        `json:"status"`
		OpenedUS     int64      `json:"opened_us"`
		ClientFrames int        `json:"client_frames"`
		ServerFrames int        `json:"server_frames"`
		Events       int        `json:"events"`
		Close        *closeJSON `json:"close"`
	}
	type eventJSON struct {
		Event string `json:"event"`
		Count int    `json:"count"`
	}
	conns := make([]connJSON, 0, len(s.Connections))
	for _, c := range s.Connections {
		cj := connJSON{ID: c.ID, Path: c.Path, Status: c.Status, OpenedUS: us(c.Opened), ClientFrames: c.ClientFrames, ServerFrames: c.ServerFrames, Events: c.Events}
		if c.Close != nil {
			cj.Close = &closeJSON{By: c.Close.By, Code: c.Close.Code, Reason: c.Close.Reason, Abrupt: c.Close.Abrupt, AtUS: us(c.ClosedAt)}
		}
		conns = append(conns, cj)
	}
	events := make([]eventJSON, 0, len(s.Events))
	for _, e := range s.Events {
		events = append(events, eventJSON(e))
	}
	var created string
	if !s.Header.Created.IsZero() {
		created = s.Header.Created.Format(time.RFC3339)
	}
	hb := s.Heartbeats
	return struct {
		Format        string            `json:"format"`
		Version       string            `json:"version"`
		Created       string            `json:"created,omitempty"`
		Recorder      string            `json:"recorder,omitempty"`
		Meta          map[string]string `json:"meta,omitempty"`
		Records       int               `json:"records"`
		DurationUS    int64             `json:"duration_us"`
		HTTPExchanges int               `json:"http_exchanges"`
		TokenRequests int               `json:"token_requests"`
		TokenFailures int               `json:"token_failures"`
		Connections   []connJSON        `json:"connections"`
		Events        []eventJSON       `json:"events"`
		Heartbeats    map[string]int64  `json:"heartbeats"`
	}{
		s.Header.Format, s.Header.Version, created, s.Header.Recorder, s.Header.Meta,
		s.Records, us(s.Duration), s.HTTPExchanges, s.TokenRequests, s.TokenFailures, conns, events,
		map[string]int64{"count": int64(hb.Count), "answers": int64(hb.Answers), "mean_us": us(hb.Mean), "min_us": us(hb.Min), "max_us": us(hb.Max)},
	}
}
