package replayer_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/internal/wire"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// The client receives the recorded events in order, with their content and tracking ids kept
// verbatim, re-signed with the mock's secret token at a fresh timestamp and with the mock's
// verification token and client id; and a client that does what the recording's did is faithful.
func TestReplayKeepsContentAndResigns(t *testing.T) {
	t.Parallel()
	var tp tape
	tok := tp.token(0)
	tp.open(10*time.Millisecond, "c1", tok)
	var contents []string
	for i, name := range []string{"meeting.started", "meeting.participant_joined", "meeting.ended"} {
		contents = append(contents, tp.event(time.Duration(20+i)*time.Millisecond, "c1", name))
	}
	tp.heartbeat(30*time.Millisecond, "c1")
	tp.close(40*time.Millisecond, "c1", cassettes.Client, 1000, "bye")
	p := tp.playback(t, replayer.WithSpeed(0))
	_, base := startMock(t, p)

	ws := connect(t, base)
	for i, want := range contents {
		f := readFrame(t, ws)
		h := f.Header
		if f.Module != "message" || f.Content != want || h["x-zm-trackingid"] != "EventService_"+strings.Repeat("0", 31)+strconv.Itoa(i+1) {
			t.Fatalf("event %d = %+v, want content %s and the recorded tracking id", i, f, want)
		}
		if !wire.VerifySignature(mockserver.DevSecretToken, h["x-zm-request-timestamp"], f.Content, h["x-zm-signature"]) {
			t.Errorf("event %d is not signed with the mock's secret token: %v", i, h)
		}
		if ts, _ := strconv.ParseInt(h["x-zm-request-timestamp"], 10, 64); time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("event %d kept the recorded timestamp %s", i, h["x-zm-request-timestamp"])
		}
		if h["Authorization"] != mockserver.DevVerificationToken || h["clientId"] != mockserver.DevClientID {
			t.Errorf("event %d header = %v, want the mock's verification token and client id", i, h)
		}
	}
	send(t, ws, heartbeat)
	if f := readFrame(t, ws); f.Module != "heartbeat" || f.Content != "live" {
		t.Fatalf("heartbeat answer = %+v", f)
	}
	closeWith(t, ws, 1000)
	waitFor(t, "played replay", func() bool { return p.Status().State == "played" })
	p.Finish()
	if st := p.Status(); !st.Faithful || st.State != "finished" {
		t.Errorf("status = %+v\n%s", st, p.Diff())
	}
}

// A recorded close and a recorded drop happen at their time, as the client sees them.
func TestReplayRecordedEnds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		code       int
		wantCode   int
		wantReason string
	}{
		{"close", 1008, 1008, "invalid_token"},
		{"drop", 0, websocket.CloseAbnormalClosure, "unexpected EOF"}, // gorilla's words for no close frame
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tp tape
			tp.open(0, "c1", tp.token(0))
			tp.close(100*time.Millisecond, "c1", cassettes.Server, tt.code, "invalid_token")
			_, base := startMock(t, tp.playback(t, replayer.WithSpeed(2)))
			ws := connect(t, base)
			start := time.Now()
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := ws.ReadMessage()
			code, reason := websocket.CloseAbnormalClosure, ""
			if ce, ok := err.(*websocket.CloseError); ok {
				code, reason = ce.Code, ce.Text
			}
			if code != tt.wantCode || reason != tt.wantReason {
				t.Errorf("the connection ended with %v, want %d %q", err, tt.wantCode, tt.wantReason)
			}
			if took := time.Since(start); took < 30*time.Millisecond || took > 2*time.Second {
				t.Errorf("the end came after %v, want about 50ms (100ms at speed 2)", took)
			}
		})
	}
}

