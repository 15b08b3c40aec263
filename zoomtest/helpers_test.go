package zoomtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/zoomtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ctxFor is a context that ends before go test's own timeout would, so a broken test fails fast.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeTB records what a helper reports instead of failing the real test, so tests can check the
// messages a user would read. Fatalf ends the calling goroutine, as testing's does: call helpers
// that may fail through run. Cleanups are collected and run by finish (at the latest when the
// real test ends), so a test can also check what a cleanup reports.
type fakeTB struct {
	testing.TB // the real test, for whatever is not overridden

	mu       sync.Mutex
	errors   []string
	fatal    string
	logs     []string
	cleanups []func()
}

func newFakeTB(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	t.Cleanup(f.finish)
	return f
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	f.TB.Logf(format, args...)
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0 || f.fatal != ""
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) finish() {
	f.mu.Lock()
	fns := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// run calls fn in a goroutine of its own, which Fatalf may end, and returns the fatal message.
func (f *fakeTB) run(fn func()) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

// The test client below is deliberately plain Zoom protocol, one step per function, so a test can
// also do each step wrong on purpose.

// getToken requests a token with the account_credentials grant.
func getToken(t *testing.T, cfg zoomtest.Config) string {
	t.Helper()
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.AccountID}}
	req, err := http.NewRequest(http.MethodPost, cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil {
		t.Fatalf("token request: %d %s", resp.StatusCode, body)
	}
	return tr.AccessToken
}

// dial opens a WebSocket, closed by t.Cleanup.
func dial(t *testing.T, u string, header http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// frame is any server frame.
type frame struct {
	Module  string            `json:"module"`
	Success bool              `json:"success"`
	Content string            `json:"content"`
	Header  map[string]string `json:"header"`
}

// readFrame reads the next server frame.
func readFrame(t *testing.T, ws *websocket.Conn) frame {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// readClose reads until the connection ends and returns its close code (1006 for no close frame).
func readClose(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended with %v, want a close", err)
	}
}

// connect gets a token and opens the default subscription, checking build_connection.
func connect(t *testing.T, srv *zoomtest.Server) *websocket.Conn {
	t.Helper()
	ws := dial(t, srv.WebSocketURL()+"&access_token="+getToken(t, srv.Config()), nil)
	if f := readFrame(t, ws); f.Module != "build_connection" || !f.Success {
		t.Fatalf("build_connection = %+v, want success", f)
	}
	return ws
}

func send(t *testing.T, ws *websocket.Conn, text string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("write %s: %v", text, err)
	}
}

// closeClean sends a close frame and waits for the server's reply, as a well-behaved client does.
func closeClean(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("close: %v", err)
	}
	readClose(t, ws)
}

const heartbeat = `{"module":"heartbeat"}`
