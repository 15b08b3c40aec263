package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/zoomtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the program against zoomtest, configured from the environment, and reads an event
// from its output.
func TestRun(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	env := map[string]string{
		"ZOOM_TOKEN_URL": cfg.TokenURL, "ZOOM_WS_URL": cfg.WebSocketURL, "ZOOM_CLIENT_ID": cfg.ClientID,
		"ZOOM_CLIENT_SECRET": cfg.ClientSecret, "ZOOM_ACCOUNT_ID": cfg.AccountID, "ZOOM_SECRET_TOKEN": cfg.SecretToken,
	}
	// Lines of the program's stdout, read as they come so the program never blocks on them.
	r, w := io.Pipe()
	lines := make(chan []byte, 10)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(r)
		for s.Scan() {
			lines <- bytes.Clone(s.Bytes())
		}
	}()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, func(k string) string { return env[k] }, w, &stderr) }()
	defer func() {
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("exit status %d, want 0; stderr:\n%s", c, stderr.String())
		}
		w.Close()
		for range lines {
		}
	}()

	srv.WaitForConnection(context.Background())
	res := srv.Emit(zoomtest.MeetingStarted())
	var line []byte
	select {
	case line = <-lines:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing printed within 5s")
	}
	var got struct{ Event, TrackingID string }
	if err := json.Unmarshal(line, &got); err != nil || got.Event != "meeting.started" || got.TrackingID != res.TrackingIDs[0] {
		t.Errorf("printed %s, want meeting.started with tracking id %s", line, res.TrackingIDs[0])
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
		{[]string{"-client-id", "x"}, "ClientSecret is empty"},
		{[]string{"-client-id", "x", "-client-secret", "y", "-account-id", "z", "-secret-token", "s"}, `WebSocketURL ""`},
		{[]string{"-heartbeat", "soon"}, `invalid value "soon" for flag -heartbeat`},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		if code := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
