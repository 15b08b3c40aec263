package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/mockserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cliMu serializes in-process runs: urfave/cli v2 writes package globals (cli.HelpFlag, its help
// command) on every run, so two runs at once race. The servers the tests talk to run in parallel.
var cliMu sync.Mutex

// runCLI runs the zoommock command line in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cliMu.Lock()
	defer cliMu.Unlock()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"zoommock"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// serveHTTP serves h on a loopback port until the test ends and returns its base URL.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

// inProcessMock is a mock on a loopback port, shut down when the test ends. wrap, when set,
// stands between the network and the mock.
func inProcessMock(t *testing.T, cfg mockserver.Config, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	u := serveHTTP(t, h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return u
}

// fromContainer makes every request look as if it came from another container, so the admin
// API's bearer token rule applies although the test runs on loopback.
func fromContainer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "172.18.0.5:40000"
		h.ServeHTTP(w, r)
	})
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hangingServer accepts requests and does not answer until the client gives up. It reads the body
// first: only then does net/http notice a client that hangs up and cancel the request's context.
func hangingServer(t *testing.T) string {
	return serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	event := writeFile(t, dir, "event.json", `{"event":"meeting.started","payload":{"object":{"id":"1"}}}`)
	mock := inProcessMock(t, mockserver.Config{}, nil)
	guarded := inProcessMock(t, mockserver.Config{AdminToken: "s3cret"}, fromContainer)
	notZoommock := serveHTTP(t, http.NotFoundHandler())
	dead, hanging := deadAddr(t), hangingServer(t)

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // a part of standard output; "" means none at all
		stderr     string // a part of standard error
		allowEmpty bool
	}{
		{name: "sent", args: []string{"--url", mock, event}, code: 0,
			stdout: `"event":"meeting.started","delivered":0,"dropped":true`, stderr: "dropped"},
		{name: "to one subscription", args: []string{"--url", mock, "--subscription", mockserver.DevSubscriptionID, event}, code: 0,
			stdout: `"dropped":true`},
		{name: "admin token from another container", args: []string{"--url", guarded, "--admin-token", "s3cret", event}, code: 0,
			stdout: `"event":"meeting.started"`},
		{name: "admin token missing", args: []string{"--url", guarded, event}, code: 1,
			stderr: "the mock answered 401 Unauthorized to POST /_mock/events: missing or wrong admin token"},
		{name: "admin token wrong", args: []string{"--url", guarded, "--admin-token", "nope", event}, code: 1,
			stderr: "missing or wrong admin token"},
		{name: "unknown subscription", args: []string{"--url", mock, "--subscription", "nope", event}, code: 1,
			stderr: `404 Not Found to POST /_mock/events: unknown subscription "nope"`},
		{name: "not an event", args: []string{"--url", mock, writeFile(t, dir, "array.json", `[1,2]`)}, code: 1,
			stderr: "400 Bad Request to POST /_mock/events: bad event: want a JSON object"},
		{name: "no event name", args: []string{"--url", mock, writeFile(t, dir, "noname.json", `{"payload":{}}`)}, code: 1,
			stderr: `bad event: missing "event"`},
		{name: "invalid JSON", args: []string{"--url", mock, writeFile(t, dir, "bad.json", "{\"event\":\n  \"x\",,}")}, code: 1,
			stderr: "bad.json is not valid JSON: line 2, column 7: invalid character ','"},
		{name: "truncated JSON", args: []string{"--url", mock, writeFile(t, dir, "cut.json", `{"event":"x"`)}, code: 1,
			stderr: "cut.json is not valid JSON"},
		{name: "empty file", args: []string{"--url", mock, writeFile(t, dir, "empty.json", " \n")}, code: 1,
			stderr: "empty.json is empty"},
		{name: "missing file", args: []string{"--url", mock, filepath.Join(dir, "nope.json")}, code: 1,
			stderr: "failed to read the event: open " + filepath.Join(dir, "nope.json") + ": no such file or directory"},
		{name: "directory", args: []string{"--url", mock, dir}, code: 1,
			stderr: "failed to read the event"},
		{name: "mock not running", args: []string{"--addr", dead, event}, code: 1,
			stderr: "no mock answers at " + dead + ": start it with zoommock serve"},
		{name: "something else answers", args: []string{"--url", notZoommock, event}, code: 1,
			stderr: "answered 404 Not Found to POST /_mock/events, which is not zoommock's admin API"},
		{name: "timeout", args: []string{"--url", hanging, "--timeout", "100ms", event}, code: 1,
			stderr: "did not answer within 100ms"},
		{name: "no file", args: []string{"--url", mock}, code: 2,
			stderr: "emit needs exactly one FILE"},
		{name: "two files", args: []string{"--url", mock, event, event}, code: 2,
			stderr: "got 2 arguments"},
		{name: "bad addr", args: []string{"--addr", "localhost", event}, code: 2,
			stderr: `--addr: "localhost": want HOST:PORT`},
		{name: "port zero", args: []string{"--addr", "127.0.0.1:0", event}, code: 2,
			stderr: "want a port from 1 to 65535"},
		{name: "bad url", args: []string{"--url", "zoommock:9876", event}, code: 2,
			stderr: `--url "zoommock:9876": want the mock's base URL`},
		{name: "bad timeout", args: []string{"--url", mock, "--timeout", "0s", event}, code: 2,
			stderr: "--timeout 0s: must be positive"},
		{name: "unknown flag", args: []string{"--subscriptionId", "x", event}, code: 2,
			stderr: "flag provided but not defined: -subscriptionId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, append([]string{"emit"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if tc.stdout == "" && stdout != "" {
				t.Errorf("stdout %q, want nothing (errors go to stderr)", stdout)
			}
			if !strings.Contains(stdout, tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.stderr)
			}
			if tc.code == 2 && !strings.Contains(stderr, "zoommock emit --help") {
				t.Errorf("a usage error should point at --help: %q", stderr)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	mock := strings.TrimPrefix(inProcessMock(t, mockserver.Config{}, nil), "http://")
	_, port, _ := net.SplitHostPort(mock)
	starting := strings.TrimPrefix(serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"status":"starting"}`))
	})), "http://")
	failing := strings.TrimPrefix(serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"draining"}`))
	})), "http://")
	dead := deadAddr(t)
	hanging := strings.TrimPrefix(hangingServer(t), "http://")

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		output string // a part of stdout (code 0) or stderr
	}{
		{"healthy", []string{"--addr", mock}, 0, "zoommock at http://" + mock + " is healthy"},
		{"wildcard address means loopback", []string{"--addr", "0.0.0.0:" + port}, 0, "is healthy"},
		{"empty host means loopback", []string{"--addr", ":" + port}, 0, "is healthy"},
		{"not running", []string{"--addr", dead}, 1, "no mock answers at " + dead + ": start it with zoommock serve"},
		{"not ok yet", []string{"--addr", starting}, 1, `is not healthy: its health endpoint answered {"status":"starting"}`},
		{"error status", []string{"--addr", failing}, 1, "the mock answered 503 Service Unavailable to GET /_mock/health: draining"},
		{"timeout", []string{"--addr", hanging, "--timeout", "100ms"}, 1, "did not answer within 100ms"},
		{"argument", []string{"--addr", mock, "extra"}, 2, `healthcheck takes no arguments, got ["extra"]`},
		{"bad addr", []string{"--addr", "nohost"}, 2, `--addr: "nohost": want HOST:PORT`},
		{"bad port", []string{"--addr", "127.0.0.1:99999"}, 2, "want a port from 1 to 65535"},
		{"bad timeout", []string{"--addr", mock, "--timeout", "-1s"}, 2, "--timeout -1s: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(t, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			got := stderr
			if tc.code == 0 {
				got = stdout
			}
			if !strings.Contains(got, tc.output) {
				t.Errorf("output %q does not contain %q", got, tc.output)
			}
		})
	}
}

func TestLocalAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0.0.0.0:9876":   "127.0.0.1:9876",
		":9876":          "127.0.0.1:9876",
		"[::]:9876":      "[::1]:9876",
		"127.0.0.1:9876": "127.0.0.1:9876",
		"zoommock:9876":  "zoommock:9876",
		"[::1]:1":        "[::1]:1",
		"9876":           "error",
		"host:0":         "error",
		"host:http":      "error",
		"":               "error",
	} {
		got, err := localAddr(in)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("localAddr(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
}
