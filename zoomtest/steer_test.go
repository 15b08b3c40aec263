package zoomtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

// TestEmitAcceptsEveryForm sends the same event as each form Emit accepts.
func TestEmitAcceptsEveryForm(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	ws := connect(t, srv)
	type object struct {
		ID string `json:"id"`
	}
	type event struct {
		Event   string `json:"event"`
		Payload struct {
			Object object `json:"object"`
		} `json:"payload"`
	}
	var typed event
	typed.Event, typed.Payload.Object.ID = "meeting.ended", "7"
	raw := `{"event":"meeting.ended","payload":{"object":{"id":"7"}}}`
	for name, ev := range map[string]any{
		"Event":           zoomtest.MeetingEnded().With("payload", map[string]any{"object": map[string]any{"id": "7"}}),
		"struct":          typed,
		"map":             map[string]any{"event": "meeting.ended", "payload": map[string]any{"object": object{ID: "7"}}},
		"[]byte":          []byte(raw),
		"string":          raw,
		"json.RawMessage": json.RawMessage(raw),
	} {
		if res := srv.Emit(ev); res.Event != "meeting.ended" || res.Delivered != 1 {
			t.Errorf("%s: Emit = %+v", name, res)
		}
		var got struct {
			Event   string `json:"event"`
			EventTS int64  `json:"event_ts"`
			Payload struct {
				Object object `json:"object"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(readFrame(t, ws).Content), &got); err != nil || got.Payload.Object.ID != "7" || got.EventTS == 0 {
			t.Errorf("%s: delivered %+v (%v)", name, got, err)
		}
	}
}

// TestEmitFailures checks that an event the mock cannot send fails the test, saying why.
func TestEmitFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		emit  func(*zoomtest.Server)
		wantF string
	}{
		{"not an object", func(s *zoomtest.Server) { s.Emit(`["meeting.started"]`) }, "bad event: want a JSON object"},
		{"no event name", func(s *zoomtest.Server) { s.Emit(map[string]any{"payload": map[string]any{}}) }, `bad event: missing "event"`},
		{"payload not an object", func(s *zoomtest.Server) { s.Emit(`{"event":"x","payload":[]}`) }, `"payload" must be an object`},
		{"bad With", func(s *zoomtest.Server) { s.Emit(zoomtest.UserUpdated().With("event.x", 1)) }, `With("event.x")`},
		{"cannot encode", func(s *zoomtest.Server) { s.Emit(map[string]any{"event": make(chan int)}) }, "failed to encode the event"},
		{"unknown subscription", func(s *zoomtest.Server) { s.EmitTo("nope", zoomtest.UserCreated()) }, `unknown subscription "nope": the mock has subscriptions ["zoommockDevSubscript01"]`},
		{"unknown ConfigFor", func(s *zoomtest.Server) { s.ConfigFor("nope") }, `ConfigFor("nope"): no such subscription; the server has ["zoommockDevSubscript01"]`},
		{"close code", func(s *zoomtest.Server) { s.CloseConnections(1006, "") }, "CloseConnections: bad close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeTB(t)
			// The server reports to the TB it was made with.
			s := zoomtest.NewServer(fake)
			if got := fake.run(func() { tt.emit(s) }); !strings.Contains(got, tt.wantF) {
				t.Errorf("failure = %q, want it to contain %q", got, tt.wantF)
			}
		})
	}
	// A dropped event is not a failure, but the log says why it was lost.
	fake := newFakeTB(t)
	s := zoomtest.NewServer(fake)
	if res := s.Emit(zoomtest.MeetingStarted()); !res.Dropped || fake.Failed() {
		t.Errorf("Emit with no connection = %+v, failed %v; want dropped, not failed", res, fake.Failed())
	}
	if !strings.Contains(strings.Join(fake.logs, "\n"), "meeting.started was dropped: no connection was open") {
		t.Errorf("logs = %q, want an explanation of the drop", fake.logs)
	}
}

func TestCloseAndDropConnections(t *testing.T) {
	t.Parallel()
	for _, code := range []int{1001, 1011} {
		srv := zoomtest.NewServer(t)
		ws := connect(t, srv)
		if n := srv.CloseConnections(code, "test"); n != 1 {
			t.Errorf("CloseConnections = %d, want 1", n)
		}
		if got, reason := readClose(t, ws); got != code || reason != "test" {
			t.Errorf("close = %d %q, want %d test", got, reason, code)
		}
	}
	srv := zoomtest.NewServer(t)
	ws := connect(t, srv)
	if n := srv.DropConnections(); n != 1 {
		t.Errorf("DropConnections = %d, want 1", n)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseAbnormalClosure) {
		t.Errorf("read after a drop = %v, want 1006 (no close frame)", err)
	}
	if len(srv.Connections()) != 0 {
		t.Errorf("Connections after the drop = %+v", srv.Connections())
	}
}

func TestExpireAndInvalidateTokens(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(*zoomtest.Server){
		"expire":     (*zoomtest.Server).ExpireTokens,
		"invalidate": (*zoomtest.Server).InvalidateTokens,
	} {
		srv := zoomtest.NewServer(t)
		old := getToken(t, srv.Config())
		open := connect(t, srv)
		spoil(srv)
		ws := dial(t, srv.WebSocketURL()+"&access_token="+old, nil)
		if f := readFrame(t, ws); f.Success || f.Content != "Token is invalid" {
			t.Errorf("%s: old token gives %+v, want Token is invalid", name, f)
		}
		connect(t, srv) // a new token works
		if code, _ := readClose(t, open); code != 1000 {
			t.Errorf("%s: the open connection closed with %d, want 1000 when the newer one kicked it", name, code)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	srv := zoomtest.NewServer(t)
	ws := connect(t, srv)

	srv.SetFaults(mockserver.Faults{StopHeartbeatReplies: true, DuplicateEvents: true})
	send(t, ws, heartbeat)
	srv.WaitForHeartbeats(ctx, 1)
	res := srv.Emit(zoomtest.UserCreated())
	first, second := readFrame(t, ws), readFrame(t, ws) // no heartbeat reply in between
	if first.Module != "message" || first.Header["x-zm-trackingid"] != res.TrackingIDs[0] || second.Header["x-zm-trackingid"] != res.TrackingIDs[0] {
		t.Errorf("with duplicates and no heartbeat replies got %+v then %+v", first, second)
	}

	srv.SetFaults(mockserver.Faults{DelayEvents: mockserver.Duration(30 * time.Millisecond)})
	start := time.Now()
	if res := srv.Emit(zoomtest.UserCreated()); !res.Delayed {
		t.Errorf("Emit under delayEvents = %+v, want delayed", res)
	}
	if f := readFrame(t, ws); f.Module != "message" || time.Since(start) < 30*time.Millisecond {
		t.Errorf("delayed event = %+v after %v", f, time.Since(start))
	}

	srv.SetFaults(mockserver.Faults{})
	send(t, ws, heartbeat)
	if f := readFrame(t, ws); f.Module != "heartbeat" {
		t.Errorf("after clearing faults got %+v, want a heartbeat reply", f)
	}
}
