package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// adminFlags locate a running mock; emit and healthcheck share them.
func adminFlags(timeout time.Duration) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:9876", EnvVars: envVars("addr"),
			Usage: "`HOST:PORT` of the running mock; 0.0.0.0, :: or an empty host mean this machine, so the mock's own ZOOMMOCK_ADDR works"},
		&cli.DurationFlag{Name: "timeout", Value: timeout, EnvVars: envVars("timeout"),
			Usage: "give up when the mock has not answered within this `DURATION`"},
	}
}

func emitCommand() *cli.Command {
	return &cli.Command{
		Name:      "emit",
		Usage:     "send an event to a running mock through its admin API",
		ArgsUsage: "FILE|-",
		Description: "FILE (or - for standard input) holds an inner Zoom event, e.g.\n" +
			`{"event":"meeting.started","payload":{"account_id":"...","object":{...}}}` + "\n" +
			"event_ts is filled in when missing. The mock's JSON answer (delivered, dropped, trackingIds) is\n" +
			"printed on standard output. Exit status: 0 sent, 1 the mock refused it or cannot be reached,\n" +
			"2 bad usage.",
		Flags: append(adminFlags(10*time.Second),
			&cli.StringFlag{Name: "subscription", EnvVars: envVars("subscription"),
				Usage: "subscription `ID` to deliver to (default: every subscription of the mock)"},
			&cli.StringFlag{Name: "url", EnvVars: envVars("url"),
				Usage: "base `URL` of the mock, e.g. http://zoommock:9876 from another container (takes precedence over --addr)"},
			&cli.StringFlag{Name: "admin-token", EnvVars: envVars("admin-token"),
				Usage: "bearer `TOKEN` the mock requires from non-loopback clients (its --admin-token)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("emit needs exactly one FILE holding the event (or - for standard input), got %d arguments", c.NArg())
			}
			admin, err := newAdminClient(c)
			if err != nil {
				return err
			}
			event, err := readEvent(c.Args().First(), c.App.Reader)
			if err != nil {
				return err
			}
			path := "/_mock/events"
			if sub := c.String("subscription"); sub != "" {
				path += "?subscriptionId=" + url.QueryEscape(sub)
			}
			body, err := admin.call(c.Context, http.MethodPost, path, event)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s\n", bytes.TrimSpace(body))
			var res struct {
				Dropped bool `json:"dropped"`
			}
			if json.Unmarshal(body, &res) == nil && res.Dropped {
				fmt.Fprintln(c.App.ErrWriter, "zoommock: no connection was open, so the event was dropped (Zoom never re-fires it)")
			}
			return nil
		},
	}
}

func healthcheckCommand() *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "exit 0 when the mock at --addr answers its health endpoint",
		Description: "For a container HEALTHCHECK in an image without a shell:\n" +
			`  HEALTHCHECK CMD ["/usr/local/bin/zoommock", "healthcheck"]` + "\n" +
			"--addr defaults to ZOOMMOCK_ADDR, the mock's own address, with 0.0.0.0 read as 127.0.0.1.\n" +
			"Exit status: 0 healthy, 1 not (the reason is printed), 2 bad usage.",
		Flags: adminFlags(2 * time.Second),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("healthcheck takes no arguments, got %q", c.Args().Slice())
			}
			admin, err := newAdminClient(c)
			if err != nil {
				return err
			}
			body, err := admin.call(c.Context, http.MethodGet, "/_mock/health", nil)
			if err != nil {
				return err
			}
			var h struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal(body, &h); err != nil || h.Status != "ok" {
				return fmt.Errorf("the mock at %s is not healthy: its health endpoint answered %s", admin.base, clip(body))
			}
			fmt.Fprintf(c.App.Writer, "zoommock at %s is healthy\n", admin.base)
			return nil
		},
	}
}

// adminClient calls the admin API of the running mock that the flags of emit or healthcheck name.
type adminClient struct {
	base    string // http://host:port
	timeout time.Duration
	token   string // bearer token, if any
}

func newAdminClient(c *cli.Context) (adminClient, error) {
	base, err := mockBaseURL(c)
	if err != nil {
		return adminClient{}, err
	}
	timeout := c.Duration("timeout")
	if timeout <= 0 {
		return adminClient{}, usagef("--timeout %v: must be positive", timeout)
	}
	return adminClient{base: base, timeout: timeout, token: c.String("admin-token")}, nil
}

// mockBaseURL is the http://host:port of the mock from --url or --addr.
func mockBaseURL(c *cli.Context) (string, error) {
	if raw := c.String("url"); raw != "" { // only emit has --url
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return "", usagef("--url %q: want the mock's base URL, such as http://zoommock:9876", raw)
		}
		return strings.TrimRight(u.String(), "/"), nil
	}
	addr, err := localAddr(c.String("addr"))
	if err != nil {
		return "", usagef("--addr: %w", err)
	}
	return "http://" + addr, nil
}

// localAddr turns a listen address into one to dial: a wildcard or empty host (how a server binds
// every interface, and how ZOOMMOCK_ADDR reads in the container image) becomes loopback.
func localAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: want HOST:PORT, such as 127.0.0.1:9876", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: want a port from 1 to 65535 (the one the mock printed when it started)", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// readEvent reads the event from path ("-" is r) and checks that it is JSON, so a typo is named
// with its line and column before anything is sent. The mock checks the event's shape itself.
func readEvent(path string, r io.Reader) ([]byte, error) {
	name := path
	var data []byte
	var err error
	if path == "-" {
		name = "standard input"
		data, err = io.ReadAll(r)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read the event: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("the event in %s is empty: want a JSON object like {\"event\":\"meeting.started\",\"payload\":{...}}", name)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("the event in %s is not valid JSON: line %d, column %d: %s", name, line, col, se)
		}
		return nil, fmt.Errorf("the event in %s is not valid JSON: %w", name, err)
	}
	return data, nil
}

// position is the 1-based line and column of byte offset off in data.
func position(data []byte, off int64) (line, col int) {
	off = min(max(off, 1), int64(len(data)))
	before := data[:off-1]
	line = bytes.Count(before, []byte("\n")) + 1
	return line, len(before) - bytes.LastIndexByte(before, '\n')
}

// call sends method path (with its query) to the admin API and returns the body of a 2xx answer.
// Every failure reads as what to fix: a mock that is not running, a timeout, or the mock's own
// {"error":...} message.
func (a adminClient) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, usagef("failed to build the request to %s: %w", a.base+path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	// One request, then exit: no connection pool, and no proxy between a test and its mock.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		where := req.URL.Host
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, fmt.Errorf("no mock answers at %s: start it with zoommock serve, or point --addr (emit also takes --url) at it", where)
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("the mock at %s did not answer within %v (--timeout)", where, a.timeout)
		}
		return nil, fmt.Errorf("failed to reach the mock at %s: %w", where, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("failed to read the answer of %s %s: %w", method, req.URL.Path, err)
	}
	if resp.StatusCode/100 == 2 {
		return answer, nil
	}
	var ae struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(answer, &ae) == nil && ae.Error != "" {
		return nil, fmt.Errorf("the mock answered %s to %s %s: %s", resp.Status, method, req.URL.Path, ae.Error)
	}
	return nil, fmt.Errorf("%s answered %s to %s %s, which is not zoommock's admin API: %s", req.URL.Host, resp.Status, method, req.URL.Path, clip(answer))
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(an empty body)"
	}
	return s
}
