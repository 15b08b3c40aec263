package replayer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startMock serves a mock with playback p (nil for none) on a loopback port until the test ends.
func startMock(t testing.TB, p *replayer.Playback, edit ...func(*mockserver.Config)) (*mockserver.Server, string) {
	t.Helper()
	cfg := mockserver.Config{Playback: p, CloseGrace: 200 * time.Millisecond}
	for _, e := range edit {
		e(&cfg)
	}
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	return srv, hs.URL
}

// getToken requests a token from the mock at base with the development credentials.
func getToken(t testing.TB, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token?grant_type=account_credentials&account_id="+mockserver.DevAccountID, nil)
	req.SetBasicAuth(mockserver.DevClientID, mockserver.DevClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token request: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// dial opens the development subscription with token and returns the connection and its
// build_connection frame.
func dial(t testing.TB, base, token string) (*websocket.Conn, frame) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws?subscriptionId=" + mockserver.DevSubscriptionID
	if token != "" {
		u += "&access_token=" + token
	}
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, readFrame(t, ws)
}

// connect gets a token and opens a connection that must succeed.
func connect(t testing.TB, base string) *websocket.Conn {
	t.Helper()
	ws, f := dial(t, base, getToken(t, base))
	if f.Module != "build_connection" || !f.Success {
		t.Fatalf("build_connection = %+v, want success", f)
	}
	return ws
}

type frame struct {
	Module  string            `json:"module"`
	Success bool              `json:"success"`
	Content string            `json:"content"`
	Header  map[string]string `json:"header"`
	at      time.Time
}

func readFrame(t testing.TB, ws *websocket.Conn) frame {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	f := frame{at: time.Now()}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %s: %v", data, err)
	}
	return f
}

// readEnd reads until the connection ends and returns its close code (1006 without a close frame).
func readEnd(t testing.TB, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			t.Fatalf("connection ended with %v, want a close", err)
		}
	}
}

// closeWith sends a close frame and waits for the server's answer.
func closeWith(t testing.TB, ws *websocket.Conn, code int) {
	t.Helper()
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	readEnd(t, ws)
}

func send(t testing.TB, ws *websocket.Conn, text string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or fails the test after 5s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
	}
}

// tape scripts a cassette for a test, record by record, in any order (offsets sort it).
type tape struct {
	recs   []cassettes.Record
	tokens int
	events int
}

const heartbeat = `{"module":"heartbeat"}`

func (tp *tape) add(at time.Duration, r cassettes.Record) {
	r.Offset = at
	tp.recs = append(tp.recs, r)
}

// token records a successful token exchange and returns its token's placeholder.
func (tp *tape) token(at time.Duration) string {
	tp.tokens++
	tok := fmt.Sprintf("REDACTED-TOKEN-%d", tp.tokens)
	tp.add(at, cassettes.Record{HTTP: &cassettes.HTTPExchange{Method: "POST", Path: "/oauth/token",
		Query:          "grant_type=account_credentials&account_id=" + mockserver.DevAccountID,
		RequestHeader:  http.Header{"Authorization": {"Basic REDACTED-BASIC-1"}},
		Status:         200,
		ResponseHeader: http.Header{"Content-Type": {"application/json"}},
		ResponseBody:   `{"access_token":"` + tok + `","token_type":"bearer","expires_in":3599,"scope":"s","api_url":"https://api.zoom.us"}`}})
	return tok
}

// open records a connection with token (a placeholder, or "" for none) answered with success.
func (tp *tape) open(at time.Duration, conn, token string) {
	tp.openOnly(at, conn, token)
	tp.server(at+time.Millisecond, conn, `{"module":"build_connection","success":true,"content":"connected","header":{}}`)
}

func (tp *tape) openOnly(at time.Duration, conn, token string) {
	q := "subscriptionId=" + mockserver.DevSubscriptionID
	if token != "" {
		q += "&access_token=" + token
	}
	tp.add(at, cassettes.Record{Open: &cassettes.WSOpen{Conn: conn, Path: "/ws", Query: q, Status: 101}})
}

// refused records a connection refused with content, then closed by the server with code.
func (tp *tape) refused(at time.Duration, conn, token, content string, code int, reason string) {
	tp.openOnly(at, conn, token)
	tp.server(at+time.Millisecond, conn, `{"module":"build_connection","success":false,"content":"`+content+`","header":{}}`)
	tp.close(at+2*time.Millisecond, conn, cassettes.Server, code, reason)
}

func (tp *tape) server(at time.Duration, conn, payload string) {
	tp.add(at, cassettes.Record{Frame: &cassettes.Frame{Conn: conn, From: cassettes.Server, Opcode: cassettes.Text, Payload: payload}})
}

func (tp *tape) client(at time.Duration, conn, payload string) {
	tp.add(at, cassettes.Record{Frame: &cassettes.Frame{Conn: conn, From: cassettes.Client, Opcode: cassettes.Text, Payload: payload}})
}

// heartbeats records n heartbeats on conn, every apart, the first after every.
func (tp *tape) heartbeats(conn string, every time.Duration, n int) {
	for i := 1; i <= n; i++ {
		tp.heartbeat(time.Duration(i)*every, conn)
	}
}

// heartbeat records a client heartbeat and its reply.
func (tp *tape) heartbeat(at time.Duration, conn string) {
	tp.client(at, conn, heartbeat)
	tp.server(at+time.Millisecond, conn, `{"module":"heartbeat","success":true,"content":"live","header":{}}`)
}

// event records an event delivery and returns its content.
func (tp *tape) event(at time.Duration, conn, name string) string {
	tp.events++
	content := fmt.Sprintf(`{"event":%q,"event_ts":1796306400%03d,"payload":{"account_id":"acct","object":{"n":%d}}}`, name, tp.events%1000, tp.events)
	payload, _ := json.Marshal(map[string]any{"module": "message", "content": content, "header": map[string]string{
		"Authorization": "REDACTED-VERIFICATION-1", "clientId": "recorded-client", "x-zm-trackingid": fmt.Sprintf("EventService_%032d", tp.events),
		"x-zm-signature": "v0=recorded", "x-zm-request-timestamp": "1796306400"}})
	tp.server(at, conn, string(payload))
	return content
}

func (tp *tape) close(at time.Duration, conn string, by cassettes.Side, code int, reason string) {
	tp.add(at, cassettes.Record{Close: &cassettes.WSClose{Conn: conn, By: by, Code: code, Reason: reason, Abrupt: code == 0}})
}

// records returns the records in time order.
func (tp *tape) records() []cassettes.Record {
	recs := slices.Clone(tp.recs)
	slices.SortStableFunc(recs, func(a, b cassettes.Record) int { return int(a.Offset - b.Offset) })
	return recs
}

func (tp *tape) playback(t testing.TB, opts ...replayer.Option) *replayer.Playback {
	t.Helper()
	p, err := replayer.New(cassettes.Header{Recorder: "test"}, tp.records(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonl writes the tape as plain JSON lines, as a hand-written cassette.
func (tp *tape) jsonl(t testing.TB) []byte {
	t.Helper()
	var packed, plain strings.Builder
	w, err := cassettes.NewWriter(&packed, cassettes.Header{Recorder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tp.records() {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cassettes.Cat(&plain, strings.NewReader(packed.String())); err != nil {
		t.Fatal(err)
	}
	return []byte(plain.String())
}

// builtin reads a built-in cassette's records.
func builtin(t testing.TB, name string) []cassettes.Record {
	t.Helper()
	r, err := cassettes.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	_, recs, err := cassettes.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// get answers a GET of the admin API.
func call(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
