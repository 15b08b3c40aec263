package zoomtest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// samples are realistic inner events, one per file, named after the event.
//
//go:embed events/*.json
var samples embed.FS

// Event is an inner Zoom event, the webhook body {"event":...,"event_ts":...,"payload":{...}} that
// Zoom serializes into a message frame's content. The constructors (MeetingStarted and the others)
// return a complete, realistic one; With changes a field. An Event is a value: With returns a
// changed copy and leaves the original as it was.
//
// Top-level keys keep the order Zoom sends them in; nested objects are written with sorted keys,
// which any JSON reader treats the same.
type Event struct {
	keys   []string // top-level keys in wire order
	fields map[string]any
	err    error // the first error of ParseEvent or With, reported by Emit
}

// ParseEvent reads an inner event from JSON, for a payload captured from Zoom that a test wants to
// emit with a few fields changed.
func ParseEvent(data []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // ids such as 84512093377 stay exact
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Event{}, errors.New("failed to parse the event: want a JSON object")
	}
	ev := Event{fields: map[string]any{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Event{}, fmt.Errorf("failed to parse the event: %w", err)
		}
		key := tok.(string) // object keys are strings
		var v any
		if err := dec.Decode(&v); err != nil {
			return Event{}, fmt.Errorf("failed to parse the event at %q: %w", key, err)
		}
		if _, dup := ev.fields[key]; !dup {
			ev.keys = append(ev.keys, key)
		}
		ev.fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return Event{}, fmt.Errorf("failed to parse the event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("failed to parse the event: unexpected data after the object")
	}
	return ev, nil
}

// sample returns the embedded sample of an event without its event_ts, so the server stamps it
// with the time of Emit.
func sample(name string) Event {
	data, err := samples.ReadFile("events/" + name + ".json")
	if err != nil {
		return Event{err: fmt.Errorf("no sample of %s: %w", name, err)}
	}
	ev, err := ParseEvent(data)
	if err != nil {
		return Event{err: fmt.Errorf("sample of %s: %w", name, err)}
	}
	return ev.without("event_ts")
}

// MeetingStarted returns a meeting.started event: meeting id in payload.object.id (a string in
// this event), topic in payload.object.topic.
func MeetingStarted() Event { return sample("meeting.started") }

// MeetingEnded returns a meeting.ended event, with payload.object.end_time.
func MeetingEnded() Event { return sample("meeting.ended") }

// ParticipantJoined returns a meeting.participant_joined event; the participant is
// payload.object.participant (user_name, email, join_time, ...).
func ParticipantJoined() Event { return sample("meeting.participant_joined") }

// ParticipantLeft returns a meeting.participant_left event, with payload.object.participant.leave_reason.
func ParticipantLeft() Event { return sample("meeting.participant_left") }

// RecordingCompleted returns a recording.completed event: download_token at the top level, two
// files in payload.object.recording_files, and a meeting id that is a number in this event.
func RecordingCompleted() Event { return sample("recording.completed") }

// UserCreated returns a user.created event, with payload.operator and payload.creation_type.
func UserCreated() Event { return sample("user.created") }

// UserUpdated returns a user.updated event: the changed fields in payload.object, their previous
// values in payload.old_object.
func UserUpdated() Event { return sample("user.updated") }

// Name is the event's "event" value, such as "meeting.started".
func (e Event) Name() string {
	name, _ := e.fields["event"].(string)
	return name
}

// With returns a copy of e with the field at path set to value. path names keys from the top,
// joined by dots, with array indexes as numbers: "payload.object.topic",
// "payload.object.recording_files.0.file_size". Missing objects on the way are created. A path
// through something that is not an object or array is an error that Emit reports.
func (e Event) With(path string, value any) Event {
	if e.err != nil {
		return e
	}
	out := e.clone()
	if err := out.set(strings.Split(path, "."), value); err != nil {
		out.err = fmt.Errorf("With(%q): %w", path, err)
	}
	return out
}

// without returns a copy of e without the top-level key.
func (e Event) without(key string) Event {
	out := e.clone()
	delete(out.fields, key)
	for i, k := range out.keys {
		if k == key {
			out.keys = append(out.keys[:i:i], out.keys[i+1:]...)
			break
		}
	}
	return out
}

func (e *Event) set(path []string, value any) error {
	if e.fields == nil {
		e.fields = map[string]any{}
	}
	if _, ok := e.fields[path[0]]; !ok && path[0] != "" {
		e.keys = append(e.keys, path[0])
	}
	var cur any = e.fields
	for i, key := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if key == "" {
				return errors.New("empty key")
			}
			if last {
				c[key] = value
				return nil
			}
			if _, ok := c[key]; !ok {
				c[key] = map[string]any{}
			}
			cur = c[key]
		case []any:
			n, err := strconv.Atoi(key)
			if err != nil || n < 0 || n >= len(c) {
				return fmt.Errorf("%q is not an index of %s, an array of %d", key, strings.Join(path[:i], "."), len(c))
			}
			if last {
				c[n] = value
				return nil
			}
			cur = c[n]
		default:
			return fmt.Errorf("%s is %s, not an object or array", strings.Join(path[:i], "."), jsonText(c))
		}
	}
	return nil
}

// clone copies e deeply, so that With never changes e.
func (e Event) clone() Event {
	out := Event{keys: append([]string(nil), e.keys...), err: e.err}
	if e.fields != nil {
		out.fields = deepCopy(e.fields).(map[string]any)
	}
	return out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// MarshalJSON writes the event with its top-level keys in order, or fails with the error of the
// With or ParseEvent that made it.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range e.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		val, err := json.Marshal(e.fields[k])
		if err != nil {
			return nil, fmt.Errorf("failed to encode %q: %w", k, err)
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// String is the event's JSON, for test logs.
func (e Event) String() string {
	b, err := e.MarshalJSON()
	if err != nil {
		return "invalid event: " + err.Error()
	}
	return string(b)
}

// jsonText is v as JSON, shortened for an error message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
