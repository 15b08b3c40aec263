package recorder_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/recorder"
	"github.com/zoommock/zoommock/zoomtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ctxFor is a context that ends before go test's own timeout would, so a broken test fails fast.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recording is a Proxy in front of an upstream, recording into a file of the test.
type recording struct {
	t     *testing.T
	proxy *recorder.Proxy
	hs    *httptest.Server
	cw    *cassettes.Writer
	path  string
	logs  *syncBuffer
	done  bool
}

// proxyTo starts a Proxy whose both upstreams are upstreamURL (an http:// base URL).
func proxyTo(t *testing.T, upstreamURL string, opts ...recorder.Option) *recording {
	t.Helper()
	path := filepath.Join(t.TempDir(), "session.cassette")
	cw, err := cassettes.Create(path, cassettes.Header{Recorder: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts = append([]recorder.Option{recorder.WithOAuthUpstream(upstreamURL), recorder.WithWSUpstream(upstreamURL),
		recorder.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}, opts...)
	p, err := recorder.NewProxy(cw, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r := &recording{t: t, proxy: p, hs: httptest.NewServer(p), cw: cw, path: path, logs: logs}
	t.Cleanup(r.stop)
	return r
}

// stop closes the proxy, its listener and the cassette.
func (r *recording) stop() {
	if r.done {
		return
	}
	r.done = true
	r.proxy.Close()
	r.hs.Close()
	if err := r.cw.Close(); err != nil {
		r.t.Errorf("closing the cassette: %v", err)
	}
	if r.t.Failed() {
		r.t.Logf("recorder logs:\n%s", r.logs)
	}
}

// eventually waits up to 5s for cond, failing the test with what did not happen.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
	}
}

// waitIdle waits until the proxy has seen every connection end.
func (r *recording) waitIdle() {
	r.t.Helper()
	eventually(r.t, "every connection ends", func() bool { return r.proxy.Stats().Open == 0 })
}

// records stops the recording and reads the cassette back, which must end cleanly.
func (r *recording) records() []cassettes.Record {
	r.t.Helper()
	r.stop()
	_, recs, err := cassettes.ReadFile(r.path)
	if err != nil {
		r.t.Fatalf("reading the cassette back: %v", err)
	}
	if err := cassettes.ValidateRecords(recs); err != nil {
		r.t.Errorf("the cassette is not valid: %v", err)
	}
	return recs
}

// noSecrets fails the test when any secret appears in the cassette file or in the logs.
func noSecrets(t *testing.T, path, logs string, secrets ...string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found, err := cassettes.ContainsAny(data, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("the cassette holds secrets %q", found)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs hold the secret %q", s)
		}
	}
}

// wsURL turns an http:// base URL into the ws:// one.
func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

// secretsOf lists what must never reach a cassette for a session of cfg with token.
func secretsOf(cfg zoomtest.Config, token string) []string {
	return []string{cfg.ClientSecret, token, basic(cfg), cfg.VerificationToken, cfg.SecretToken}
}

func basic(cfg zoomtest.Config) string {
	return base64.StdEncoding.EncodeToString([]byte(cfg.ClientID + ":" + cfg.ClientSecret))
}

// getToken does the S2S token exchange against base, as an application does.
func getToken(t *testing.T, base string, cfg zoomtest.Config) (token, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth/token?grant_type=account_credentials&account_id="+cfg.AccountID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
	resp, err := noPool.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %s %s (%v)", resp.Status, data, err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", data, err)
	}
	return tr.AccessToken, string(data)
}

// noPool keeps no idle connection behind, so goleak finds none of its goroutines.
var noPool = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// dial connects to the event WebSocket at base as a client does, appending the token unescaped.
func dial(t *testing.T, base, subscriptionID, token string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctxFor(t), wsURL(base)+"/ws?subscriptionId="+subscriptionID+"&access_token="+token, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func readFrame(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(data)
}

func send(t *testing.T, ws *websocket.Conn, payload string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(payload)); err != nil {
		t.Fatal(err)
	}
}

// readEnd reads until the connection ends and returns how: a *websocket.CloseError (code 1006
// when the TCP connection ended without a close frame).
func readEnd(t *testing.T, ws *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil {
			return &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: err.Error()}
		}
	}
}

