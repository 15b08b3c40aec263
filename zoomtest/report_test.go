package zoomtest_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

// TestWaitersSayWhatTheClientDid runs a broken client per row and checks the message a user reads
// when the waiter gives up: it must say what the client did, never just "timeout".
func TestWaitersSayWhatTheClientDid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		opts   []zoomtest.Option
		client func(t *testing.T, srv *zoomtest.Server)
		wait   func(ctx context.Context, srv *zoomtest.Server)
		want   string // a regular expression for the whole message
	}{
		{
			name:   "client never started",
			client: func(*testing.T, *zoomtest.Server) {},
			want:   `^zoomtest: no connection within 200ms; the client never requested a token nor opened the WebSocket$`,
		},
		{
			name:   "token but no WebSocket",
			client: func(t *testing.T, srv *zoomtest.Server) { getToken(t, srv.Config()) },
			want:   `^zoomtest: no connection within 200ms; the client got token t1 but never opened the WebSocket$`,
		},
		{
			name: "wrong client secret",
			client: func(t *testing.T, srv *zoomtest.Server) {
				cfg := srv.Config()
				cfg.ClientSecret = "wrong"
				req, _ := http.NewRequest(http.MethodPost, cfg.TokenURL+"?grant_type=client_credentials", nil)
				req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
				doRequest(t, req)
			},
			want: `^zoomtest: no connection within 200ms; the client's last token request failed: invalid_client \(wrong client_secret for client_id "zoommock-dev-client-id"\)$`,
		},
		{
			name:   "no access_token",
			client: func(t *testing.T, srv *zoomtest.Server) { readFrame(t, dial(t, srv.WebSocketURL(), nil)) },
			want:   `^zoomtest: no connection within 200ms; the client's last attempt \(c1\) failed: token is empty \(no access_token in the query string\)$`,
		},
		{
			name: "token in an Authorization header",
			client: func(t *testing.T, srv *zoomtest.Server) {
				h := http.Header{"Authorization": {"Bearer " + getToken(t, srv.Config())}}
				readFrame(t, dial(t, srv.WebSocketURL(), h))
			},
			want: `^zoomtest: no connection within 200ms; the client's last attempt \(c1\) failed: token is empty \(the client sent an Authorization header, which Zoom ignores: the token belongs in \?access_token=; no access_token in the query string\)$`,
		},
		{
			name: "no heartbeats",
			opts: []zoomtest.Option{zoomtest.WithHeartbeatTimeout(30 * time.Millisecond)},
			client: func(t *testing.T, srv *zoomtest.Server) {
				readClose(t, connect(t, srv))
			},
			want: `^zoomtest: no connection within 200ms; connection c1 was closed by the server \(1000 heartbeat timeout\): no heartbeat for [\d.]+m?s: connection closed, and the client did not reconnect$`,
		},
		{
			name: "heartbeat as plain text",
			client: func(t *testing.T, srv *zoomtest.Server) {
				ws := connect(t, srv)
				send(t, ws, "heartbeat")
				srv.WaitFor(ctxFor(t), "the frame", func(e mockserver.Entry) bool { return e.Note != "" })
			},
			wait: func(ctx context.Context, srv *zoomtest.Server) { srv.WaitForHeartbeats(ctx, 2) },
			want: `^zoomtest: 0 of 2 heartbeats within 200ms; connection c1 is open, but the client sent no heartbeat on it; ` +
				`the server ignored its frame "heartbeat": not a heartbeat: the frame is not a JSON object \(send \{"module":"heartbeat"\}\)$`,
		},
		{
			name: "heartbeats that stop",
			client: func(t *testing.T, srv *zoomtest.Server) {
				send(t, connect(t, srv), heartbeat)
			},
			wait: func(ctx context.Context, srv *zoomtest.Server) { srv.WaitForHeartbeats(ctx, 3) },
			want: `^zoomtest: 1 of 3 heartbeats within 200ms; connection c1 is open; the client sent 1 heartbeat\(s\) on it, the last [\d.]+m?s ago$`,
		},
		{
			name:   "waiting for an entry",
			client: func(*testing.T, *zoomtest.Server) {},
			wait: func(ctx context.Context, srv *zoomtest.Server) {
				srv.WaitFor(ctx, "second token", func(e mockserver.Entry) bool { return e.Token != nil && e.Token.TokenRef == "t2" })
			},
			want: `^zoomtest: no second token within 200ms; the client never requested`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeTB(t)
			srv := zoomtest.NewServer(fake, append(tt.opts, zoomtest.WithWaitTimeout(200*time.Millisecond))...)
			tt.client(t, srv)
			wait := tt.wait
			if wait == nil {
				wait = func(ctx context.Context, srv *zoomtest.Server) { srv.WaitForConnection(ctx) }
			}
			got := fake.run(func() { wait(context.Background(), srv) })
			if !regexp.MustCompile(tt.want).MatchString(got) {
				t.Errorf("the waiter failed with\n\t%s\nwant it to match\n\t%s", got, tt.want)
			}
		})
	}
}

