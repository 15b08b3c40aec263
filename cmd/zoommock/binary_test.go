package main

// These tests build the real binary and run it as a separate process configured by environment
// variables alone, as docker-compose runs it, then drive it from Go, Node.js and Python clients.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
)

var (
	clientsDir = filepath.Join(repoRoot, "examples", "clients")
	sampleFile = filepath.Join(repoRoot, "examples", "compose", "events", "meeting.started.json")
)

func TestBinary(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "zoommock")
	// Built as the test binary was, so go build finds every package in the build cache.
	// (TestDockerfile checks that the image builds it with CGO_ENABLED=0.)
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	services := readCompose(t)
	composeMock := services["zoommock"]
	mockEnv := func() []string { // exactly what compose gives the mock, on a free loopback port
		env := []string{"ZOOMMOCK_ADDR=127.0.0.1:0"}
		for _, k := range composeMock.envOrder {
			if k != "ZOOMMOCK_ADDR" {
				env = append(env, k+"="+composeMock.env[k])
			}
		}
		return env
	}
	// clientEnv is the compose consumer's environment pointed at addr, plus the admin API for tests.
	clientEnv := func(addr string) []string {
		env := os.Environ()
		for _, k := range services["consumer"].envOrder {
			env = append(env, k+"="+strings.ReplaceAll(services["consumer"].env[k], "zoommock:9876", addr))
		}
		return append(env, "MOCK_ADMIN_URL=http://"+addr+"/_mock", "MOCK_ADMIN_TOKEN="+composeMock.env["ZOOMMOCK_ADMIN_TOKEN"])
	}

	t.Run("compose env/node client flow", func(t *testing.T) {
		t.Parallel()
		node := requireNode(t)
		mock := startMock(t, bin, mockEnv())
		runClient(t, clientEnv(mock.addr), node, filepath.Join(clientsDir, "node", "client.js"), "flow")
	})

	t.Run("compose env/python client flow", func(t *testing.T) {
		t.Parallel()
		python := requirePythonWebsockets(t)
		mock := startMock(t, bin, mockEnv())
		runClient(t, clientEnv(mock.addr), python, filepath.Join(clientsDir, "python", "client.py"), "flow")
	})

	t.Run("compose env/node consumer and zoommock emit", func(t *testing.T) {
		t.Parallel()
		node := requireNode(t)
		mock := startMock(t, bin, mockEnv())
		consumer := start(t, clientEnv(mock.addr), node, filepath.Join(clientsDir, "node", "client.js"), "consume")
		consumer.stdout.waitFor(t, regexp.MustCompile(`"msg":"connected"`), "the consumer to connect")

		// zoommock emit from the mock's own environment, as `docker compose exec zoommock zoommock emit -` runs.
		event, err := os.ReadFile(sampleFile)
		if err != nil {
			t.Fatal(err)
		}
		emitEnv := append(mockEnv()[1:], "ZOOMMOCK_ADDR="+strings.Replace(mock.addr, "127.0.0.1", "0.0.0.0", 1))
		emit := exec.Command(bin, "emit", "-")
		emit.Env, emit.Stdin = emitEnv, bytes.NewReader(event)
		out, err := emit.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"delivered":1`) {
			t.Fatalf("zoommock emit -: %v\n%s", err, out)
		}
		consumer.stdout.waitFor(t, regexp.MustCompile(`"msg":"event","event":"meeting.started","verified":true`), "the consumer to verify the event")
		if code := consumer.stop(t); code != 0 {
			t.Errorf("consumer exited %d on SIGTERM, want 0\n%s", code, consumer.stderr)
		}
	})

	t.Run("env only/go flow", func(t *testing.T) { t.Parallel(); goFlow(t, bin) })

	t.Run("SIGTERM closes every socket with 1001", func(t *testing.T) {
		t.Parallel()
		mock := startMock(t, bin, []string{"ZOOMMOCK_ADDR=127.0.0.1:0", "ZOOMMOCK_CONNECTION_POLICY=fan-out"})
		app := mockserver.DevApp()
		tok := getToken(t, mock.addr, app, "account_credentials")
		var sockets []*websocket.Conn
		for range 3 {
			ws := dialWS(t, mock.addr, app.Subscriptions[0].ID, tok)
			wantFrame(t, ws, `{"module":"build_connection","success":true,"content":"connected","header":{}}`)
			sockets = append(sockets, ws)
		}
		if err := mock.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		for i, ws := range sockets {
			if ce := readClose(t, ws); ce.Code != websocket.CloseGoingAway {
				t.Errorf("socket %d: close %d %q, want 1001", i, ce.Code, ce.Text)
			}
		}
		if code := mock.wait(t); code != 0 {
			t.Errorf("zoommock serve exited %d after SIGTERM, want 0\nstderr: %s", code, mock.stderr)
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		t.Parallel()
		mock := startMock(t, bin, []string{"ZOOMMOCK_ADDR=127.0.0.1:0"})
		// In the image ZOOMMOCK_ADDR is the wildcard the mock binds, and healthcheck dials loopback.
		env := []string{"ZOOMMOCK_ADDR=" + strings.Replace(mock.addr, "127.0.0.1", "0.0.0.0", 1)}
		hc := exec.Command(bin, "healthcheck", "--timeout", "10s")
		hc.Env = env
		if out, err := hc.CombinedOutput(); err != nil || !strings.Contains(string(out), "is healthy") {
			t.Fatalf("healthcheck against a healthy mock: %v\n%s", err, out)
		}
		mock.stop(t)
		hc = exec.Command(bin, "healthcheck", "--timeout", "1s")
		hc.Env = env
		out, err := hc.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "no mock answers at 127.0.0.1:") {
			t.Fatalf("healthcheck against a stopped mock: %v, want exit status 1 and a message\n%s", err, out)
		}
	})
}

// goFlow is issue 2's end-to-end: the mock configured by environment variables only, and the whole
// protocol from Go: token, connect, heartbeat, emit through the admin API, receive, verify, close.
func goFlow(t *testing.T, bin string) {
	app := mockserver.App{ClientID: "env-client", ClientSecret: "env-secret", AccountID: "env-account",
		SecretToken: "env-secret-token", Subscriptions: []mockserver.Subscription{{ID: "envSubscription0000001"}}}
	mock := startMock(t, bin, []string{
		"ZOOMMOCK_ADDR=127.0.0.1:0",
		"ZOOMMOCK_CLIENT_ID=" + app.ClientID,
		"ZOOMMOCK_CLIENT_SECRET=" + app.ClientSecret,
		"ZOOMMOCK_ACCOUNT_ID=" + app.AccountID,
		"ZOOMMOCK_SUBSCRIPTION_ID=" + app.Subscriptions[0].ID,
		"ZOOMMOCK_SECRET_TOKEN=" + app.SecretToken,
		"ZOOMMOCK_CONNECTED_TEXT=connected through env",
		"ZOOMMOCK_LOG_FORMAT=json",
	})
	getToken(t, mock.addr, app, "client_credentials")
	ws := dialWS(t, mock.addr, app.Subscriptions[0].ID, getToken(t, mock.addr, app, "account_credentials"))
	wantFrame(t, ws, `{"module":"build_connection","success":true,"content":"connected through env","header":{}}`)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`)); err != nil {
		t.Fatal(err)
	}
	wantFrame(t, ws, `{"module":"heartbeat","success":true,"content":"live","header":{}}`)

	event, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var res mockserver.EmitResult
	adminJSON(t, http.MethodPost, "http://"+mock.addr+"/_mock/events?subscriptionId="+app.Subscriptions[0].ID, event, &res)
	if res.Delivered != 1 || res.Dropped {
		t.Fatalf("emit answered %+v, want delivered to the one connection", res)
	}
	var frame struct {
		Module  string            `json:"module"`
		Content string            `json:"content"`
		Header  map[string]string `json:"header"`
	}
	if err := json.Unmarshal([]byte(readFrame(t, ws)), &frame); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(app.SecretToken))
	fmt.Fprintf(mac, "v0:%s:%s", frame.Header["x-zm-request-timestamp"], frame.Content)
	if want := "v0=" + hex.EncodeToString(mac.Sum(nil)); frame.Header["x-zm-signature"] != want {
		t.Errorf("x-zm-signature %q, want %q", frame.Header["x-zm-signature"], want)
	}
	var inner struct {
		Event   string `json:"event"`
		EventTS int64  `json:"event_ts"`
	}
	if err := json.Unmarshal([]byte(frame.Content), &inner); err != nil || inner.Event != "meeting.started" || inner.EventTS == 0 {
		t.Errorf("content %s: want meeting.started with event_ts filled in (%v)", frame.Content, err)
	}
	if frame.Module != "message" || frame.Header["x-zm-trackingid"] != res.TrackingIDs[0] || frame.Header["clientId"] != app.ClientID {
		t.Errorf("frame %+v does not match the emit answer %+v", frame, res)
	}

	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	readClose(t, ws)
	var journal []mockserver.Entry
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(journal, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.KindConnectionClose && e.Close.By == "client" && e.Close.Code == 1000
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("the journal never recorded the client's close 1000: %+v", journal)
		}
		time.Sleep(20 * time.Millisecond)
		adminJSON(t, http.MethodGet, "http://"+mock.addr+"/_mock/journal", nil, &journal)
	}
}