// Record constructors for the expected cassettes.
func open(conn, query string) cassettes.Record {
	return cassettes.Record{Open: &cassettes.WSOpen{Conn: conn, Path: "/ws", Query: query, Status: 101}}
}

func frame(conn string, from cassettes.Side, payload string) cassettes.Record {
	return cassettes.Record{Frame: &cassettes.Frame{Conn: conn, From: from, Opcode: cassettes.Text, Payload: payload}}
}

func closed(conn string, by cassettes.Side, code int, reason string) cassettes.Record {
	return cassettes.Record{Close: &cassettes.WSClose{Conn: conn, By: by, Code: code, Reason: reason}}
}

func dropped(conn string, by cassettes.Side) cassettes.Record {
	return cassettes.Record{Close: &cassettes.WSClose{Conn: conn, By: by, Abrupt: true}}
}

// opened is what a cassette holds for a successful connection c1 of cfg: its upgrade and
// build_connection.
func opened(cfg zoomtest.Config) []cassettes.Record {
	return []cassettes.Record{
		open("c1", "subscriptionId="+cfg.SubscriptionID+"&access_token=REDACTED-TOKEN-1"),
		frame("c1", cassettes.Server, connected),
	}
}

// appSession is an application's session through a proxy in front of a mock, just connected.
type appSession struct {
	srv         *zoomtest.Server
	cfg         zoomtest.Config
	rec         *recording
	token, body string // the access token, and the token response that carried it
	ws          *websocket.Conn
	conn        string // the mock's id of the connection
}

// connectThroughProxy gets a token and connects through a new proxy to a new mock, as an
// application does, and waits for build_connection.
func connectThroughProxy(t *testing.T) *appSession {
	t.Helper()
	s := &appSession{srv: zoomtest.NewServer(t)}
	s.cfg = s.srv.Config()
	s.rec = proxyTo(t, s.srv.URL)
	s.token, s.body = getToken(t, s.rec.hs.URL, s.cfg)
	s.ws = dial(t, s.rec.hs.URL, s.cfg.SubscriptionID, s.token)
	if got := readFrame(t, s.ws); got != connected {
		t.Fatalf("first frame %s, want %s", got, connected)
	}
	s.conn = s.srv.WaitForConnection(ctxFor(t)).ID
	return s
}

// opening is what the cassette holds once the session is connected, followed by then.
func (s *appSession) opening(then ...cassettes.Record) []cassettes.Record {
	return append(append([]cassettes.Record{tokenExchange(s.cfg, s.body, s.token)}, opened(s.cfg)...), then...)
}

// deadURL is an http:// URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return "http://" + ln.Addr().String()
}

// tokenExchange is the record of a successful token request of cfg, whose answer was body.
func tokenExchange(cfg zoomtest.Config, body, token string) cassettes.Record {
	return cassettes.Record{HTTP: &cassettes.HTTPExchange{
		Method: http.MethodPost, Path: "/oauth/token", Query: "grant_type=account_credentials&account_id=" + cfg.AccountID,
		RequestHeader:  http.Header{"Authorization": {"Basic REDACTED-BASIC-1"}},
		Status:         http.StatusOK,
		ResponseHeader: http.Header{"Content-Type": {"application/json"}},
		ResponseBody:   strings.ReplaceAll(body, token, "REDACTED-TOKEN-1"),
	}}
}

const (
	heartbeat      = `{"module":"heartbeat"}`
	heartbeatReply = `{"module":"heartbeat","success":true,"content":"live","header":{}}`
	connected      = `{"module":"build_connection","success":true,"content":"connected","header":{}}`
)

// diffRecords compares records ignoring offsets, and checks that offsets never decrease.
func diffRecords(t *testing.T, got, want []cassettes.Record) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cassettes.Record{}, "Offset"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("cassette records (-want +got):\n%s", diff)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Offset < got[i-1].Offset {
			t.Errorf("record %d at %v is before record %d at %v", i+1, got[i].Offset, i, got[i-1].Offset)
		}
	}
}

type recorderStats = recorder.Stats

// newServer serves h on a loopback port until the test ends and returns its base URL.
func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
