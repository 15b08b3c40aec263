package recorder_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

// A whole session through the proxy: the application's token request, connection, heartbeat,
// an event and its close reach the mock unchanged, and the cassette holds exactly that exchange,
// with no secret in it or in the logs.
func TestProxyRecordsSession(t *testing.T) {
	t.Parallel()
	s := connectThroughProxy(t)
	srv, cfg, rec, ws := s.srv, s.cfg, s.rec, s.ws
	send(t, ws, heartbeat)
	if got := readFrame(t, ws); got != heartbeatReply {
		t.Fatalf("heartbeat answer %s, want %s", got, heartbeatReply)
	}
	if res := srv.Emit(zoomtest.MeetingStarted()); res.Delivered != 1 {
		t.Fatalf("emit: %+v", res)
	}
	event := readFrame(t, ws)
	if !strings.Contains(event, cfg.VerificationToken) {
		t.Fatalf("the event frame %s lacks the verification token: it was changed on its way", event)
	}
	if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ce := readEnd(t, ws); ce.Code != 1000 {
		t.Errorf("the close was answered with %d %q, want the mock's echo of 1000", ce.Code, ce.Text)
	}
	if e := srv.WaitForClose(ctxFor(t), s.conn); *e.Close != (mockserver.CloseEntry{By: "client", Code: 1000, Reason: "bye"}) {
		t.Errorf("the mock saw the close %+v, want the client's 1000 \"bye\"", *e.Close)
	}

	diffRecords(t, rec.records(), s.opening(
		frame("c1", cassettes.Client, heartbeat),
		frame("c1", cassettes.Server, heartbeatReply),
		frame("c1", cassettes.Server, strings.ReplaceAll(event, cfg.VerificationToken, "REDACTED-VERIFICATION-1")),
		closed("c1", cassettes.Client, 1000, "bye"),
	))
	noSecrets(t, rec.path, rec.logs.String(), secretsOf(cfg, s.token)...)
	if st := rec.proxy.Stats(); st != (recorderStats{Records: 7, Exchanges: 1, Connections: 1, Frames: 4, Events: 1, Heartbeats: 1}) {
		t.Errorf("stats %+v", st)
	}
}

// Close codes and reasons, and connections dropped without a close frame, pass through the proxy
// in both directions, and the cassette says who ended the connection and how.
func TestProxyPassesClosesOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		by     cassettes.Side
		code   int // 0: dropped without a close frame
		reason string
	}{
		{"server 1000", cassettes.Server, 1000, "normal"},
		{"server 1001", cassettes.Server, 1001, "going away"},
		{"server 1011", cassettes.Server, 1011, "internal error"},
		{"server 4000", cassettes.Server, 4000, "app specific"},
		{"server drops", cassettes.Server, 0, ""},
		{"client 1000", cassettes.Client, 1000, "done"},
		{"client 1001", cassettes.Client, 1001, "shutting down"},
		{"client 1011", cassettes.Client, 1011, "oops"},
		{"client 4999", cassettes.Client, 4999, ""},
		{"client drops", cassettes.Client, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := connectThroughProxy(t)
			srv, ws := s.srv, s.ws

			var end cassettes.Record
			switch {
			case tt.by == cassettes.Server && tt.code != 0:
				srv.CloseConnections(tt.code, tt.reason)
				if ce := readEnd(t, ws); ce.Code != tt.code || ce.Text != tt.reason {
					t.Errorf("the client saw %d %q, want %d %q", ce.Code, ce.Text, tt.code, tt.reason)
				}
				end = closed("c1", cassettes.Server, tt.code, tt.reason)
			case tt.by == cassettes.Server:
				srv.DropConnections()
				if ce := readEnd(t, ws); ce.Code != websocket.CloseAbnormalClosure {
					t.Errorf("the client saw %d %q, want a dropped connection (1006)", ce.Code, ce.Text)
				}
				end = dropped("c1", cassettes.Server)
			case tt.code != 0:
				if err := ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tt.code, tt.reason), time.Now().Add(time.Second)); err != nil {
					t.Fatal(err)
				}
				if ce := readEnd(t, ws); ce.Code != tt.code {
					t.Errorf("the client's close was answered with %d %q, want %d", ce.Code, ce.Text, tt.code)
				}
				end = closed("c1", cassettes.Client, tt.code, tt.reason)
			default:
				ws.NetConn().Close()
				end = dropped("c1", cassettes.Client)
			}
			if tt.by == cassettes.Client {
				want := mockserver.CloseEntry{By: "client", Code: tt.code, Reason: tt.reason, Abrupt: tt.code == 0}
				if e := srv.WaitForClose(ctxFor(t), s.conn); *e.Close != want {
					t.Errorf("the mock saw %+v, want %+v", *e.Close, want)
				}
			}
			diffRecords(t, s.rec.records(), s.opening(end))
		})
	}
}

