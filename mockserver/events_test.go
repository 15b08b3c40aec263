package mockserver

import (
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/internal/wire"
)

const meetingStarted = `{"event":"meeting.started","event_ts":1764770400123,"payload":{"account_id":"Q2k9mXr4TzWv8aLpN3bYcA","object":{"id":"84512093377","topic":"Weekly platform sync"}}}`

var messageShape = regexp.MustCompile(`^\{"module":"message","content":"(.*)","header":\{"Authorization":"zoommock-dev-verification-token","clientId":"zoommock-dev-client-id","x-zm-trackingid":"(EventService_[0-9a-f]{32})","x-zm-signature":"(v0=[0-9a-f]{64})","x-zm-request-timestamp":"([0-9]+)"\}\}$`)

// decodeMessage checks a message frame's exact shape and signature and returns content and tracking id.
func decodeMessage(t *testing.T, frame string) (content, trackingID string) {
	t.Helper()
	m := messageShape.FindStringSubmatch(frame)
	if m == nil {
		t.Fatalf("not a message frame of the wire shape: %s", frame)
	}
	var msg wire.Message
	if err := json.Unmarshal([]byte(frame), &msg); err != nil {
		t.Fatal(err)
	}
	if !wire.VerifySignature(DevSecretToken, msg.Header.RequestTimestamp, msg.Content, msg.Header.Signature) {
		t.Errorf("signature %s does not verify", msg.Header.Signature)
	}
	ts, _ := strconv.ParseInt(msg.Header.RequestTimestamp, 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -time.Second || d > time.Minute {
		t.Errorf("x-zm-request-timestamp %d is not now", ts)
	}
	return msg.Content, msg.Header.TrackingID
}

func TestEmitDeliversExactEnvelope(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	res, err := ts.Emit("", []byte(meetingStarted))
	if err != nil {
		t.Fatal(err)
	}
	content, tid := decodeMessage(t, readText(t, ws))
	if content != meetingStarted {
		t.Errorf("content = %s\nwant      %s", content, meetingStarted)
	}
	want := EmitResult{Event: "meeting.started", Delivered: 1, TrackingIDs: []string{tid}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestEmitFillsEventTS(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	before := time.Now().UnixMilli()
	if _, err := ts.Emit(DevSubscriptionID, []byte(`{ "event" : "user.created", "payload" : {"account_id":"a", "object":{"id":"u1"}} }`)); err != nil {
		t.Fatal(err)
	}
	content, _ := decodeMessage(t, readText(t, ws))
	re := regexp.MustCompile(`^\{"event":"user.created","event_ts":([0-9]+),"payload":\{"account_id":"a","object":\{"id":"u1"\}\}\}$`)
	m := re.FindStringSubmatch(content)
	if m == nil {
		t.Fatalf("content = %s", content)
	}
	if ms, _ := strconv.ParseInt(m[1], 10, 64); ms < before || ms > time.Now().UnixMilli() {
		t.Errorf("event_ts %d not the emit time", ms)
	}
}

func TestEmitLargeEvent(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	big := `{"event":"meeting.started","event_ts":1,"payload":{"object":{"topic":"` + strings.Repeat("z", 64<<10) + `"}}}`
	if _, err := ts.Emit("", []byte(big)); err != nil {
		t.Fatal(err)
	}
	if content, _ := decodeMessage(t, readText(t, ws)); content != big {
		t.Errorf("content of %d bytes differs", len(content))
	}
}

func TestEmitWithoutConnectionIsDropped(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	res, err := ts.Emit("", []byte(meetingStarted))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Dropped || res.Delivered != 0 {
		t.Errorf("result = %+v", res)
	}
	if st := ts.Stats(); st.EventsDropped != 1 || st.EventsEmitted != 1 {
		t.Errorf("stats = %+v", st)
	}
	// A later connection does not get it: Zoom never re-fires.
	ws := ts.connect(t)
	heartbeat(t, ws)
	if got := readText(t, ws); got != heartbeatReply {
		t.Errorf("got %s", got)
	}
}

func TestBufferEventsOptIn(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{BufferEvents: true})
	res, _ := ts.Emit("", []byte(meetingStarted))
	if res.Dropped || res.Buffered != 1 {
		t.Errorf("result = %+v", res)
	}
	ws := ts.connect(t)
	if content, _ := decodeMessage(t, readText(t, ws)); content != meetingStarted {
		t.Errorf("content = %s", content)
	}
}

func TestEmitErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	tests := []struct {
		sub, event string
		want       error
		msg        string
	}{
		{"", `not json`, ErrBadEvent, "want a JSON object"},
		{"", `{"payload":{}}`, ErrBadEvent, `missing "event"`},
		{"", `{"event":""}`, ErrBadEvent, "non-empty string"},
		{"", `{"event":5}`, ErrBadEvent, "non-empty string"},
		{"", `{"event":"x","payload":[1]}`, ErrBadEvent, `"payload" must be an object`},
		{"", `{"event":"x","event_ts":"soon"}`, ErrBadEvent, "integer of milliseconds"},
		{"", `{"event":"x","event":"y"}`, ErrBadEvent, "appears twice"},
		{"", `{"event":"x"} {}`, ErrBadEvent, "after the event object"},
		{"", `{"event":"x",`, ErrBadEvent, "invalid JSON"},
		{"nope", meetingStarted, ErrUnknownSubscription, `"zoommockDevSubscript01"`},
	}
	for _, tt := range tests {
		_, err := ts.Emit(tt.sub, []byte(tt.event))
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Emit(%q, %s) = %v, want %v saying %q", tt.sub, tt.event, err, tt.want, tt.msg)
		}
	}
}