func TestWaiterWithCanceledContext(t *testing.T) {
	t.Parallel()
	fake := newFakeTB(t)
	srv := zoomtest.NewServer(fake)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := fake.run(func() { srv.WaitForConnection(ctx) })
	if !strings.HasPrefix(got, "zoomtest: no connection before the context ended (context canceled, after ") {
		t.Errorf("failure = %q", got)
	}
}

// TestCheckClientListsMistakes runs a client that gets everything wrong that Zoom would notice, and
// checks the failure a user reads.
func TestCheckClientListsMistakes(t *testing.T) {
	t.Parallel()
	fake := newFakeTB(t)
	srv := zoomtest.NewServer(fake, zoomtest.WithHeartbeatTimeout(50*time.Millisecond))
	ctx := ctxFor(t)

	// c1: token in the query and in a header; a heartbeat as plain text; stays silent until closed.
	tok := getToken(t, srv.Config())
	ws := dial(t, srv.WebSocketURL()+"&access_token="+tok, http.Header{"Authorization": {"Bearer " + tok}})
	readFrame(t, ws)
	send(t, ws, "heartbeat")
	readClose(t, ws)
	srv.WaitForClose(ctx, "c1")
	// c2, c3: a token Zoom refused is used again.
	srv.InvalidateTokens()
	readFrame(t, dial(t, srv.WebSocketURL()+"&access_token="+tok, nil))
	readFrame(t, dial(t, srv.WebSocketURL()+"&access_token="+tok, nil))
	// c4: ends its TCP connection without a close frame.
	ws = connect(t, srv)
	_ = ws.NetConn().Close()
	srv.WaitForClose(ctx, "c4")

	fake.run(srv.CheckClient)
	want := `^zoomtest: the client did 5 thing\(s\) Zoom would not accept:
	connection c1: the client sent an Authorization header, which Zoom ignores: the token belongs in \?access_token=
	connection c1 sent "heartbeat": not a heartbeat: the frame is not a JSON object \(send \{"module":"heartbeat"\}\)
	connection c1 was closed by the server \(1000 heartbeat timeout\): no heartbeat for [\d.]+m?s: connection closed
	connection c3 used token t1 again after Zoom refused it on c2: after a build_connection failure, fetch a new token
	connection c4 ended without a close frame from the client: the client's TCP connection ended without a close frame$`
	if len(fake.errors) != 1 || !regexp.MustCompile(want).MatchString(fake.errors[0]) {
		t.Errorf("CheckClient reported\n%q\nwant one error matching\n%s", fake.errors, want)
	}

	// The test has failed, so the cleanup logs the journal.
	fake.finish()
	logs := strings.Join(fake.logs, "\n")
	if !strings.Contains(logs, "zoomtest: what the mock saw (oldest first):") || !strings.Contains(logs, `c3  connection_open  success=false "Token is invalid" token=t1 -- token t1 was invalidated`) {
		t.Errorf("cleanup of a failed test logged:\n%s", logs)
	}
}

func TestCheckClientPassesAGoodClient(t *testing.T) {
	t.Parallel()
	fake := newFakeTB(t)
	srv := zoomtest.NewServer(fake)
	tok := getToken(t, srv.Config())
	ws := dial(t, srv.WebSocketURL()+"&access_token="+tok, nil)
	readFrame(t, ws)
	send(t, ws, heartbeat)
	readFrame(t, ws)
	srv.CloseConnections(websocket.CloseServiceRestart, "restart") // the server's doing, not a mistake
	readClose(t, ws)
	// A client cannot know its token expired early: one refusal is not a mistake.
	srv.ExpireTokens()
	readFrame(t, dial(t, srv.WebSocketURL()+"&access_token="+tok, nil))
	closeClean(t, connect(t, srv))
	srv.WaitForClose(ctxFor(t), "c3")
	fake.run(srv.CheckClient)
	if fake.Failed() {
		t.Errorf("CheckClient failed a good client: %q", fake.errors)
	}
}
