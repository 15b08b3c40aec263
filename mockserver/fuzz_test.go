package mockserver

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzNormalizeEvent: any input is either refused with ErrBadEvent or gives valid JSON with the
// same event name and an event_ts; the one-pass path agrees with the general one.
func FuzzNormalizeEvent(f *testing.F) {
	for _, seed := range []string{meetingStarted, `{"event":"x"}`, `{"event":"x","payload":{}}`, `{}`, `[]`, `{"event":"a","event_ts":1.5}`, "{\"event\":\"\xff\"}", `{"event":"x","payload":{"a":[1,{"b":null}]}}`,
		` { "payload" : { "s" : "a\"}\\" , "n" : [ 1 , -2.5e3 , true ] } , "event" : "x.y" , "z" : null } `, `{"event":"x","event_ts":-0}`,
		`{"event":"x","event_ts":99999999999999999999}`, `{"event":"x","payload":"s"}`, `{"event":"x","event":"y"}`, `{"ev<nt":1,"event":"x"}`,
		`{"\u0065vent":"x"}`, `{"event":"\u00e9"}`, `{"event":""}`, `{"event":"x","payload":{}} {}`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"event":"x"}`,
		`{"event":"x","t":1}`, `{"t":[],"event":"é"}`} {
		f.Add([]byte(seed))
	}
	ts := time.UnixMilli(1764770400123)
	f.Fuzz(func(t *testing.T, in []byte) {
		if plain, plainName, ok := normalizePlain(in, ts); ok {
			general, generalName, err := normalizeEvent(in, ts)
			if err != nil || plain != general || plainName != generalName {
				t.Fatalf("%q: one-pass %s (%q), general %s (%q, %v)", in, plain, plainName, general, generalName, err)
			}
		}
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
