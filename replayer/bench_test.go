package replayer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// benchContent is a realistic event of about 400 bytes.
const benchContent = `{"event":"meeting.started","event_ts":1796306403850,"payload":{"account_id":"Q2k9mXr4TzWv8aLpN3bYcA","object":{"id":"84512093377","uuid":"dGhpc2lzYXV1aWQxMjM0NQ==","host_id":"Hk3jP0aWq9xYtZ7uVbN2mR","topic":"Weekly platform sync","type":2,"start_time":"2026-12-03T14:00:00Z","timezone":"Europe/Berlin","duration":45}}}`

// benchCassette is one connection that receives an event at each offset.
func benchCassette(offsets []time.Duration) []cassettes.Record {
	recs := []cassettes.Record{{Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=" + mockserver.DevSubscriptionID, Status: 101}}}
	for i, at := range offsets {
		payload, _ := json.Marshal(map[string]any{"module": "message", "content": benchContent,
			"header": map[string]string{"x-zm-trackingid": fmt.Sprintf("EventService_%032d", i)}})
		recs = append(recs, cassettes.Record{Offset: at, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text, Payload: string(payload)}})
	}
	return recs
}

// benchMock serves a mock with cfg; stop shuts it down.
func benchMock(b *testing.B, cfg mockserver.Config) (*mockserver.Server, string, func()) {
	b.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	return srv, hs.URL, func() {
		_ = srv.Shutdown(context.Background())
		hs.Close()
	}
}

// benchConnect opens the development subscription and reads build_connection.
func benchConnect(b *testing.B, base string) *websocket.Conn {
	b.Helper()
	ws, bc := dial(b, base, getToken(b, base))
	if !bc.Success {
		b.Fatalf("build_connection: %+v", bc)
	}
	return ws
}

// BenchmarkTimelineSpeed1 replays 20 events 5 to 15 ms apart in real time and measures how far
// each gap between two arrivals is from the recorded gap.
func BenchmarkTimelineSpeed1(b *testing.B) {
	var offsets []time.Duration
	at := 20 * time.Millisecond
	for i := range 20 {
		offsets = append(offsets, at)
		at += time.Duration(5+i%3*5) * time.Millisecond
	}
	recs := benchCassette(offsets)
	var sum, worst time.Duration
	var gaps int
	for b.Loop() {
		p, err := replayer.New(cassettes.Header{}, recs)
		if err != nil {
			b.Fatal(err)
		}
		_, base, stop := benchMock(b, mockserver.Config{Playback: p})
		ws := benchConnect(b, base)
		var arrived []time.Time
		for range offsets {
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
			arrived = append(arrived, time.Now())
		}
		for i := 1; i < len(arrived); i++ {
			e := time.Duration(math.Abs(float64(arrived[i].Sub(arrived[i-1]) - (offsets[i] - offsets[i-1]))))
			sum, worst, gaps = sum+e, max(worst, e), gaps+1
		}
		ws.Close()
		stop()
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(gaps), "µs-mean-gap-error")
	b.ReportMetric(float64(worst.Microseconds()), "µs-max-gap-error")
}

// BenchmarkThroughput10k plays 10,000 recorded events at speed 0 to a reading client, and, as the
// baseline in the same run, Emits the same 10,000 events live to a client of a mock with no
// cassette. Both mocks have a send queue large enough that live Emit never drops the client.
func BenchmarkThroughput10k(b *testing.B) {
	const n = 10000
	recs := benchCassette(make([]time.Duration, n))
	event := []byte(benchContent)
	var replayTime, liveTime time.Duration
	readAll := func(ws *websocket.Conn) error {
		for range n {
			if _, _, err := ws.ReadMessage(); err != nil {
				return err
			}
		}
		return nil
	}
	for b.Loop() {
		// Replay at speed 0: from the client's build_connection to its last event.
		p, err := replayer.New(cassettes.Header{}, recs, replayer.WithSpeed(0))
		if err != nil {
			b.Fatal(err)
		}
		_, base, stop := benchMock(b, mockserver.Config{Playback: p, SendQueue: 2 * n})
		start := time.Now()
		ws := benchConnect(b, base)
		if err := readAll(ws); err != nil {
			b.Fatal(err)
		}
		replayTime += time.Since(start)
		ws.Close()
		stop()

		// Baseline: the same events Emitted live, from the first Emit to the last arrival.
		srv, base, stop := benchMock(b, mockserver.Config{SendQueue: 2 * n})
		ws = benchConnect(b, base)
		done := make(chan error)
		start = time.Now()
		go func() { done <- readAll(ws) }()
		for range n {
			if _, err := srv.Emit("", event); err != nil {
				b.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		liveTime += time.Since(start)
		ws.Close()
		stop()
	}
	runs := float64(b.N)
	b.ReportMetric(float64(replayTime.Milliseconds())/runs, "ms/10k-replayed")
	b.ReportMetric(float64(liveTime.Milliseconds())/runs, "ms/10k-emitted")
	b.ReportMetric(n*runs/replayTime.Seconds(), "replayed-events/s")
	b.ReportMetric(n*runs/liveTime.Seconds(), "emitted-events/s")
	b.ReportMetric(liveTime.Seconds()/replayTime.Seconds(), "replay-speed-vs-emit")
}