func TestConnectionPolicies(t *testing.T) {
	t.Parallel()
	t.Run("kick-old", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		old := ts.connect(t)
		fresh := ts.connect(t)
		if ce := readClose(t, old); ce.Code != 1000 || ce.Text != "replaced by a newer connection" {
			t.Errorf("old close = %v", ce)
		}
		ts.Emit("", []byte(meetingStarted))
		decodeMessage(t, readText(t, fresh))
	})
	t.Run("reject-new", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{ConnectionPolicy: RejectNew})
		first := ts.connect(t)
		second := dial(t, ts.wsURL(DevSubscriptionID, ts.token(t, DevApp())))
		if got := readText(t, second); got != failure("subscription already has an open connection") {
			t.Errorf("second = %s", got)
		}
		if ce := readClose(t, second); ce.Code != 1008 || ce.Text != "connection_limit" {
			t.Errorf("second close = %v", ce)
		}
		heartbeat(t, first)
		if got := readText(t, first); got != heartbeatReply {
			t.Errorf("first = %s", got)
		}
	})
	t.Run("fan-out", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{ConnectionPolicy: FanOut})
		a, b := ts.connect(t), ts.connect(t)
		res, _ := ts.Emit("", []byte(meetingStarted))
		if res.Delivered != 2 {
			t.Errorf("delivered = %d", res.Delivered)
		}
		_, ta := decodeMessage(t, readText(t, a))
		_, tb := decodeMessage(t, readText(t, b))
		if ta != tb {
			t.Errorf("fan-out of one delivery has tracking ids %s and %s", ta, tb)
		}
	})
}

