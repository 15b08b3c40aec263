package replayer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/internal/wire"
)

// script is one recorded connection: what its server did, to play, and what its client did, to
// compare. Offsets are from the connection's ws_open record.
type script struct {
	id    string // the recorded connection id, "c1"
	token string // the access_token the recorded client sent (a placeholder), "" for none

	answered bool   // a build_connection frame was recorded
	failure  string // its content when success was false; "" when it succeeded
	refusal  *Refusal

	actions []action        // server frames and the server's close, to play
	frames  []string        // the client's frames other than heartbeats, as text
	beats   []time.Duration // the client's heartbeats
	end     *cassettes.WSClose
	endAt   time.Duration // the close, or the last record of the cassette when it was still open
}

// action is one thing a Session plays: an event, another frame, or the end of the connection.
type action struct {
	at time.Duration
	// event is the inner event name of a message frame; content and trackingID are re-sent.
	event, content, trackingID string
	// frame is any other server frame, sent verbatim.
	frame  []byte
	binary bool
	// close is the recorded end by the server.
	close *cassettes.WSClose
}

// describe names the action for step results and logs.
func (a action) describe() string {
	switch {
	case a.close != nil && (a.close.Abrupt || !sendable(a.close.Code)):
		return "drop (the TCP connection ends without a close frame)"
	case a.close != nil:
		return fmt.Sprintf("close %d %s", a.close.Code, a.close.Reason)
	case a.event != "":
		return "event " + a.event + " (" + a.trackingID + ")"
	case a.binary:
		return fmt.Sprintf("binary frame of %d bytes", len(a.frame))
	}
	return "frame " + clip(string(a.frame), 80)
}

// sendable reports whether a close frame may carry code (RFC 6455: 1006 and 1015 never travel;
// they mean the connection ended without one).
func sendable(code int) bool { return code != 1006 && code != 1015 }

// Refusal is a recorded build_connection failure that the mock replays: the content of the
// failure frame, then the close. Code is 0 when the recording has no close frame for it (the
// mock then uses its own failure close).
type Refusal struct {
	Content string
	Code    int
	Reason  string
}

// buildScripts turns records (already validated) into one script per connection whose upgrade
// succeeded, in the order they opened, and warnings about what cannot be replayed.
func buildScripts(recs []cassettes.Record) ([]*script, []string) {
	var scripts []*script
	var warnings []string
	opened := map[string]time.Duration{}
	byConn := map[string]*script{}
	for i, r := range recs {
		switch {
		case r.Open != nil:
			if r.Open.Status != 101 {
				warnings = append(warnings, fmt.Sprintf("record %d: the upgrade of connection %s failed with status %d: not replayed (the mock upgrades every /ws request)",
					i+1, r.Open.Conn, r.Open.Status))
				continue
			}
			q, _ := url.ParseQuery(r.Open.Query)
			sc := &script{id: r.Open.Conn, token: q.Get("access_token")}
			scripts = append(scripts, sc)
			byConn[sc.id], opened[sc.id] = sc, r.Offset
		case r.Frame != nil:
			if sc := byConn[r.Frame.Conn]; sc != nil {
				sc.addFrame(r.Offset-opened[sc.id], r.Frame)
			}
		case r.Close != nil:
			if sc := byConn[r.Close.Conn]; sc != nil {
				sc.end, sc.endAt = r.Close, r.Offset-opened[sc.id]
				if r.Close.By == cassettes.Server {
					sc.actions = append(sc.actions, action{at: sc.endAt, close: r.Close})
				}
			}
		}
	}
	last := time.Duration(0)
	if len(recs) > 0 {
		last = recs[len(recs)-1].Offset
	}
	for _, sc := range scripts {
		if sc.end == nil {
			sc.endAt = last - opened[sc.id]
		}
		if sc.failure != "" && sc.token != "" {
			sc.refusal = &Refusal{Content: sc.failure}
			if sc.end != nil && sc.end.By == cassettes.Server && !sc.end.Abrupt && sendable(sc.end.Code) {
				sc.refusal.Code, sc.refusal.Reason = sc.end.Code, sc.end.Reason
			}
		}
	}
	return scripts, warnings
}