// A refusal the recording's server decided (the client sent a token) is replayed as recorded; a
// refusal of a connection without a token was the client's doing, and is answered live.
func TestReplayRefusals(t *testing.T) {
	t.Parallel()
	t.Run("server's refusal replayed", func(t *testing.T) {
		t.Parallel()
		var tp tape
		tp.refused(0, "c1", tp.token(0), "Token is invalid", 1008, "invalid_token")
		tp.open(10*time.Millisecond, "c2", tp.token(5*time.Millisecond))
		p := tp.playback(t, replayer.WithSpeed(0))
		_, base := startMock(t, p, func(c *mockserver.Config) { c.InvalidTokenText = "Invalid Token" })
		ws, f := dial(t, base, getToken(t, base))
		if f.Success || f.Content != "Token is invalid" {
			t.Errorf("build_connection = %+v, want the recorded refusal", f)
		}
		if code, reason := readEnd(t, ws); code != 1008 || reason != "invalid_token" {
			t.Errorf("close = %d %q, want the recorded 1008 invalid_token", code, reason)
		}
		connect(t, base) // with a fresh token, as the recording's client did
		waitFor(t, "played replay", func() bool { return p.Status().State == "played" })
		if d := p.Diff(); d != "" {
			t.Errorf("diff:\n%s", d)
		}
	})
	t.Run("client's refusal live", func(t *testing.T) {
		t.Parallel()
		var tp tape
		tp.refused(0, "c1", "", "token is empty", 1008, "invalid_token")
		p := tp.playback(t, replayer.WithSpeed(0), replayer.WithStrictness(replayer.StrictFrames))
		_, base := startMock(t, p)
		connect(t, base) // this client sends a token: the mock lets it in
		waitFor(t, "an answered connection", func() bool { return p.Status().Connections[0].State != "waiting" })
		want := `connection c1: build_connection differ (-recorded +live):
  replayer.buildConnection{
- 	Success: false,
+ 	Success: true,
- 	Failure: "token is empty",
+ 	Failure: "",
  }`
		if d := p.Diff(); d != want {
			t.Errorf("diff:\n%s\nwant:\n%s", d, want)
		}
	})
}

// Each way a client can differ from the recording is reported with an exact diff.
func TestReplayDifferences(t *testing.T) {
	t.Parallel()
	// session: token, c1 with a heartbeat, closed by the client with 1000.
	session := func() *tape {
		var tp tape
		tp.open(10*time.Millisecond, "c1", tp.token(0))
		tp.heartbeat(20*time.Millisecond, "c1")
		tp.close(30*time.Millisecond, "c1", cassettes.Client, 1000, "bye")
		return &tp
	}
	tests := []struct {
		name   string
		tape   func() *tape
		client func(t *testing.T, base string)
		want   string
	}{
		{
			name: "extra frame",
			tape: session,
			client: func(t *testing.T, base string) {
				ws := connect(t, base)
				send(t, ws, heartbeat)
				send(t, ws, `{"module":"subscribe","events":["meeting.started"]}`)
				closeWith(t, ws, 1000)
			},
			want: `connection c1: client frames differ (-recorded +live):
  []string(
- 	nil,
+ 	{` + "`" + `{"module":"subscribe","events":["meeting.started"]}` + "`" + `},
  )`,
		},
		{
			name: "another close",
			tape: session,
			client: func(t *testing.T, base string) {
				ws := connect(t, base)
				send(t, ws, heartbeat)
				readFrame(t, ws)
				closeWith(t, ws, 1001)
			},
			want: `connection c1: close differ (-recorded +live):
  replayer.end{
  	By:     "client",
- 	Code:   1000,
+ 	Code:   1001,
  	Reason: "",
  	Abrupt: false,
  }`,
		},
		{
			name: "more connections",
			tape: session,
			client: func(t *testing.T, base string) {
				tok := getToken(t, base)
				ws, _ := dial(t, base, tok)
				send(t, ws, heartbeat)
				readFrame(t, ws)
				closeWith(t, ws, 1000)
				ws2, _ := dial(t, base, tok)
				closeWith(t, ws2, 1000)
			},
			want: `the session: connections differ (-recorded +live):
  replayer.connections{
- 	Count: 1,
+ 	Count: 2,
  }`,
		},
		{
			name: "token reused",
			tape: func() *tape {
				var tp tape
				tp.open(10*time.Millisecond, "c1", tp.token(0))
				tp.close(20*time.Millisecond, "c1", cassettes.Server, 1008, "invalid_token")
				tp.open(40*time.Millisecond, "c2", tp.token(30*time.Millisecond))
				return &tp
			},
			client: func(t *testing.T, base string) {
				tok := getToken(t, base)
				ws, _ := dial(t, base, tok)
				readEnd(t, ws)
				dial(t, base, tok) // the old token again, where the recording's client fetched a new one
			},
			want: `connection c2: token differ (-recorded +live):
  replayer.token{
- 	Token: "REDACTED-TOKEN-2",
+ 	Token: "REDACTED-TOKEN-1",
  }`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.tape().playback(t, replayer.WithSpeed(0))
			_, base := startMock(t, p)
			tt.client(t, base)
			waitFor(t, "played replay", func() bool { return p.Status().State == "played" })
			p.Finish()
			if d := p.Diff(); d != tt.want {
				t.Errorf("diff:\n%s\nwant:\n%s\n%s", d, tt.want, cmp.Diff(tt.want, d))
			}
			if st := p.Status(); st.Faithful || len(st.Differences) != 1 {
				t.Errorf("status = %+v, want one difference", st)
			}
		})
	}
}