// What the upstream answers is what the client gets, byte for byte, and it is recorded as such:
// token errors, refused upgrades, and the build_connection failure Zoom sends over a completed
// upgrade. The query string reaches the upstream exactly as the client wrote it.
func TestProxyPassesAnswersOn(t *testing.T) {
	t.Parallel()
	// An upstream that echoes the secret it was sent, as no upstream should.
	const tokenError = `{"reason":"Invalid client_id or client_secret some-client-secret","error":"invalid_client"}`
	var seen syncBuffer // the request URIs the upstream received
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(&seen, "%s\n", r.RequestURI)
		switch {
		case r.URL.Path == "/oauth/token":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Not-Recorded", "passed on")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, tokenError)
		case r.URL.Path == "/ws":
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "forbidden by the upstream")
		}
	})
	hs := newServer(t, upstream)
	rec := proxyTo(t, hs)

	req, _ := http.NewRequest(http.MethodPost, rec.hs.URL+"/oauth/token?grant_type=client_credentials",
		strings.NewReader("grant_type=account_credentials&account_id=acc%2F1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("some-client", "some-client-secret")
	resp, err := noPool.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 400 || body != tokenError || resp.Header.Get("X-Not-Recorded") != "passed on" {
		t.Errorf("token answer %s %q %v: want the upstream's 400 as is", resp.Status, body, resp.Header)
	}

	// Clients append the token unescaped; odd bytes must reach the upstream as they are.
	query := "subscriptionId=a%2Fb~c&access_token=eyJ.x-y_z+w%3D"
	_, resp, err = websocket.DefaultDialer.Dial(wsURL(rec.hs.URL)+"/ws?"+query, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial: %v %v, want the upstream's 403", err, resp)
	}
	if body := readAll(t, resp); body != "forbidden by the upstream" {
		t.Errorf("refused upgrade body %q", body)
	}
	if want := "/oauth/token?grant_type=client_credentials\n/ws?" + query + "\n"; seen.String() != want {
		t.Errorf("the upstream received\n%s\nwant\n%s", seen.String(), want)
	}
	diffRecords(t, rec.records(), []cassettes.Record{
		{HTTP: &cassettes.HTTPExchange{
			Method: "POST", Path: "/oauth/token", Query: "grant_type=client_credentials",
			RequestHeader: http.Header{"Authorization": {"Basic REDACTED-BASIC-1"}, "Content-Type": {"application/x-www-form-urlencoded"}},
			Form:          map[string][]string{"grant_type": {"account_credentials"}, "account_id": {"acc/1"}},
			Status:        400, ResponseHeader: http.Header{"Content-Type": {"application/json"}},
			// The client secret learned from the Basic credentials is scrubbed wherever it appears.
			ResponseBody: strings.ReplaceAll(tokenError, "some-client-secret", "REDACTED-SECRET-1"),
		}},
		{Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=a%2Fb~c&access_token=REDACTED-TOKEN-1", Status: 403}},
	})
	noSecrets(t, rec.path, rec.logs.String(), "some-client-secret", "eyJ.x-y_z+w%3D", "eyJ.x-y_z+w=")
}

// A bad token is refused the way Zoom refuses it, over a completed upgrade; the recording shows
// the failure frame and the server's close.
func TestProxyRecordsBuildConnectionFailure(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	rec := proxyTo(t, srv.URL)
	ws := dial(t, rec.hs.URL, srv.Config().SubscriptionID, "not-a-token")
	failure := readFrame(t, ws)
	if ce := readEnd(t, ws); ce.Code != 1008 || ce.Text != "invalid_token" {
		t.Errorf("close %d %q, want 1008 invalid_token", ce.Code, ce.Text)
	}
	diffRecords(t, rec.records(), []cassettes.Record{
		open("c1", "subscriptionId="+srv.Config().SubscriptionID+"&access_token=REDACTED-TOKEN-1"),
		frame("c1", cassettes.Server, failure),
		closed("c1", cassettes.Server, 1008, "invalid_token"),
	})
}

// Binary frames, pings and invalid UTF-8 travel through; pings are answered by the other side,
// not by the recorder, and are not recorded.
func TestProxyPassesFramesOn(t *testing.T) {
	t.Parallel()
	upgrader := websocket.Upgrader{}
	pinged := make(chan string, 1)
	hs := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		ws.SetPingHandler(func(data string) error {
			pinged <- data
			return ws.WriteControl(websocket.PongMessage, []byte("pong from upstream"), time.Now().Add(time.Second))
		})
		for { // echo
			mt, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(mt, data); err != nil {
				return
			}
		}
	}))
	rec := proxyTo(t, hs)
	ws := dial(t, rec.hs.URL, "sub", "tok-tok-tok")
	pong := make(chan string, 1)
	ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("ping from client"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs := []struct {
		mt   int
		data string
	}{{websocket.BinaryMessage, "\x00\x01\xff"}, {websocket.TextMessage, "not \xff UTF-8"}, {websocket.TextMessage, strings.Repeat("x", 70000)}}
	var want []cassettes.Record
	want = append(want, open("c1", "subscriptionId=sub&access_token=REDACTED-TOKEN-1"))
	for _, m := range msgs {
		if err := ws.WriteMessage(m.mt, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		mt, data, err := ws.ReadMessage() // the pong arrives while reading
		if err != nil || mt != m.mt || string(data) != m.data {
			t.Fatalf("echo: %d %.40q %v, want %d %.40q", mt, data, err, m.mt, m.data)
		}
		op := cassettes.Text
		if m.mt == websocket.BinaryMessage {
			op = cassettes.Binary
		}
		for _, from := range []cassettes.Side{cassettes.Client, cassettes.Server} {
			want = append(want, cassettes.Record{Frame: &cassettes.Frame{Conn: "c1", From: from, Opcode: op, Payload: m.data}})
		}
	}
	if got := <-pinged; got != "ping from client" {
		t.Errorf("upstream got ping %q", got)
	}
	if got := <-pong; got != "pong from upstream" {
		t.Errorf("client got pong %q, want the upstream's", got)
	}
	ws.NetConn().Close()
	rec.waitIdle()
	diffRecords(t, rec.records(), append(want, dropped("c1", cassettes.Client)))
}

// An upstream that cannot be reached gets the client a 502 naming it, and nothing is recorded.
func TestProxyUnreachableUpstream(t *testing.T) {
	t.Parallel()
	dead := deadURL(t)
	rec := proxyTo(t, dead)

	resp, err := noPool.Post(rec.hs.URL+"/oauth/token?grant_type=account_credentials", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "failed to reach "+dead) {
		t.Errorf("token: %s %q, want 502 naming %s", resp.Status, body, dead)
	}
	_, resp, err = websocket.DefaultDialer.Dial(wsURL(rec.hs.URL)+"/ws?subscriptionId=x&access_token=y", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dial: %v %v, want 502", err, resp)
	}
	if body := readAll(t, resp); !strings.Contains(body, "failed to reach the WebSocket upstream "+wsURL(dead)) || !strings.Contains(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("ws: %q, want a text body naming %s", body, wsURL(dead))
	}
	resp, err = noPool.Get(rec.hs.URL + "/v2/users")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "/oauth/token and /ws only") {
		t.Errorf("other path: %s %q", resp.Status, body)
	}
	if recs := rec.records(); len(recs) != 0 {
		t.Errorf("recorded %d records of failures the upstream never answered: %+v", len(recs), recs)
	}
	if !strings.Contains(rec.logs.String(), "upstream unreachable") {
		t.Errorf("no error logged:\n%s", rec.logs)
	}
}

// Close in the middle of a session ends both sides with 1001, and the cassette ends cleanly with
// the connection still open: neither side closed it.
func TestProxyCloseMidSession(t *testing.T) {
	t.Parallel()
	s := connectThroughProxy(t)
	rec, ws := s.rec, s.ws
	rec.proxy.Close()
	if ce := readEnd(t, ws); ce.Code != websocket.CloseGoingAway {
		t.Errorf("client saw %d %q, want 1001", ce.Code, ce.Text)
	}
	if e := s.srv.WaitForClose(ctxFor(t), s.conn); e.Close.Code != websocket.CloseGoingAway {
		t.Errorf("the mock saw %+v, want 1001", *e.Close)
	}
	resp, err := noPool.Get(rec.hs.URL + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %s, want 503", resp.Status)
	}
	diffRecords(t, rec.records(), s.opening())
}