// addFrame files one recorded frame at offset at from the open.
func (sc *script) addFrame(at time.Duration, f *cassettes.Frame) {
	if f.From == cassettes.Client {
		if f.Opcode == cassettes.Text && isHeartbeat(f.Payload) {
			sc.beats = append(sc.beats, at)
		} else {
			sc.frames = append(sc.frames, frameText(f.Opcode == cassettes.Binary, f.Payload))
		}
		return
	}
	if f.Opcode == cassettes.Binary {
		sc.actions = append(sc.actions, action{at: at, frame: []byte(f.Payload), binary: true})
		return
	}
	var env wire.Envelope
	if !strings.HasPrefix(f.Payload, "{") || json.Unmarshal([]byte(f.Payload), &env) != nil {
		sc.actions = append(sc.actions, action{at: at, frame: []byte(f.Payload)})
		return
	}
	switch env.Module {
	case wire.ModuleBuildConnection:
		// Answered live; a failure is kept to compare, and to replay when it was the server's call.
		if !sc.answered {
			sc.answered = true
			if env.Success != nil && !*env.Success {
				sc.failure = contentText(env.Content)
			}
		}
	case wire.ModuleHeartbeat:
		// Answered live by the mock.
	case wire.ModuleMessage:
		var content string
		var header struct {
			TrackingID string `json:"x-zm-trackingid"`
		}
		_ = json.Unmarshal(env.Header, &header)
		if json.Unmarshal(env.Content, &content) != nil {
			// Not Zoom's envelope (content is not a string): nothing to re-sign, so send it as is.
			sc.actions = append(sc.actions, action{at: at, frame: []byte(f.Payload)})
			return
		}
		sc.actions = append(sc.actions, action{at: at, event: eventName(content), content: content, trackingID: header.TrackingID})
	default:
		sc.actions = append(sc.actions, action{at: at, frame: []byte(f.Payload)})
	}
}

// contentText is a build_connection content as text ("(empty)" when there is none).
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return "(empty)"
		}
		return s
	}
	if len(raw) == 0 {
		return "(empty)"
	}
	return string(raw)
}

// eventName is the "event" of an inner event, or "(no event name)". It reads only as far as the
// key (the first one in every Zoom event), so loading a long recording does not parse every
// payload twice.
func eventName(content string) string {
	dec := json.NewDecoder(strings.NewReader(content))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "(no event name)"
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			break
		}
		if key == "event" {
			if v, err := dec.Token(); err == nil {
				if name, ok := v.(string); ok && name != "" {
					return name
				}
			}
			break
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return "(no event name)"
}

// isHeartbeat reports whether a text frame is a heartbeat as the mock counts one: a JSON object
// whose module is "heartbeat".
func isHeartbeat(payload string) bool { return hasModule(payload, wire.ModuleHeartbeat) }

// isEvent reports whether a server frame is an event delivery (module "message").
func isEvent(payload string) bool { return hasModule(payload, wire.ModuleMessage) }

// hasModule reports whether a text frame is a JSON object whose "module" is module. Most frames
// are told apart without decoding them.
func hasModule(payload, module string) bool {
	if !strings.Contains(payload, module) {
		return false
	}
	var env struct {
		Module string `json:"module"`
	}
	return json.Unmarshal([]byte(payload), &env) == nil && env.Module == module
}

// frameText shows a frame in a comparison: text as is, binary as base64.
func frameText(binary bool, payload string) string {
	if binary {
		return "(binary) " + base64.StdEncoding.EncodeToString([]byte(payload))
	}
	return payload
}

// clip shortens s to about n bytes for a message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