// process is a child process whose output the test watches.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *watchedOutput
	done           chan struct{}
	err            error // set when done is closed
}

func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), stdout: newWatchedOutput(), stderr: newWatchedOutput(), done: make(chan struct{})}
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", filepath.Base(name))
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\nstderr:\n%s", filepath.Base(name), p.stdout, p.stderr)
		}
	})
	return p
}

// stop sends SIGTERM, waits for the exit and returns the exit status.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	return p.wait(t)
}

// wait waits for the exit, killing the process after a limit far beyond what it needs (a
// race-enabled binary alone sleeps 1 s at exit), and returns the exit status.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	const limit = 30 * time.Second
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Errorf("%s did not exit within %v: killed", p.cmd.Path, limit)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.cmd.ProcessState.ExitCode()
}

// mockProcess is zoommock serve running as a child process.
type mockProcess struct {
	*process
	addr string // HOST:PORT from the banner
}

var bannerAddr = regexp.MustCompile(`zoommock is serving a mock Zoom on (\S+)\n`)

// startMock runs `zoommock serve` with exactly env as its environment and reads its address from
// the banner, so ZOOMMOCK_ADDR=127.0.0.1:0 works.
func startMock(t *testing.T, bin string, env []string) *mockProcess {
	t.Helper()
	p := start(t, env, bin, "serve")
	m := p.stdout.waitFor(t, bannerAddr, "the serve banner")
	return &mockProcess{process: p, addr: m[1]}
}

