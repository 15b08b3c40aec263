package mockserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is a mock on a loopback port, shut down by t.Cleanup.
type testServer struct {
	*Server
	URL string // http://127.0.0.1:port
}

func start(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.CloseGrace == 0 {
		cfg.CloseGrace = 200 * time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return &testServer{Server: s, URL: hs.URL}
}

// tokenRequest posts to /oauth/token with Basic credentials (none when user is "") and returns
// the status and exact body.
func (ts *testServer) tokenRequest(t *testing.T, user, pass, query, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token?"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// token gets an access token for the dev app (or app) with account_credentials.
func (ts *testServer) token(t *testing.T, app App) string {
	t.Helper()
	status, body := ts.tokenRequest(t, app.ClientID, app.ClientSecret,
		"grant_type=account_credentials&account_id="+url.QueryEscape(app.AccountID), "", "")
	if status != http.StatusOK {
		t.Fatalf("token: status %d: %s", status, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

func (ts *testServer) wsURL(subscriptionID, token string) string {
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?subscriptionId=" + subscriptionID
	if token != "" {
		u += "&access_token=" + token
	}
	return u
}

// dial opens a WebSocket; the client is closed by t.Cleanup.
func dial(t *testing.T, u string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("dial: status %d", resp.StatusCode)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// connect gets a token and connects to the dev subscription, consuming the build_connection frame.
func (ts *testServer) connect(t *testing.T) *websocket.Conn {
	t.Helper()
	ws := dial(t, ts.wsURL(DevSubscriptionID, ts.token(t, DevApp())))
	if got := readText(t, ws); got != `{"module":"build_connection","success":true,"content":"connected","header":{}}` {
		t.Fatalf("build_connection = %s", got)
	}
	return ws
}

// readText reads the next frame, which must be text, within 5 s.
func readText(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", mt)
	}
	return string(data)
}

// readClose reads until the connection ends and returns the close error.
func readClose(t *testing.T, ws *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err == nil {
			t.Logf("frame before close: %s", data)
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended with %v, want a close", err)
		}
		return ce
	}
}

func heartbeat(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`)); err != nil {
		t.Fatalf("write heartbeat: %v", err)
	}
}

const heartbeatReply = `{"module":"heartbeat","success":true,"content":"live","header":{}}`

// waitFor polls cond on every state change until it holds or 5 s pass.
func waitFor(t *testing.T, s *Server, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		ch := s.Changed()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// newHTTPServer serves s on loopback without the Shutdown cleanup, for tests of Shutdown itself.
func newHTTPServer(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs
}
