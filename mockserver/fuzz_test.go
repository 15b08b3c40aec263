package mockserver

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzNormalizeEvent: any input is either refused with ErrBadEvent or gives valid JSON with the
// same event name and an event_ts.
func FuzzNormalizeEvent(f *testing.F) {
	for _, seed := range []string{meetingStarted, `{"event":"x"}`, `{"event":"x","payload":{}}`, `{}`, `[]`, `{"event":"a","event_ts":1.5}`, "{\"event\":\"\xff\"}", `{"event":"x","payload":{"a":[1,{"b":null}]}}`} {
		f.Add([]byte(seed))
	}
	ts := time.UnixMilli(1764770400123)
	f.Fuzz(func(t *testing.T, in []byte) {
		content, name, err := NormalizeEvent(in, ts)
		if err != nil {
			return
		}
		var ev struct {
			Event   string          `json:"event"`
			EventTS *int64          `json:"event_ts"`
			Payload json.RawMessage `json:"payload"`
		}
		if !json.Valid([]byte(content)) {
			t.Fatalf("invalid JSON out of %q: %s", in, content)
		}
		if err := json.Unmarshal([]byte(content), &ev); err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if ev.Event != name || name == "" || ev.EventTS == nil {
			t.Fatalf("content %s: name %q event_ts %v", content, name, ev.EventTS)
		}
		again, _, err := NormalizeEvent([]byte(content), ts)
		if err != nil || again != content {
			t.Fatalf("not idempotent: %s -> %s (%v)", content, again, err)
		}
	})
}

// FuzzParseConfig: never panics; accepted configs pass validation.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"apps":[{"clientId":"a","clientSecret":"s","accountId":"acc","secretToken":"st","subscriptions":[{"id":"s1"}]}]}`))
	f.Add([]byte(`{"apps":[{"clientId":1}]}`))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fc, err := ParseConfig(in)
		if err == nil {
			if err := validateApps(fc.Apps); err != nil || len(fc.Apps) == 0 {
				t.Fatalf("accepted an invalid config: %v", err)
			}
		}
	})
}

// FuzzParseCloseSpec: accepted specs round-trip through String.
func FuzzParseCloseSpec(f *testing.F) {
	for _, s := range []string{"1000", "1008:invalid_token", "abc", "4999:x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := ParseCloseSpec(in)
		if err != nil {
			return
		}
		back, err := ParseCloseSpec(cs.String())
		if err != nil || back != cs {
			t.Fatalf("%q -> %v -> %v (%v)", in, cs, back, err)
		}
	})
}