// A client that skips heartbeats is reported with its longest gap and, at speed 1, its count;
// one within the tolerance is not. The clock is fake so the gaps are exact.
func TestReplayHeartbeatCadence(t *testing.T) {
	t.Parallel()
	var tp tape
	tp.open(0, "c1", tp.token(0))
	tp.heartbeats("c1", 100*time.Millisecond, 5)
	tp.close(550*time.Millisecond, "c1", cassettes.Client, 1000, "")
	for _, tt := range []struct {
		name  string
		beats []time.Duration
		want  string
	}{
		{"within tolerance", []time.Duration{90, 230, 290, 420, 510}, ""},
		{"skipped", []time.Duration{100}, `connection c1: heartbeats differ (-recorded +live):
  replayer.heartbeats{
- 	Count:      5,
+ 	Count:      1,
- 	LongestGap: s"100ms",
+ 	LongestGap: s"450ms",
  }`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tp.playback(t)
			t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
			now := t0
			replayer.SetClock(p, func() time.Time { return now })
			s := p.Connect(replayer.ConnInfo{ID: "c1", Opened: t0, Token: "t1"})
			s.Answered(true, "connected")
			for _, b := range tt.beats {
				now = t0.Add(b * time.Millisecond)
				s.ClientFrame(false, []byte(heartbeat))
			}
			now = t0.Add(550 * time.Millisecond)
			s.Closed(cassettes.WSClose{By: cassettes.Client, Code: 1000})
			if d := p.Diff(); d != tt.want {
				t.Errorf("diff:\n%s\nwant:\n%s", d, tt.want)
			}
		})
	}
}

// The same through the mock, with a real client that sends one heartbeat and stops: the gap is
// reported while the connection is still open (the exact value depends on the clock).
func TestReplayReportsStalledClientWhileOpen(t *testing.T) {
	t.Parallel()
	var tp tape
	tp.open(0, "c1", tp.token(0))
	tp.heartbeats("c1", 40*time.Millisecond, 10)
	p := tp.playback(t, replayer.WithSpeed(0))
	_, base := startMock(t, p)
	ws := connect(t, base)
	send(t, ws, heartbeat)
	readFrame(t, ws)
	waitFor(t, "a heartbeat difference", func() bool { return strings.Contains(p.Diff(), "LongestGap") })
	d := p.Diff()
	if !strings.HasPrefix(d, "connection c1: heartbeats differ (-recorded +live):\n  replayer.heartbeats{\n  \tCount:      10,\n- \tLongestGap: s\"40ms\",\n+ \tLongestGap: s\"") {
		t.Errorf("diff:\n%s", d)
	}
}

// Step releases one recorded frame at a time, and says what it released.
func TestReplayStep(t *testing.T) {
	t.Parallel()
	var tp tape
	tp.open(0, "c1", tp.token(0))
	tp.event(time.Hour, "c1", "meeting.started")
	tp.close(2*time.Hour, "c1", cassettes.Server, 1001, "going away")
	p := tp.playback(t, replayer.WithStep())
	_, base := startMock(t, p)

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if _, err := p.Step(short()); !errorsIs(err, replayer.ErrNothingToStep) {
		t.Fatalf("Step before any connection = %v, want ErrNothingToStep", err)
	}
	ws := connect(t, base)
	res, err := p.Step(context.Background())
	want := replayer.StepResult{Connection: "c1", Recorded: "c1", Action: "event meeting.started (EventService_00000000000000000000000000000001)",
		At: "1h0m0s", Remaining: 1, Sent: true}
	if err != nil || res != want {
		t.Fatalf("Step = %+v, %v; want %+v", res, err, want)
	}
	if f := readFrame(t, ws); f.Module != "message" {
		t.Fatalf("frame = %+v, want the event", f)
	}
	code, body := call(t, "POST", base+"/_mock/replay/step", "")
	if code != 200 || !strings.Contains(body, `"action":"close 1001 going away"`) {
		t.Fatalf("POST /_mock/replay/step = %d %s", code, body)
	}
	if code, reason := readEnd(t, ws); code != 1001 || reason != "going away" {
		t.Errorf("close = %d %q", code, reason)
	}
	if code, body := call(t, "POST", base+"/_mock/replay/step?timeout=20ms", ""); code != 409 || !strings.Contains(body, "no replayed connection is waiting for a step") {
		t.Errorf("step with nothing left = %d %s", code, body)
	}
	if _, err := tp.playback(t).Step(context.Background()); !errorsIs(err, replayer.ErrNotStepping) {
		t.Errorf("Step without step mode = %v", err)
	}
}
