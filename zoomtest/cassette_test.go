package zoomtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/examples/consumer"
	"github.com/zoommock/zoommock/zoomtest"
)

// writeCassette writes a cassette whose client gets a token, opens c1 at 10ms, receives an event
// at each of eventsAt (offsets from the open), and closes with 1000 at closeAt from the open. It
// returns the file and the recorded event contents.
func writeCassette(t *testing.T, eventsAt []time.Duration, closeAt time.Duration) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "session.cassette")
	w, err := cassettes.Create(path, cassettes.Header{Recorder: "zoomtest test"})
	if err != nil {
		t.Fatal(err)
	}
	const open = 10 * time.Millisecond
	recs := []cassettes.Record{
		{HTTP: &cassettes.HTTPExchange{Method: "POST", Path: "/oauth/token", Status: 200,
			ResponseBody: `{"access_token":"REDACTED-TOKEN-1","token_type":"bearer","expires_in":3599,"scope":"s","api_url":"https://api.zoom.us"}`}},
		{Offset: open, Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=s&access_token=REDACTED-TOKEN-1", Status: 101}},
		{Offset: open + time.Millisecond, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text,
			Payload: `{"module":"build_connection","success":true,"content":"connected","header":{}}`}},
	}
	var contents []string
	for i, at := range eventsAt {
		content := fmt.Sprintf(`{"event":"meeting.participant_joined","event_ts":1796306400000,"payload":{"object":{"seq":%d}}}`, i)
		payload, _ := json.Marshal(map[string]any{"module": "message", "content": content,
			"header": map[string]string{"x-zm-trackingid": fmt.Sprintf("EventService_%032x", i)}})
		recs = append(recs, cassettes.Record{Offset: open + at, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text, Payload: string(payload)}})
		contents = append(contents, content)
	}
	recs = append(recs, cassettes.Record{Offset: open + closeAt, Close: &cassettes.WSClose{Conn: "c1", By: cassettes.Client, Code: 1000}})
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, contents
}

// receive reads n event frames and returns their contents and arrival times.
func receive(t *testing.T, ws *websocket.Conn, n int) ([]string, []time.Time) {
	t.Helper()
	var contents []string
	var at []time.Time
	for range n {
		f := readFrame(t, ws)
		if f.Module != "message" {
			t.Fatalf("frame %+v, want an event", f)
		}
		contents, at = append(contents, f.Content), append(at, time.Now())
	}
	return contents, at
}

// At speed 1 the client receives the recorded events in order, with the recorded gaps between
// them. The gap errors are logged, and only their median is checked, against a generous bound: a
// loaded CI machine stalls now and then for hundreds of milliseconds, which shifts a gap or two.
func TestCassetteTimelineAtSpeed1(t *testing.T) {
	t.Parallel()
	eventsAt := []time.Duration{50, 100, 120, 200, 290, 310, 350, 420, 440}
	for i := range eventsAt {
		eventsAt[i] *= time.Millisecond
	}
	path, want := writeCassette(t, eventsAt, 460*time.Millisecond)
	srv := zoomtest.Cassette(t, path, zoomtest.WithSpeed(1))
	ws := connect(t, srv)
	got, at := receive(t, ws, len(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-recorded +received):\n%s", diff)
	}
	var gapErrs []time.Duration
	for i := 1; i < len(at); i++ {
		gapErrs = append(gapErrs, time.Duration(math.Abs(float64(at[i].Sub(at[i-1])-(eventsAt[i]-eventsAt[i-1])))))
	}
	slices.Sort(gapErrs)
	median, worst := gapErrs[len(gapErrs)/2], gapErrs[len(gapErrs)-1]
	t.Logf("gap errors: median %v, largest %v", median, worst)
	if median > 50*time.Millisecond {
		t.Errorf("the gaps between events were off by %v (median), want within 50ms: %v", median, gapErrs)
	}
	srv.WaitForReplay(ctxFor(t))
	closeClean(t, ws) // with 1000, as the recording's client
}

// At speed 0 a long recording plays as fast as the client reads.
func TestCassetteAsFastAsPossible(t *testing.T) {
	t.Parallel()
	eventsAt := make([]time.Duration, 500)
	for i := range eventsAt {
		eventsAt[i] = time.Duration(i+1) * time.Second // eight minutes of events
	}
	path, want := writeCassette(t, eventsAt, 600*time.Second)
	srv := zoomtest.Cassette(t, path)
	ws := connect(t, srv)
	start := time.Now()
	got, _ := receive(t, ws, len(want))
	took := time.Since(start)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-recorded +received):\n%s", diff)
	}
	if took > 3*time.Second {
		t.Errorf("500 events took %v at speed 0", took)
	}
	closeClean(t, ws)
}

// What the client does differently from the recording's client fails the test at its end, with
// a diff.
func TestCassetteReportsDifferences(t *testing.T) {
	t.Parallel()
	path, _ := writeCassette(t, nil, 20*time.Millisecond)
	ft := newFakeTB(t)
	srv := zoomtest.Cassette(ft, path, zoomtest.WithLogger(nil))
	ws := connect(t, srv)
	send(t, ws, "heartbeat") // not JSON: a frame the recording's client never sent
	closeClean(t, ws)
	ft.finish()
	want := "zoomtest: the client did not do what the recording's client did (cassette " + path + "):\n" +
		"connection c1: client frames differ (-recorded +live):\n" +
		"  []string(\n- \tnil,\n+ \t{\"heartbeat\"},\n  )"
	if len(ft.errors) != 1 || ft.errors[0] != want {
		t.Errorf("errors = %q\nwant %q", ft.errors, want)
	}
}