func TestSubscriptionsAreSeparate(t *testing.T) {
	t.Parallel()
	app := DevApp()
	app.Subscriptions = append(app.Subscriptions, Subscription{ID: "second"})
	ts := start(t, Config{Apps: []App{app}})
	tok := ts.token(t, app)
	first := dial(t, ts.wsURL(DevSubscriptionID, tok))
	second := dial(t, ts.wsURL("second", tok))
	readText(t, first)
	readText(t, second)
	if _, err := ts.Emit("second", []byte(meetingStarted)); err != nil {
		t.Fatal(err)
	}
	decodeMessage(t, readText(t, second))
	heartbeat(t, first)
	if got := readText(t, first); got != heartbeatReply {
		t.Errorf("the other subscription got %s", got)
	}
	res, _ := ts.Emit("", []byte(meetingStarted))
	if res.Delivered != 2 || len(res.TrackingIDs) != 2 {
		t.Errorf("emit to all = %+v", res)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("stop heartbeat replies", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		ws := ts.connect(t)
		ts.SetFaults(Faults{StopHeartbeatReplies: true})
		heartbeat(t, ws)
		waitFor(t, ts.Server, "the heartbeat read", func() bool { return ts.Connections()[0].Heartbeats == 1 })
		ts.SetFaults(Faults{})
		heartbeat(t, ws)
		if got := readText(t, ws); got != heartbeatReply {
			t.Fatal(got)
		}
		_ = ws.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, data, err := ws.ReadMessage(); err == nil {
			t.Errorf("two replies for two heartbeats while one was silenced: %s", data)
		}
		if c := ts.Connections(); c[0].Heartbeats != 2 {
			t.Errorf("heartbeats counted = %d", c[0].Heartbeats)
		}
	})
	t.Run("duplicate events", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		ws := ts.connect(t)
		ts.SetFaults(Faults{DuplicateEvents: true})
		ts.Emit("", []byte(meetingStarted))
		c1, t1 := decodeMessage(t, readText(t, ws))
		c2, t2 := decodeMessage(t, readText(t, ws))
		if c1 != c2 || t1 != t2 {
			t.Errorf("duplicate differs: %s %s / %s %s", t1, c1, t2, c2)
		}
	})
	t.Run("delay events", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		ws := ts.connect(t)
		ts.SetFaults(Faults{DelayEvents: Duration(100 * time.Millisecond)})
		emitted := time.Now()
		res, _ := ts.Emit("", []byte(`{"event":"meeting.ended","payload":{}}`))
		if !res.Delayed {
			t.Errorf("result = %+v", res)
		}
		content, _ := decodeMessage(t, readText(t, ws))
		if time.Since(emitted) < 100*time.Millisecond {
			t.Error("delivered before the delay")
		}
		var ev struct {
			EventTS int64 `json:"event_ts"`
		}
		_ = json.Unmarshal([]byte(content), &ev)
		if ev.EventTS > emitted.UnixMilli()+5 {
			t.Errorf("event_ts %d is the delivery time, not the emit time %d", ev.EventTS, emitted.UnixMilli())
		}
	})
	t.Run("backdate events", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		ws := ts.connect(t)
		ts.SetFaults(Faults{BackdateEvents: Duration(3 * time.Hour)})
		ts.Emit("", []byte(`{"event":"meeting.ended","payload":{}}`))
		content, _ := decodeMessage(t, readText(t, ws))
		var ev struct {
			EventTS int64 `json:"event_ts"`
		}
		_ = json.Unmarshal([]byte(content), &ev)
		if late := time.Since(time.UnixMilli(ev.EventTS)); late < 3*time.Hour || late > 3*time.Hour+time.Minute {
			t.Errorf("event is %v late", late)
		}
	})
	t.Run("close on token expiry", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		ws := ts.connect(t)
		ts.ExpireTokens() // the connection lives on by default
		heartbeat(t, ws)
		if got := readText(t, ws); got != heartbeatReply {
			t.Fatal(got)
		}
		ts.SetFaults(Faults{CloseOnTokenExpiry: true})
		if ce := readClose(t, ws); ce.Code != 1008 || ce.Text != "invalid_token" {
			t.Errorf("close = %v", ce)
		}
	})
	t.Run("token ttl with CloseOnTokenExpiry", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{TokenTTL: 200 * time.Millisecond, CloseOnTokenExpiry: true})
		ws := ts.connect(t)
		if ce := readClose(t, ws); ce.Code != 1008 {
			t.Errorf("close = %v", ce)
		}
	})
	t.Run("reject tokens", func(t *testing.T) {
		t.Parallel()
		ts := start(t, Config{})
		tok := ts.token(t, DevApp())
		ts.SetFaults(Faults{RejectTokens: true})
		ws := dial(t, ts.wsURL(DevSubscriptionID, tok))
		if got := readText(t, ws); got != failure("Token is invalid") {
			t.Errorf("got %s", got)
		}
	})
}

