package zoomtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

// session is a minimal Zoom client: token, connect, one heartbeat, then it reads n events and
// returns their names in order.
func session(t *testing.T, cfg zoomtest.Config, n int) []string {
	t.Helper()
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.AccountID}}
	req, _ := http.NewRequest(http.MethodPost, cfg.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	ws, _, err := websocket.DefaultDialer.Dial(cfg.WebSocketURL+"&access_token="+tok.AccessToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := func() map[string]any {
		t.Helper()
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		_ = json.Unmarshal(data, &m)
		return m
	}
	if m := read(); m["module"] != "build_connection" || m["success"] != true {
		t.Fatalf("build_connection = %v", m)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`))
	var events []string
	for len(events) < n {
		m := read()
		if m["module"] != "message" {
			continue // the heartbeat reply
		}
		var ev struct{ Event string }
		_ = json.Unmarshal([]byte(m["content"].(string)), &ev)
		events = append(events, ev.Event)
	}
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"))
	return events
}

// Record a session through Cassette's record mode against a mock standing in for Zoom, then replay
// the cassette: the client receives the same events in the same order, and no secret is on disk.
func TestCassetteRecordThenReplay(t *testing.T) {
	upstream := zoomtest.NewServer(t)
	up := upstream.Config()
	path := filepath.Join(t.TempDir(), "testdata", "roundtrip.cassette")
	want := []string{"meeting.started", "meeting.participant_joined", "meeting.ended"}

	t.Run("record", func(t *testing.T) {
		t.Setenv(zoomtest.RecordEnv, "1")
		t.Setenv("ZOOM_CLIENT_ID", up.ClientID)
		t.Setenv("ZOOM_CLIENT_SECRET", up.ClientSecret)
		t.Setenv("ZOOM_ACCOUNT_ID", up.AccountID)
		t.Setenv("ZOOM_SUBSCRIPTION_ID", up.SubscriptionID)
		t.Setenv(zoomtest.OAuthUpstreamEnv, upstream.URL)
		t.Setenv(zoomtest.WSUpstreamEnv, "ws"+strings.TrimPrefix(upstream.URL, "http"))
		srv := zoomtest.Cassette(t, path)
		cfg := srv.Config()
		if cfg.ClientID != up.ClientID || !strings.HasSuffix(cfg.WebSocketURL, "/ws?subscriptionId="+up.SubscriptionID) {
			t.Fatalf("record mode config = %+v", cfg)
		}
		got := make(chan []string)
		go func() { got <- session(t, cfg, len(want)) }()
		conn := upstream.WaitForConnection(t.Context())
		upstream.WaitForHeartbeats(t.Context(), 1)
		upstream.Emit(zoomtest.MeetingStarted())
		upstream.Emit(zoomtest.ParticipantJoined())
		upstream.Emit(zoomtest.MeetingEnded())
		if diff := cmp.Diff(want, <-got); diff != "" {
			t.Errorf("recording: events (-want +got):\n%s", diff)
		}
		upstream.WaitForClose(t.Context(), conn.ID)
	})

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	leaks, err := cassettes.ContainsAny(data, mockserver.DevClientSecret, mockserver.DevVerificationToken)
	if err != nil || len(leaks) > 0 {
		t.Errorf("cassette leaks %q (%v)", leaks, err)
	}

	t.Run("replay", func(t *testing.T) {
		srv := zoomtest.Cassette(t, path)
		if diff := cmp.Diff(want, session(t, srv.Config(), len(want))); diff != "" {
			t.Errorf("replay: events (-want +got):\n%s", diff)
		}
		srv.WaitForClose(t.Context(), "c1") // the client's close, as recorded
		srv.WaitForReplay(t.Context())
	})
}
