package mockserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func failure(content string) string {
	return `{"module":"build_connection","success":false,"content":"` + content + `","header":{}}`
}

func TestBuildConnectionFailures(t *testing.T) {
	t.Parallel()
	other := App{ClientID: "other", ClientSecret: "s", AccountID: "a", SecretToken: "st", Subscriptions: []Subscription{{ID: "otherSub"}}}
	ts := start(t, Config{Apps: []App{DevApp(), other}})
	good := ts.token(t, DevApp())
	otherToken := ts.token(t, other)
	tests := []struct {
		name, sub, token, wantFrame string
		wantClose                   CloseSpec
	}{
		{"no token", DevSubscriptionID, "", failure("token is empty"), CloseSpec{1008, "invalid_token"}},
		{"unknown token", DevSubscriptionID, "eyJnot.a.token", failure("Token is invalid"), CloseSpec{1008, "invalid_token"}},
		{"unknown subscription", "nope", good, failure("Invalid subscriptionId"), CloseSpec{1008, "invalid_subscription"}},
		{"missing subscription", "", good, failure("Invalid subscriptionId"), CloseSpec{1008, "invalid_subscription"}},
		{"token of another app", DevSubscriptionID, otherToken, failure("Token is invalid"), CloseSpec{1008, "invalid_token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ws := dial(t, ts.wsURL(tt.sub, tt.token))
			if got := readText(t, ws); got != tt.wantFrame {
				t.Errorf("frame = %s\nwant    %s", got, tt.wantFrame)
			}
			if ce := readClose(t, ws); ce.Code != tt.wantClose.Code || ce.Text != tt.wantClose.Reason {
				t.Errorf("close = %d %q, want %v", ce.Code, ce.Text, tt.wantClose)
			}
		})
	}
}

func TestBuildConnectionSettings(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{InvalidTokenText: "Invalid Token", AuthFailureClose: CloseSpec{4001, "bad token"}, ConnectedText: "ok"})
	ws := dial(t, ts.wsURL(DevSubscriptionID, "wrong"))
	if got := readText(t, ws); got != failure("Invalid Token") {
		t.Errorf("frame = %s", got)
	}
	if ce := readClose(t, ws); ce.Code != 4001 || ce.Text != "bad token" {
		t.Errorf("close = %v", ce)
	}
	ok := dial(t, ts.wsURL(DevSubscriptionID, ts.token(t, DevApp())))
	if got := readText(t, ok); got != `{"module":"build_connection","success":true,"content":"ok","header":{}}` {
		t.Errorf("frame = %s", got)
	}
}

func TestExpiredAndInvalidatedTokens(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	expired := ts.token(t, DevApp())
	ts.ExpireTokens()
	fresh := ts.token(t, DevApp())
	ws := dial(t, ts.wsURL(DevSubscriptionID, expired))
	if got := readText(t, ws); got != failure("Token is invalid") {
		t.Errorf("expired: %s", got)
	}
	ts.InvalidateTokens()
	ws = dial(t, ts.wsURL(DevSubscriptionID, fresh))
	if got := readText(t, ws); got != failure("Token is invalid") {
		t.Errorf("invalidated: %s", got)
	}
	// New tokens work after both.
	ts.connect(t)
	var notes []string
	for _, e := range ts.Journal() {
		if e.Kind == KindConnectionOpen {
			notes = append(notes, e.Note)
		}
	}
	if len(notes) != 3 || !strings.Contains(notes[0], "expired") || !strings.Contains(notes[1], "invalidated") || notes[2] != "" {
		t.Errorf("notes = %q", notes)
	}
}

func TestHeartbeatReply(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	for range 3 {
		heartbeat(t, ws)
		if got := readText(t, ws); got != heartbeatReply {
			t.Fatalf("reply = %s", got)
		}
	}
	// Protocol pings still get pongs.
	pong := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	heartbeat(t, ws)
	readText(t, ws) // the pong handler runs inside this read
	select {
	case got := <-pong:
		if got != "p1" {
			t.Errorf("pong = %q", got)
		}
	default:
		t.Error("no pong before the heartbeat reply")
	}
	if c := ts.Connections(); len(c) != 1 || c[0].Heartbeats != 4 {
		t.Errorf("connections = %+v", c)
	}
}

func TestHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 150 * time.Millisecond
	ts := start(t, Config{HeartbeatTimeout: timeout})
	silent := ts.connect(t)
	opened := time.Now()
	if ce := readClose(t, silent); ce.Code != 1000 || ce.Text != "heartbeat timeout" {
		t.Errorf("close = %v", ce)
	}
	if elapsed := time.Since(opened); elapsed < timeout {
		t.Errorf("closed after %v, before the %v timeout", elapsed, timeout)
	}
	var closeNote string
	waitFor(t, ts.Server, "close entry", func() bool {
		for _, e := range ts.Journal() {
			if e.Kind == KindConnectionClose {
				closeNote = e.Note
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(closeNote, "no heartbeat for ") || !strings.HasSuffix(closeNote, ": connection closed") {
		t.Errorf("note = %q", closeNote)
	}
}

func TestHeartbeatsKeepConnectionOpen(t *testing.T) {
	t.Parallel()
	// Generous: the connection must survive a loaded machine, where a beat can be late by far more
	// than the interval between beats.
	const timeout = time.Second
	ts := start(t, Config{HeartbeatTimeout: timeout})
	ws := ts.connect(t)
	// Beat every timeout/10 for one and a half timeouts: the connection must stay open throughout.
	for end := time.Now().Add(3 * timeout / 2); time.Now().Before(end); {
		heartbeat(t, ws)
		if got := readText(t, ws); got != heartbeatReply {
			t.Fatalf("reply = %s", got)
		}
		time.Sleep(timeout / 10)
	}
	// Non-heartbeat frames do not reset the timer by default.
	for end := time.Now().Add(2 * timeout); time.Now().Before(end); time.Sleep(timeout / 10) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"other"}`)); err != nil {
			break // the server closed
		}
	}
	if ce := readClose(t, ws); ce.Code != 1000 {
		t.Errorf("close = %v", ce)
	}
}

func TestAnyFrameResetsHeartbeat(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	ts := start(t, Config{HeartbeatTimeout: timeout, AnyFrameResetsHeartbeat: true})
	ws := ts.connect(t)
	for end := time.Now().Add(3 * timeout / 2); time.Now().Before(end); time.Sleep(timeout / 10) {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`heartbeat`)); err != nil {
			t.Fatal(err)
		}
	}
	heartbeat(t, ws)
	if got := readText(t, ws); got != heartbeatReply {
		t.Fatalf("connection closed although frames kept coming: %s", got)
	}
}

func TestBadClientFrames(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	frames := []struct {
		mt       int
		data     string
		wantNote string
	}{
		{websocket.TextMessage, `heartbeat`, "not a JSON object"},
		{websocket.TextMessage, `{"type":"heartbeat"}`, `no "module" key`},
		{websocket.TextMessage, `{"module":"subscribe"}`, `unknown module "subscribe"`},
		{websocket.TextMessage, `[1,2]`, "not a JSON object"},
		{websocket.BinaryMessage, `{"module":"heartbeat"}`, "binary frame ignored"},
		{websocket.TextMessage, ``, "not a JSON object"},
	}
	for _, f := range frames {
		if err := ws.WriteMessage(f.mt, []byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	// None of them is answered: the next frame is the reply to a real heartbeat.
	heartbeat(t, ws)
	if got := readText(t, ws); got != heartbeatReply {
		t.Fatalf("got %s", got)
	}
	var notes []string
	for _, e := range ts.Journal() {
		if e.Kind == KindClientFrame {
			notes = append(notes, e.Note)
		}
	}
	if len(notes) != len(frames)+1 {
		t.Fatalf("journal has %d client frames: %q", len(notes), notes)
	}
	for i, f := range frames {
		if !strings.Contains(notes[i], f.wantNote) {
			t.Errorf("frame %q: note %q, want it to say %q", f.data, notes[i], f.wantNote)
		}
	}
	if notes[len(frames)] != "" {
		t.Errorf("heartbeat has a note: %q", notes[len(frames)])
	}
}

func TestInvalidUTF8Closes1007(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	if err := ws.WriteMessage(websocket.TextMessage, []byte{'{', 0xff, 0xfe, '}'}); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, ws); ce.Code != 1007 {
		t.Errorf("close = %v", ce)
	}
	// The server keeps serving everyone else.
	ws2 := ts.connect(t)
	heartbeat(t, ws2)
	if got := readText(t, ws2); got != heartbeatReply {
		t.Errorf("got %s", got)
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{ReadLimit: 1024})
	ws := ts.connect(t)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 2048))); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, ws); ce.Code != 1009 {
		t.Errorf("close = %v", ce)
	}
	waitFor(t, ts.Server, "close entry", func() bool {
		for _, e := range ts.Journal() {
			if e.Kind == KindConnectionClose && e.Close.Code == 1009 && strings.Contains(e.Note, "read limit of 1024") {
				return true
			}
		}
		return false
	})
}

func TestNotAnUpgrade(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	status, body := do(t, mustRequest(t, http.MethodGet, ts.URL+"/ws?subscriptionId=x", ""))
	if status != 400 || !strings.Contains(body, "connect with a WebSocket client") {
		t.Errorf("got %d %q", status, body)
	}
}

func TestAuthorizationHeaderNoted(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	tok := ts.token(t, DevApp())
	ws, _, err := websocket.DefaultDialer.Dial(ts.wsURL(DevSubscriptionID, ""), http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if got := readText(t, ws); got != failure("token is empty") {
		t.Errorf("frame = %s", got)
	}
	j := ts.Journal()
	open := j[len(j)-1]
	for _, e := range j {
		if e.Kind == KindConnectionOpen {
			open = e
		}
	}
	if !strings.Contains(open.Note, "Authorization header, which Zoom ignores") {
		t.Errorf("note = %q", open.Note)
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