func TestCloseAndDrop(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{ConnectionPolicy: FanOut})
	a, b := ts.connect(t), ts.connect(t)
	conns := ts.Connections()
	if len(conns) != 2 || conns[0].ID != "c1" || conns[1].ID != "c2" || conns[0].TokenRef != "t1" {
		t.Fatalf("connections = %+v", conns)
	}
	if err := ts.CloseConnection("c1", 1011, "internal error"); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, a); ce.Code != 1011 || ce.Text != "internal error" {
		t.Errorf("close = %v", ce)
	}
	if err := ts.DropConnection("c2"); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := b.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
		t.Errorf("drop: %v, want 1006", err)
	}
	if err := ts.CloseConnection("c9", 1000, ""); !errors.Is(err, ErrUnknownConnection) {
		t.Errorf("unknown: %v", err)
	}
	// A close completes when the client answers, a drop at once: compare per connection.
	want := map[string]CloseEntry{"c1": {By: "server", Code: 1011, Reason: "internal error"}, "c2": {By: "server", Abrupt: true}}
	got := map[string]CloseEntry{}
	waitFor(t, ts.Server, "two close entries", func() bool {
		for _, e := range ts.Journal() {
			if e.Kind == KindConnectionClose {
				got[e.Connection] = *e.Close
			}
		}
		return len(got) == 2
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("closes (-want +got):\n%s", diff)
	}
}

func TestClientCloseJournaled(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"))
	readClose(t, ws)
	waitFor(t, ts.Server, "client close", func() bool {
		for _, e := range ts.Journal() {
			if e.Kind == KindConnectionClose && cmp.Equal(*e.Close, CloseEntry{By: "client", Code: 4000, Reason: "bye"}) {
				return true
			}
		}
		return false
	})
	waitFor(t, ts.Server, "no connection", func() bool { return len(ts.Connections()) == 0 })
}

// A client that never reads must not delay anyone else, and is dropped once its queue is full.
func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	// The stuck client is dropped when its queue of 16 overflows; the write timeout is long enough
	// that the reading client, on a loaded machine, is never mistaken for a stuck one.
	ts := start(t, Config{ConnectionPolicy: FanOut, SendQueue: 16, WriteTimeout: 5 * time.Second})
	stuck := ts.connect(t) // never reads again
	_ = stuck
	reader := ts.connect(t)
	big := `{"event":"x","event_ts":1,"payload":{"blob":"` + strings.Repeat("b", 32<<10) + `"}}`
	const n = 200
	got := make(chan int)
	go func() {
		count := 0
		_ = reader.SetReadDeadline(time.Now().Add(10 * time.Second))
		for count < n {
			if _, _, err := reader.ReadMessage(); err != nil {
				break
			}
			count++
		}
		got <- count
	}()
	for range n {
		if _, err := ts.Emit("", []byte(big)); err != nil {
			t.Fatal(err)
		}
	}
	if count := <-got; count != n {
		t.Errorf("the reading client got %d of %d events", count, n)
	}
	waitFor(t, ts.Server, "the stuck client dropped", func() bool { return len(ts.Connections()) == 1 })
}

func TestShutdownClosesWith1001(t *testing.T) {
	t.Parallel()
	s, err := New(Config{CloseGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s}
	hs := newHTTPServer(t, s)
	ts.URL = hs.URL
	ws := ts.connect(t)
	done := make(chan error)
	go func() { done <- s.Shutdown(t.Context()) }()
	if ce := readClose(t, ws); ce.Code != 1001 || ce.Text != "server shutting down" {
		t.Errorf("close = %v", ce)
	}
	ws.Close()
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	hs.Close()
	if _, err := s.Emit("", []byte(meetingStarted)); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after shutdown: %v", err)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	ts.SetFaults(Faults{DuplicateEvents: true})
	ts.Reset()
	if ce := readClose(t, ws); ce.Code != 1001 || ce.Text != "mock reset" {
		t.Errorf("close = %v", ce)
	}
	if j := ts.Journal(); len(j) != 0 {
		t.Errorf("journal after reset: %+v", j)
	}
	if f := ts.Faults(); f != (Faults{}) {
		t.Errorf("faults after reset: %+v", f)
	}
	ts.connect(t)
	if c := ts.Connections(); len(c) != 1 || c[0].ID != "c1" || c[0].TokenRef != "t1" {
		t.Errorf("ids do not restart: %+v", c)
	}
}
