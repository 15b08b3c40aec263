package zoomtest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

func TestConfigDescribesTheDevelopmentApp(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") && !strings.HasPrefix(srv.URL, "http://[::1]:") {
		t.Errorf("URL = %q, want a loopback address", srv.URL)
	}
	ws := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?subscriptionId=" + mockserver.DevSubscriptionID
	want := zoomtest.Config{
		TokenURL:          srv.URL + "/oauth/token",
		WebSocketURL:      ws,
		ClientID:          mockserver.DevClientID,
		ClientSecret:      mockserver.DevClientSecret,
		AccountID:         mockserver.DevAccountID,
		SubscriptionID:    mockserver.DevSubscriptionID,
		SecretToken:       mockserver.DevSecretToken,
		VerificationToken: mockserver.DevVerificationToken,
	}
	if diff := cmp.Diff(want, srv.Config()); diff != "" {
		t.Errorf("Config() mismatch (-want +got):\n%s", diff)
	}
	if srv.TokenURL() != want.TokenURL || srv.WebSocketURL() != want.WebSocketURL {
		t.Errorf("TokenURL, WebSocketURL = %q, %q; want %q, %q", srv.TokenURL(), srv.WebSocketURL(), want.TokenURL, want.WebSocketURL)
	}
}

// TestSession runs a whole well-behaved session and checks what the client receives (the exact
// wire frames, a signed event whose content is a JSON string) and what the journal records.
func TestSession(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	ctx := ctxFor(t)
	ws := connect(t, srv)
	if got := srv.WaitForConnection(ctx); got.ID != "c1" || got.TokenRef != "t1" {
		t.Errorf("WaitForConnection = %+v, want c1 with token t1", got)
	}

	send(t, ws, heartbeat)
	if f := readFrame(t, ws); f.Module != "heartbeat" || !f.Success || f.Content != "live" {
		t.Errorf("heartbeat reply = %+v", f)
	}
	srv.WaitForHeartbeats(ctx, 1)

	res := srv.Emit(zoomtest.MeetingStarted().With("payload.object.topic", "Standup"))
	if res.Delivered != 1 || res.Dropped || len(res.TrackingIDs) != 1 {
		t.Errorf("Emit = %+v, want one delivery", res)
	}
	msg := readFrame(t, ws)
	cfg := srv.Config()
	mac := hmac.New(sha256.New, []byte(cfg.SecretToken))
	mac.Write([]byte("v0:" + msg.Header["x-zm-request-timestamp"] + ":" + msg.Content))
	if sig := "v0=" + hex.EncodeToString(mac.Sum(nil)); msg.Header["x-zm-signature"] != sig {
		t.Errorf("x-zm-signature = %q, want %q", msg.Header["x-zm-signature"], sig)
	}
	if msg.Header["x-zm-trackingid"] != res.TrackingIDs[0] || msg.Header["Authorization"] != cfg.VerificationToken {
		t.Errorf("header = %v, want tracking id %s and the verification token", msg.Header, res.TrackingIDs[0])
	}
	var inner struct {
		Event   string `json:"event"`
		EventTS int64  `json:"event_ts"`
		Payload struct {
			Object struct {
				Topic string `json:"topic"`
			} `json:"object"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(msg.Content), &inner); err != nil {
		t.Fatalf("content is not the event as a JSON string: %v", err)
	}
	if inner.Event != "meeting.started" || inner.Payload.Object.Topic != "Standup" || time.Since(time.UnixMilli(inner.EventTS)) > time.Minute {
		t.Errorf("event = %+v, want meeting.started about Standup stamped now", inner)
	}
	closeClean(t, ws)
	srv.WaitFor(ctx, "close of c1", func(e mockserver.Entry) bool { return e.Kind == mockserver.KindConnectionClose })

	// What the client did, as go-cmp sees it.
	var client []mockserver.Entry
	for _, e := range srv.Journal() {
		if e.Kind != mockserver.KindServerFrame {
			client = append(client, e)
		}
	}
	sub := mockserver.DevSubscriptionID
	want := []mockserver.Entry{
		{Kind: mockserver.KindTokenRequest, Token: &mockserver.TokenEntry{ClientID: cfg.ClientID, GrantType: "account_credentials", AccountID: cfg.AccountID, Status: 200, TokenRef: "t1"}},
		{Kind: mockserver.KindConnectionOpen, Connection: "c1", SubscriptionID: sub, Open: &mockserver.OpenEntry{TokenRef: "t1", Success: true, Content: "connected"}},
		{Kind: mockserver.KindClientFrame, Connection: "c1", SubscriptionID: sub, Frame: &mockserver.FrameEntry{Payload: heartbeat, Module: "heartbeat"}},
		{Kind: mockserver.KindConnectionClose, Connection: "c1", SubscriptionID: sub, Close: &mockserver.CloseEntry{By: "client", Code: 1000, Reason: "bye"}},
	}
	if diff := cmp.Diff(want, client, zoomtest.IgnoreVolatile()); diff != "" {
		t.Errorf("journal mismatch (-want +got):\n%s", diff)
	}
	if m := srv.Mistakes(); len(m) > 0 {
		t.Errorf("Mistakes() = %q, want none from a well-behaved client", m)
	}
}

// TestIgnoreVolatileKeepsWhatMatters checks that IgnoreVolatile still tells different frames apart.
func TestIgnoreVolatileKeepsWhatMatters(t *testing.T) {
	t.Parallel()
	msg := func(event, payload string) mockserver.Entry {
		return mockserver.Entry{Seq: 1, Kind: mockserver.KindServerFrame, Frame: &mockserver.FrameEntry{Module: "message", Event: event, Payload: payload, TrackingID: payload}}
	}
	if !cmp.Equal(msg("meeting.started", "a"), msg("meeting.started", "b"), zoomtest.IgnoreVolatile()) {
		t.Error("message frames that differ only in payload and tracking id are not equal")
	}
	if cmp.Equal(msg("meeting.started", "a"), msg("meeting.ended", "a"), zoomtest.IgnoreVolatile()) {
		t.Error("message frames of different events are equal")
	}
	beat := func(payload string) mockserver.Entry {
		return mockserver.Entry{Kind: mockserver.KindClientFrame, Frame: &mockserver.FrameEntry{Payload: payload}, Time: time.Now()}
	}
	if cmp.Equal(beat(heartbeat), beat("heartbeat"), zoomtest.IgnoreVolatile()) {
		t.Error("client frames with different payloads are equal")
	}
}

// TestCleanupClosesEverything checks that a server closes its WebSockets with 1001 and its listener
// when its test ends (goleak in TestMain checks that its goroutines are gone too).
func TestCleanupClosesEverything(t *testing.T) {
	t.Parallel()
	var ws *websocket.Conn
	var url string
	t.Run("server", func(t *testing.T) {
		srv := zoomtest.NewServer(t)
		url = srv.URL
		var err error
		// Not dial: its cleanup would close the client before the server's cleanup runs.
		ws, _, err = websocket.DefaultDialer.Dial(srv.WebSocketURL()+"&access_token="+getToken(t, srv.Config()), nil)
		if err != nil {
			t.Fatal(err)
		}
		readFrame(t, ws)
	})
	if ws == nil {
		return
	}
	defer ws.Close()
	if code, reason := readClose(t, ws); code != websocket.CloseGoingAway {
		t.Errorf("close after the test = %d %q, want 1001", code, reason)
	}
	if resp, err := http.Get(url + "/oauth/token"); err == nil {
		resp.Body.Close()
		t.Errorf("the listener still answers after the test: %s", resp.Status)
	}
}