// A missing cassette fails the test with the command that records it.
func TestCassetteMissing(t *testing.T) {
	t.Parallel()
	ft := newFakeTB(t)
	msg := ft.run(func() { zoomtest.Cassette(ft, "testdata/nope.cassette") })
	want := "zoomtest: cassette testdata/nope.cassette does not exist. Record it once against Zoom with\n" +
		"\tZOOMTEST_RECORD=1 ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... ZOOM_ACCOUNT_ID=... ZOOM_SUBSCRIPTION_ID=... go test -run '^TestCassetteMissing$' .\n" +
		"then commit it: later runs replay it, offline and without credentials"
	if msg != want {
		t.Errorf("message:\n%s\nwant:\n%s", msg, want)
	}
}

// Record mode names the credentials it lacks. (Not parallel: Setenv.)
func TestCassetteRecordMode(t *testing.T) {
	t.Setenv(zoomtest.RecordEnv, "1")
	for _, k := range []string{"ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_ACCOUNT_ID", "ZOOM_SUBSCRIPTION_ID"} {
		t.Setenv(k, "")
	}
	t.Setenv("ZOOM_CLIENT_ID", "someone")
	ft := newFakeTB(t)
	msg := ft.run(func() { zoomtest.Cassette(ft, "testdata/new.cassette") })
	if !strings.Contains(msg, "recording testdata/new.cassette needs the app's credentials: set ZOOM_CLIENT_SECRET, ZOOM_ACCOUNT_ID, ZOOM_SUBSCRIPTION_ID") {
		t.Errorf("message: %s", msg)
	}
	t.Setenv(zoomtest.RecordEnv, "maybe")
	if msg := ft.run(func() { zoomtest.Cassette(ft, "builtin:server-drop") }); !strings.Contains(msg, `ZOOMTEST_RECORD="maybe": set it to 1`) {
		t.Errorf("message: %s", msg)
	}
}

// In step mode each recorded frame waits for Step.
func TestCassetteStep(t *testing.T) {
	t.Parallel()
	path, want := writeCassette(t, []time.Duration{time.Hour, 2 * time.Hour}, 3*time.Hour)
	srv := zoomtest.Cassette(t, path, zoomtest.WithStepping())
	ws := connect(t, srv)
	for i := range want {
		res := srv.Step(ctxFor(t))
		if res.Connection != "c1" || res.Remaining != 1-i {
			t.Errorf("Step %d = %+v", i, res)
		}
		if got, _ := receive(t, ws, 1); got[0] != want[i] {
			t.Errorf("event %d = %s", i, got[0])
		}
	}
	closeClean(t, ws)
}

// A waiter that gives up says how far the replay got.
func TestWaitForReplayFailure(t *testing.T) {
	t.Parallel()
	ft := newFakeTB(t)
	srv := zoomtest.Cassette(ft, "builtin:token-expiry", zoomtest.WithWaitTimeout(100*time.Millisecond), zoomtest.WithLogger(nil))
	msg := ft.run(func() { srv.WaitForReplay(context.Background()) })
	want := "zoomtest: the replay of builtin:token-expiry did not finish within 100ms: the client opened 0 of 2 recorded connections; " +
		"the client never requested a token nor opened the WebSocket"
	if msg != want {
		t.Errorf("message:\n%s\nwant:\n%s", msg, want)
	}
	srv.Playback().Rewind() // the client never came: nothing to report
}

// Each built-in cassette drives the example consumer through its story (a meeting, a token that
// expires, a dropped connection) and the consumer does what the recording's client did.
func TestCassetteBuiltinsWithConsumer(t *testing.T) {
	t.Parallel()
	for _, name := range cassettes.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := zoomtest.Cassette(t, "builtin:"+name)
			events := make(chan string, 20)
			stop := runConsumer(t, srv, func(_ context.Context, ev consumer.Event) { events <- ev.Name })
			srv.WaitForReplay(ctxFor(t))
			stop()
			close(events)
			var got []string
			for ev := range events {
				got = append(got, ev)
			}
			if len(got) == 0 || got[0] != "meeting.started" || got[len(got)-1] != map[string]string{
				"meeting-lifecycle": "recording.completed", "token-expiry": "meeting.ended", "server-drop": "meeting.ended"}[name] {
				t.Errorf("events handled: %v", got)
			}
		})
	}
}

// runConsumer runs the example consumer against srv with fast reconnections, and returns the
// function that stops it (also run at cleanup).
func runConsumer(t *testing.T, srv *zoomtest.Server, h consumer.Handler) func() {
	t.Helper()
	cfg := srv.Config()
	c, err := consumer.New(consumer.Config{TokenURL: cfg.TokenURL, WebSocketURL: cfg.WebSocketURL, ClientID: cfg.ClientID,
		ClientSecret: cfg.ClientSecret, AccountID: cfg.AccountID, SecretToken: cfg.SecretToken}, h,
		consumer.WithBackoff(5*time.Millisecond, 50*time.Millisecond), consumer.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}
