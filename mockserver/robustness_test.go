package mockserver

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// A frame that breaks RFC 6455 gets a 1002 close, and the journal says the server closed it for
// that reason, not that the client vanished.
func TestProtocolErrorIsJournaledAs1002(t *testing.T) {
	t.Parallel()
	for name, frame := range map[string][]byte{
		"reserved bit":       {0xC1, 0x80, 0, 0, 0, 0},         // FIN|RSV1|text, masked, empty
		"unmasked":           {0x81, 0x00},                     // FIN|text, not masked
		"reserved opcode":    {0x83, 0x80, 0, 0, 0, 0},         // opcode 3
		"continuation alone": {0x80, 0x80, 0, 0, 0, 0},         // FIN|continuation
		"close code 999":     {0x88, 0x82, 0, 0, 0, 0, 3, 231}, // close 999
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, Config{})
			ws := ts.connect(t)
			if _, err := ws.NetConn().Write(frame); err != nil {
				t.Fatal(err)
			}
			var got *Entry
			waitFor(t, ts.Server, "the close entry", func() bool {
				for _, e := range ts.Journal() {
					if e.Kind == KindConnectionClose {
						got = &e
						return true
					}
				}
				return false
			})
			if got.Close.By != "server" || got.Close.Code != 1002 || !strings.Contains(got.Note, "broke the WebSocket protocol") {
				t.Errorf("close entry = %+v %q", *got.Close, got.Note)
			}
		})
	}
}

func TestJournalIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{JournalMaxBytes: 20_000})
	ws := ts.connect(t)
	big := `{"event":"x","event_ts":1,"payload":{"blob":"` + strings.Repeat("b", 1000) + `"}}`
	for range 100 {
		if _, err := ts.Emit("", []byte(big)); err != nil {
			t.Fatal(err)
		}
		readText(t, ws)
	}
	var held int
	for _, e := range ts.Journal() {
		if e.Frame != nil {
			held += len(e.Frame.Payload)
		}
	}
	if held > 20_000 || held < 5_000 {
		t.Errorf("journal holds %d payload bytes, want at most the 20000 budget and not nearly empty", held)
	}
	if ts.Stats().JournalDropped == 0 {
		t.Error("JournalDropped is 0")
	}
}

func TestEmptyJournalIsAnArray(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	if status, body := do(t, mustRequest(t, "GET", ts.URL+"/_mock/journal", "")); status != 200 || body != "[]" {
		t.Errorf("fresh journal: %d %s", status, body)
	}
}

// A client that stalls in the middle of a request body cannot turn a stop into a failure.
func TestServeStopsDespiteAStalledRequest(t *testing.T) {
	t.Parallel()
	s, err := New(Config{CloseGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, ln) }()
	stalled, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if _, err := stalled.Write([]byte("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\ngr")); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, URL: "http://" + ln.Addr().String()}
	ws := ts.connect(t)
	cancel()
	if ce := readClose(t, ws); ce.Code != 1001 {
		t.Errorf("WebSocket close = %v", ce)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}
