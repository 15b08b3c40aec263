package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/replayer"
)

// eventsCassette is a cassette whose one connection gets n events, the first at first and then
// every gap.
func eventsCassette(t *testing.T, n int, first, gap time.Duration) []cassettes.Record {
	t.Helper()
	recs := []cassettes.Record{{Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=" + DevSubscriptionID, Status: 101}}}
	for i := range n {
		content := fmt.Sprintf(`{"event":"meeting.started","event_ts":1796306400000,"payload":{"object":{"n":%d}}}`, i)
		payload, _ := json.Marshal(map[string]any{"module": "message", "content": content, "header": map[string]string{"x-zm-trackingid": fmt.Sprintf("EventService_%d", i)}})
		recs = append(recs, cassettes.Record{Offset: first + time.Duration(i)*gap, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text, Payload: string(payload)}})
	}
	return recs
}

func newPlayback(t *testing.T, recs []cassettes.Record, opts ...replayer.Option) *replayer.Playback {
	t.Helper()
	p, err := replayer.New(cassettes.Header{}, recs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// adminDo calls the admin API and returns the status and body.
func (ts *testServer) adminDo(t *testing.T, method, path string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func TestReplayAdminAPI(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	if code, body := ts.adminDo(t, "GET", "/_mock/replay", nil); code != 404 || !strings.Contains(body, "no cassette is loaded: POST one to /_mock/replay") {
		t.Errorf("GET with nothing loaded = %d %s", code, body)
	}
	code, body := ts.adminDo(t, "POST", "/_mock/replay?builtin=meeting-lifecycle&speed=0&strict=frames", nil)
	if code != 200 || !strings.Contains(body, `"cassette":"builtin:meeting-lifecycle","state":"waiting","speed":0,"strict":"frames","recordedConnections":1`) {
		t.Fatalf("POST ?builtin = %d %s", code, body)
	}
	ws := ts.connect(t)
	var events []string
	for range 7 {
		var f struct{ Content string }
		_ = json.Unmarshal([]byte(readText(t, ws)), &f)
		var ev struct{ Event string }
		_ = json.Unmarshal([]byte(f.Content), &ev)
		events = append(events, ev.Event)
	}
	want := "meeting.started meeting.participant_joined meeting.participant_joined meeting.participant_left meeting.participant_left meeting.ended recording.completed"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
	waitFor(t, ts.Server, "a played replay", func() bool { return ts.Playback().Status().State == "played" })
	if code, body := ts.adminDo(t, "GET", "/_mock/replay", nil); code != 200 || !strings.Contains(body, `"state":"played"`) || !strings.Contains(body, `"faithful":true`) {
		t.Errorf("GET = %d %s", code, body)
	}
	if st := ts.Stats(); st.EventsReplayed != 7 {
		t.Errorf("stats = %+v, want 7 events replayed", st)
	}
	if code, body := ts.adminDo(t, "DELETE", "/_mock/replay", nil); code != 200 || !strings.Contains(body, `"state":"finished"`) || ts.Playback() != nil {
		t.Errorf("DELETE = %d %s", code, body)
	}
}

func TestReplayAdminBadCassettes(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	var packed bytes.Buffer
	w, err := cassettes.NewWriter(&packed, cassettes.Header{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range eventsCassette(t, 3, 0, time.Millisecond) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	truncated := packed.Bytes()[:packed.Len()-10] // the writer's last block, cut
	tests := []struct {
		name, query string
		body        []byte
		code        int
		want        string
	}{
		{"empty", "", nil, 400, "the body is empty: send a cassette (compressed or JSON lines), or use ?builtin=NAME ([meeting-lifecycle server-drop token-expiry])"},
		{"unknown builtin", "?builtin=nope", nil, 400, `no such built-in cassette \"nope\": the built-in cassettes are meeting-lifecycle, server-drop, token-expiry`},
		{"bad field", "", []byte(`{"format":"zoommock-cassette","version":"1.0"}` + "\n" +
			`{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","status":101}` + "\n" +
			`{"at_us":1,"kind":"frame","conn":"c1","direction":"up","opcode":"text","payload":"x"}` + "\n"), 400,
			`failed to load the posted cassette: record 2 (line 3): field \"direction\"`},
		{"not a cassette", "", []byte(`{"apps":[]}`), 400, "not a zoommock cassette"},
		{"nothing to replay", "", []byte(`{"format":"zoommock-cassette","version":"1.0"}` + "\n"), 400, "nothing to replay: the posted cassette has no WebSocket connection that opened"},
		{"bad speed", "?builtin=server-drop&speed=-1", nil, 400, "speed -1: want 1 (real time)"},
		{"bad strictness", "?builtin=server-drop&strict=some", nil, 400, `unknown strictness \"some\": use off, frames or all`},
		{"truncated plays what it has", "", truncated, 200, `"warnings":["cassette truncated after record`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := ts.adminDo(t, "POST", "/_mock/replay"+tt.query, tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("POST = %d %s\nwant %d with %s", code, body, tt.code, tt.want)
			}
		})
	}
}

// Live events still flow during a replay, through the same queue, and the replay goroutine of a
// connection ends with it (goleak checks it in TestMain).
func TestReplayAlongsideLiveEmit(t *testing.T) {
	t.Parallel()
	p := newPlayback(t, eventsCassette(t, 2, 300*time.Millisecond, time.Hour))
	ts := start(t, Config{Playback: p})
	ws := ts.connect(t)
	if res, err := ts.Emit("", []byte(`{"event":"user.created","payload":{}}`)); err != nil || res.Delivered != 1 {
		t.Fatalf("Emit = %+v, %v", res, err)
	}
	// The live event comes first unless the machine stalls for the 300ms before the replayed one.
	if got := readText(t, ws) + readText(t, ws); !strings.Contains(got, `user.created`) || !strings.Contains(got, `EventService_0`) {
		t.Errorf("frames = %s, want the live event and the replayed one", got)
	}
	// The second replayed event is an hour away: Shutdown must not wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if st := p.Status(); st.State != "finished" {
		t.Errorf("Shutdown did not finish the playback: %+v", st)
	}
}

// At speed 0 a replay goes as fast as the client reads, never faster: a queue far smaller than
// the cassette does not get the client dropped. Not parallel: it keeps a CPU busy, which would
// starve the readers of parallel tests (TestSlowClientDoesNotBlockOthers counts on its reader).
func TestReplayWaitsForRoomInTheQueue(t *testing.T) {
	const n = 1000
	ts := start(t, Config{Playback: newPlayback(t, eventsCassette(t, n, 0, 0), replayer.WithSpeed(0)), SendQueue: 16})
	ws := ts.connect(t)
	for i := range n {
		if got := readText(t, ws); !strings.Contains(got, fmt.Sprintf(`"x-zm-trackingid":"EventService_%d"`, i)) {
			t.Fatalf("frame %d = %s", i, got)
		}
	}
}

// Reset rewinds the configured playback: the next connection plays the first recorded one again.
func TestReplayReset(t *testing.T) {
	t.Parallel()
	p := newPlayback(t, eventsCassette(t, 1, 0, 0), replayer.WithSpeed(0))
	ts := start(t, Config{Playback: p})
	ws := ts.connect(t)
	readText(t, ws)
	ts.Reset()
	ws = ts.connect(t)
	if got := readText(t, ws); !strings.Contains(got, "EventService_0") {
		t.Errorf("after Reset: %s, want the first recorded event again", got)
	}
	if st := p.Status(); len(st.Connections) != 1 || st.Connections[0].Live != "c1" {
		t.Errorf("after Reset: %+v", st.Connections)
	}
}