// runClient runs a client to the end and fails the test with its output unless it exits 0.
func runClient(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	p := start(t, env, name, args...)
	if code := p.wait(t); code != 0 {
		t.Fatalf("%s %s exited %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), code, p.stdout, p.stderr)
	}
	t.Logf("%s", p.stdout)
}

// requireNode returns node's path. Outside CI a missing node or npm ci skips the test; in CI
// (CI=true), where .ci/run installs them, it fails.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed")
	}
	if !fileExists(filepath.Join(clientsDir, "node", "node_modules", "ws")) {
		missing(t, "the ws package is not installed: run npm ci in examples/clients/node")
	}
	return node
}

// requirePythonWebsockets returns Debian's python3 when it has the websockets package.
func requirePythonWebsockets(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3" // where apt installs python3-websockets, whatever python3 PATH finds first
	if out, err := exec.Command(python, "-c", "import websockets").CombinedOutput(); err != nil {
		missing(t, fmt.Sprintf("%s cannot import websockets (%v: %s): apt-get install python3-websockets", python, err, bytes.TrimSpace(out)))
	}
	return python
}

func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: .ci/run must install it)", why)
	}
	t.Skipf("%s; skipped outside CI", why)
}

func getToken(t *testing.T, addr string, app mockserver.App, grant string) string {
	t.Helper()
	q := url.Values{"grant_type": {grant}}
	if grant == "account_credentials" {
		q.Set("account_id", app.AccountID)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/oauth/token?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(app.ClientID, app.ClientSecret)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	do(t, req, &tr)
	if tr.AccessToken == "" || tr.TokenType != "bearer" {
		t.Fatalf("token (%s): %+v", grant, tr)
	}
	return tr.AccessToken
}

func adminJSON(t *testing.T, method, u string, body []byte, v any) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	do(t, req, v)
}

// noPool keeps no idle connection behind, so goleak finds none of its goroutines.
var noPool = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// do sends req, requires 200 and decodes the JSON answer into v.
func do(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := noPool.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s (%v)", req.Method, req.URL, resp.Status, body, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s %s: %v in %s", req.Method, req.URL, err, body)
	}
}

func dialWS(t *testing.T, addr, subscriptionID, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+addr+"/ws?subscriptionId="+subscriptionID+"&access_token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readFrame(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

func wantFrame(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	if got := readFrame(t, ws); got != want {
		t.Fatalf("frame %s, want %s", got, want)
	}
}

// readClose reads until the server closes and returns its close frame.
func readClose(t *testing.T, ws *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil {
			t.Fatalf("connection ended with %v, want a close frame", err)
		}
	}
}

// watchedOutput collects a child's output and lets a test wait for a line in it.
type watchedOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchedOutput() *watchedOutput { return &watchedOutput{changed: make(chan struct{})} }

func (o *watchedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

func (o *watchedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits up to 15 s for re to match the output and returns the submatches.
func (o *watchedOutput) waitFor(t *testing.T, re *regexp.Regexp, what string) []string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		o.mu.Lock()
		m, changed := re.FindStringSubmatch(o.buf.String()), o.changed
		o.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, o)
		}
	}
}
