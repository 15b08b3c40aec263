package consumer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestValidSignature(t *testing.T) {
	t.Parallel()
	sign := func(secret, ts, content string) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte("v0:" + ts + ":" + content))
		return "v0=" + hex.EncodeToString(mac.Sum(nil))
	}
	const content, ts = `{"event":"meeting.started"}`, "1764770400"
	good := sign("secret", ts, content)
	tests := []struct {
		name                           string
		secret, ts, content, signature string
		want                           bool
	}{
		{"valid", "secret", ts, content, good, true},
		{"other secret", "other", ts, content, good, false},
		{"other timestamp", "secret", "1764770401", content, good, false},
		{"tampered content", "secret", ts, content + " ", good, false},
		{"no v0= prefix", "secret", ts, content, strings.TrimPrefix(good, "v0="), false},
		{"upper-case hex", "secret", ts, content, strings.ToUpper(good), false},
		{"no timestamp", "secret", "", content, sign("secret", "", content), false},
		{"no signature", "secret", ts, content, "", false},
	}
	for _, tt := range tests {
		if got := validSignature(tt.secret, tt.ts, tt.content, tt.signature); got != tt.want {
			t.Errorf("%s: validSignature = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	ev, err := decodeEvent(`{"event":"user.created","event_ts":1764775100444,"payload":{"object":{"id":"u1"}}}`, "EventService_1")
	if err != nil || ev.Name != "user.created" || ev.Time.UnixMilli() != 1764775100444 || string(ev.Payload) != `{"object":{"id":"u1"}}` || ev.TrackingID != "EventService_1" {
		t.Errorf("decodeEvent = %+v, %v", ev, err)
	}
	for _, bad := range []struct{ content, want string }{
		{``, "failed to decode the event"},
		{`"{\"event\":\"x\"}"`, "failed to decode the event"}, // content decoded once too few
		{`{"event":"x","event_ts":"soon"}`, "failed to decode the event"},
		{`{"payload":{}}`, `no "event" name`},
		{`{"event":""}`, `no "event" name`},
	} {
		if _, err := decodeEvent(bad.content, ""); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("decodeEvent(%s) = %v, want %q", bad.content, err, bad.want)
		}
	}
}

func TestRecentForgetsTheOldest(t *testing.T) {
	t.Parallel()
	r := recent{ids: map[string]bool{}, size: 2}
	for _, step := range []struct {
		id  string
		new bool
	}{{"a", true}, {"a", false}, {"b", true}, {"c", true}, {"b", false}, {"a", true}, {"", true}, {"", true}} {
		if got := r.add(step.id); got != step.new {
			t.Errorf("add(%q) = %v, want %v", step.id, got, step.new)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := backoff{min: 100 * time.Millisecond, max: 400 * time.Millisecond}
	for i, step := range []time.Duration{100, 200, 400, 400} {
		step *= time.Millisecond
		if d := b.next(); d < step/2 || d > step {
			t.Errorf("wait %d = %v, want between %v and %v", i, d, step/2, step)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("wait after reset = %v, want at most min", d)
	}
}
