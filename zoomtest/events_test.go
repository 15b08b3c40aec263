package zoomtest_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zoommock/zoommock/zoomtest"
)

// TestConstructorsMatchTheSamples checks each constructor against its sample file, less event_ts,
// which the server stamps at Emit.
func TestConstructorsMatchTheSamples(t *testing.T) {
	t.Parallel()
	for name, ev := range map[string]zoomtest.Event{
		"meeting.started":            zoomtest.MeetingStarted(),
		"meeting.ended":              zoomtest.MeetingEnded(),
		"meeting.participant_joined": zoomtest.ParticipantJoined(),
		"meeting.participant_left":   zoomtest.ParticipantLeft(),
		"recording.completed":        zoomtest.RecordingCompleted(),
		"user.created":               zoomtest.UserCreated(),
		"user.updated":               zoomtest.UserUpdated(),
	} {
		data, err := os.ReadFile("events/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var want, got map[string]any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		delete(want, "event_ts")
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" || ev.Name() != name {
			t.Errorf("%s (Name %q) differs from its sample (-want +got):\n%s", name, ev.Name(), diff)
		}
		if !strings.HasPrefix(string(b), `{"event":"`+name+`"`) {
			t.Errorf("%s does not start with its name, as Zoom's do: %s", name, b)
		}
	}
}

func TestWith(t *testing.T) {
	t.Parallel()
	orig := zoomtest.RecordingCompleted()
	ev := orig.
		With("payload.object.topic", "Retro").
		With("payload.object.recording_files.1.file_size", 7).
		With("payload.object.extra.deep", true).
		With("event_ts", 1700000000000)
	var got struct {
		EventTS int64 `json:"event_ts"`
		Payload struct {
			Object struct {
				ID             json.Number `json:"id"`
				Topic          string      `json:"topic"`
				RecordingFiles []struct {
					FileSize int `json:"file_size"`
				} `json:"recording_files"`
				Extra map[string]bool `json:"extra"`
			} `json:"object"`
		} `json:"payload"`
	}
	if err := json.Unmarshal([]byte(ev.String()), &got); err != nil {
		t.Fatal(err)
	}
	o := got.Payload.Object
	if o.Topic != "Retro" || o.RecordingFiles[1].FileSize != 7 || !o.Extra["deep"] || got.EventTS != 1700000000000 || o.ID != "84512093377" {
		t.Errorf("With did not set the fields: %s", ev)
	}
	if !strings.Contains(orig.String(), `"topic":"Weekly platform sync"`) || strings.Contains(orig.String(), "event_ts") {
		t.Errorf("With changed the original: %s", orig)
	}
	if !strings.HasSuffix(ev.String(), `"event_ts":1700000000000}`) {
		t.Errorf("a new top-level key is not last: %s", ev)
	}
}

func TestWithErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   zoomtest.Event
		want string
	}{
		{"through a string", zoomtest.MeetingStarted().With("event.x", 1), `With("event.x"): event is "meeting.started", not an object or array`},
		{"index out of range", zoomtest.RecordingCompleted().With("payload.object.recording_files.2.id", 1), `"2" is not an index of payload.object.recording_files, an array of 2`},
		{"not an index", zoomtest.RecordingCompleted().With("payload.object.recording_files.first", 1), `"first" is not an index`},
		{"empty key", zoomtest.MeetingStarted().With("payload..topic", 1), "empty key"},
		{"first error sticks", zoomtest.MeetingStarted().With("event.x", 1).With("payload.object.topic", "ok"), `With("event.x")`},
	}
	for _, tt := range tests {
		if _, err := json.Marshal(tt.ev); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestParseEventErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ data, want string }{
		{``, "want a JSON object"},
		{`[1]`, "want a JSON object"},
		{`{"event":"x"`, "failed to parse the event"},
		{`{"event":x}`, `failed to parse the event at "event"`},
		{`{"event":"x"} {}`, "unexpected data after the object"},
	}
	for _, tt := range tests {
		if _, err := zoomtest.ParseEvent([]byte(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseEvent(%s) = %v, want %q", tt.data, err, tt.want)
		}
	}
	ev, err := zoomtest.ParseEvent([]byte(`{"event":"custom.thing","payload":{"n":12345678901234567890}}`))
	if err != nil || ev.Name() != "custom.thing" || ev.String() != `{"event":"custom.thing","payload":{"n":12345678901234567890}}` {
		t.Errorf("ParseEvent = %s, %v; want the event unchanged, big numbers exact", ev, err)
	}
}
