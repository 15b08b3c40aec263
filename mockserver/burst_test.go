package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBurstDeliversEachEventSigned(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	res, err := ts.Burst(t.Context(), DevSubscriptionID, []byte(meetingStarted), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Event != "meeting.started" || res.Requested != 5 || res.Emitted != 5 || res.Delivered != 5 || res.Dropped != 0 {
		t.Errorf("result %+v; want 5 meeting.started emitted and delivered", res)
	}
	seen := map[string]bool{}
	for range 5 {
		content, tid := decodeMessage(t, readText(t, ws))
		if content != meetingStarted {
			t.Errorf("content = %s", content)
		}
		seen[tid] = true
	}
	if len(seen) != 5 {
		t.Errorf("%d distinct tracking ids, want one per event", len(seen))
	}
	if st := ts.Stats(); st.EventsEmitted != 5 || st.EventsDelivered != 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestBurstAsFastAsPossibleKeepsAReader(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{SendQueue: 16})
	ws := ts.connect(t)
	done := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 500; n++ {
			if _, _, err := ws.ReadMessage(); err != nil {
				break
			}
		}
		done <- n
	}()
	// Without waiting for room, 500 events outrun a queue of 16 and the reader is dropped.
	res, err := ts.Burst(t.Context(), DevSubscriptionID, []byte(meetingStarted), 500, 0)
	if err != nil || res.Delivered != 500 {
		t.Fatalf("burst = %+v, %v; want 500 delivered", res, err)
	}
	if got := <-done; got != 500 {
		t.Errorf("the client read %d of 500 events before it was dropped", got)
	}
}

func TestBurstPacedWithoutConnectionDrops(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	res, err := ts.Burst(t.Context(), "", []byte(meetingStarted), 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Event 2 is due 2 ms after the start, so the schedule alone bounds Elapsed from below.
	if res.Emitted != 3 || res.Dropped != 3 || res.Delivered != 0 || time.Duration(res.Elapsed) < 2*time.Millisecond {
		t.Errorf("result %+v; want 3 events dropped over at least 2ms", res)
	}
}

func TestBurstRefusals(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	for _, tc := range []struct {
		sub, event string
		count      int
		rate       float64
		is         error
		mention    string
	}{
		{"", meetingStarted, 0, 0, ErrBadBurst, "count 0: want 1 to 1000000"},
		{"", meetingStarted, MaxBurstCount + 1, 0, ErrBadBurst, "count 1000001"},
		{"", meetingStarted, 10, -1, ErrBadBurst, "rate -1"},
		{"", meetingStarted, 10, math.NaN(), ErrBadBurst, "rate NaN"},
		{"", meetingStarted, 100000, 10, ErrBadBurst, "would take 2h46m40s, more than the limit of 10m0s"},
		{"", `{"payload":{}}`, 10, 0, ErrBadEvent, `missing "event"`},
		{"nosuch", meetingStarted, 10, 0, ErrUnknownSubscription, `"nosuch"`},
	} {
		res, err := ts.Burst(t.Context(), tc.sub, []byte(tc.event), tc.count, tc.rate)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.mention) || res.Emitted != 0 {
			t.Errorf("Burst(%q, %d, %v) = %+v, %v; want %v mentioning %q", tc.sub, tc.count, tc.rate, res, err, tc.is, tc.mention)
		}
	}
	if st := ts.Stats(); st.EventsEmitted != 0 {
		t.Errorf("refused bursts emitted %d events", st.EventsEmitted)
	}
}

// burstInBackground runs a slow burst and returns its outcome once it has emitted one event.
func burstInBackground(t *testing.T, ts *testServer, ctx context.Context) <-chan error {
	t.Helper()
	out := make(chan error, 1)
	go func() {
		res, err := ts.Burst(ctx, "", []byte(meetingStarted), 1000, 10)
		if err == nil || res.Emitted == 0 || res.Emitted == 1000 {
			t.Errorf("burst = %+v, %v; want it stopped part way", res, err)
		}
		out <- err
	}()
	waitFor(t, ts.Server, "the first burst event", func() bool { return ts.Stats().EventsEmitted > 0 })
	return out
}

func TestBurstStopsWithContext(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	done := burstInBackground(t, ts, ctx)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "burst stopped after") {
		t.Errorf("err = %v, want context.Canceled saying how far it got", err)
	}
}

func TestBurstStopsAtShutdown(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s}
	done := burstInBackground(t, ts, t.Context())
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}

func TestAdminBurst(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	ws := ts.connect(t)
	body := `{"event":` + meetingStarted + `,"count":3,"rate":0}`
	w := adminCall(t, ts.Server, http.MethodPost, "/_mock/burst?subscriptionId="+DevSubscriptionID, "127.0.0.1:1", "", body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var res BurstResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Emitted != 3 || res.Delivered != 3 || !strings.Contains(w.Body.String(), `"elapsed":"`) {
		t.Errorf("answer %s; want 3 emitted and delivered, elapsed as a duration", w.Body)
	}
	for range 3 {
		decodeMessage(t, readText(t, ws))
	}
	for _, tc := range []struct {
		body    string
		status  int
		mention string
	}{
		{`{"count":3}`, http.StatusBadRequest, `the body needs "event"`},
		{`{"event":{"event":"x"},"count":3,"rate":1,"extra":1}`, http.StatusBadRequest, `unknown field "extra"`},
		{`{"event":{"event":"x"},"count":2000000}`, http.StatusBadRequest, "count 2000000: want 1 to 1000000"},
		{`{"event":{"event":"x"},"count":1,"subscriptionId":"nosuch"}`, http.StatusNotFound, "unknown subscription"},
	} {
		wantJSONError(t, adminCall(t, ts.Server, http.MethodPost, "/_mock/burst", "127.0.0.1:1", "", tc.body), tc.status, tc.mention)
	}
}
