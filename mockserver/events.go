package mockserver

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/internal/wire"
)

// ErrBadEvent is wrapped by every error about the shape of an emitted event.
var ErrBadEvent = errors.New("bad event")

// ErrUnknownSubscription is returned when an event names a subscription the mock does not have.
var ErrUnknownSubscription = errors.New("unknown subscription")

// EmitResult says what became of an emitted event.
type EmitResult struct {
	// Event is the inner event name.
	Event string `json:"event"`
	// Delivered is how many connections the event was queued to (each duplicate counts once).
	Delivered int `json:"delivered"`
	// Dropped is true when no connection could take the event: Zoom does not re-fire it later.
	Dropped bool `json:"dropped"`
	// Buffered is how many subscriptions kept it for their next connection (Config.BufferEvents).
	Buffered int `json:"buffered,omitempty"`
	// Delayed is true when the delayEvents fault holds it; the journal shows the delivery later.
	Delayed bool `json:"delayed,omitempty"`
	// TrackingIDs are the x-zm-trackingid values used, one per subscription reached.
	TrackingIDs []string `json:"trackingIds,omitempty"`
}

// Emit delivers an inner Zoom event ({"event":...,"payload":...}) to every open connection of
// subscriptionID, or of every subscription when it is "". event_ts is filled in (milliseconds)
// when missing. The event goes out in a "message" frame whose content is the event serialized as a
// JSON string, signed with the app's secret token. With no connection open the event is dropped
// and counted, as Zoom does.
func (s *Server) Emit(subscriptionID string, event []byte) (EmitResult, error) {
	now := time.Now()
	s.mu.Lock()
	faults := s.faults
	closed := s.closed
	var targets []*subscription
	if subscriptionID == "" {
		for _, sub := range s.subs {
			targets = append(targets, sub)
		}
		sort.Slice(targets, func(i, j int) bool { return targets[i].id < targets[j].id })
	} else if sub, ok := s.subs[subscriptionID]; ok {
		targets = []*subscription{sub}
	}
	s.mu.Unlock()
	if closed {
		return EmitResult{}, ErrClosed
	}
	if len(targets) == 0 {
		return EmitResult{}, fmt.Errorf("%w %q: the mock has %s", ErrUnknownSubscription, subscriptionID, s.subscriptionList())
	}
	content, name, err := NormalizeEvent(event, now.Add(-time.Duration(faults.BackdateEvents)))
	if err != nil {
		return EmitResult{}, err
	}
	res := EmitResult{Event: name}
	for range targets {
		res.TrackingIDs = append(res.TrackingIDs, newTrackingID())
	}
	s.mu.Lock()
	s.stats.EventsEmitted++
	if d := time.Duration(faults.DelayEvents); d > 0 {
		res.Delayed = true
		var t *time.Timer
		s.wg.Add(1)
		t = time.AfterFunc(d, func() {
			defer s.wg.Done()
			s.mu.Lock()
			if _, pending := s.delayed[t]; !pending {
				s.mu.Unlock()
				return
			}
			delete(s.delayed, t)
			s.mu.Unlock()
			s.deliver(targets, content, name, res.TrackingIDs, faults.DuplicateEvents)
		})
		s.delayed[t] = struct{}{}
		s.mu.Unlock()
		return res, nil
	}
	s.mu.Unlock()
	delivered, buffered := s.deliver(targets, content, name, res.TrackingIDs, faults.DuplicateEvents)
	res.Delivered, res.Buffered = delivered, buffered
	res.Dropped = delivered == 0 && buffered == 0
	return res, nil
}

// deliver queues content to the open connections of each target; it returns how many connections
// took it and how many subscriptions buffered it.
func (s *Server) deliver(targets []*subscription, content, name string, trackingIDs []string, duplicate bool) (delivered, buffered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sub := range targets {
		if len(sub.conns) == 0 {
			if s.cfg.BufferEvents {
				sub.buffered = append(sub.buffered, content)
				s.stats.EventsBuffered++
				buffered++
				continue
			}
			s.stats.EventsDropped++
			s.journal.add(Entry{Kind: KindEventDropped, SubscriptionID: sub.id, Event: name,
				Note: "no open connection on the subscription: Zoom drops the event and never re-fires it"})
			s.log.Info("event dropped: no connection", "subscription", sub.id, "event", name)
			continue
		}
		f := s.messageFrame(sub, content, name, trackingIDs[i])
		if len(sub.conns) > 1 {
			// One encoding shared by every connection of a fan-out.
			if pm, err := websocket.NewPreparedMessage(websocket.TextMessage, f.data); err == nil {
				f.prepared = pm
			}
		}
		copies := 1
		if duplicate {
			copies = 2
		}
		for _, c := range sub.conns {
			took := false
			for range copies {
				if c.enqueue(f) {
					s.stats.EventsDelivered++
					took = true
				}
			}
			if took {
				delivered++
			}
		}
	}
	return delivered, buffered
}

// messageFrame builds the signed message frame of content, whose inner event is name, for sub's app.
func (s *Server) messageFrame(sub *subscription, content, name, trackingID string) outFrame {
	ts := time.Now().Unix()
	m := wire.Message{Module: wire.ModuleMessage, Content: content, Header: wire.EventHeader{
		Authorization:    sub.app.VerificationToken,
		ClientID:         sub.app.ClientID,
		TrackingID:       trackingID,
		Signature:        sub.signer.Sign(ts, content),
		RequestTimestamp: strconv.FormatInt(ts, 10),
	}}
	return outFrame{data: m.Marshal(), entry: FrameEntry{Module: wire.ModuleMessage, Event: name, TrackingID: trackingID}}
}

// eventName reads the inner event name of a normalized event.
func eventName(content string) string {
	var name struct {
		Event string `json:"event"`
	}
	_ = json.Unmarshal([]byte(content), &name)
	return name.Event
}

// newTrackingID returns "EventService_" and 32 hex digits, unique per delivery.
func newTrackingID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "EventService_" + hex.EncodeToString(b)
}

// NormalizeEvent checks an inner Zoom event and returns it compacted, with its top-level keys in
// their original order and "event_ts" (milliseconds of ts) added after "event" when missing. It
// requires a JSON object whose "event" is a non-empty string and whose "payload", when present, is
// an object, so a test that emits a typo learns it at once rather than from a confused consumer.
func NormalizeEvent(event []byte, ts time.Time) (content, name string, err error) {
	if content, name, ok := normalizePlain(event, ts); ok {
		return content, name, nil
	}
	return normalizeEvent(event, ts)
}

// normalizePlain is NormalizeEvent in one pass for the usual event: an object whose top-level
// keys are plain ASCII, whose "event" is a string without escapes, and which passes every check.
// It reports false for anything else, and normalizeEvent then decides and words the error, so the
// two agree on every input (FuzzNormalizeEvent compares them). It exists because the token-by-token
// decoder of normalizeEvent was a third of the cost of an Emit.
func normalizePlain(event []byte, ts time.Time) (content, name string, ok bool) {
	var buf bytes.Buffer
	buf.Grow(len(event) + 32)
	if json.Compact(&buf, event) != nil {
		return "", "", false
	}
	c := buf.Bytes() // valid JSON without insignificant space, so members read "key":value,
	if len(c) < 2 || c[0] != '{' || c[1] != '"' {
		return "", "", false
	}
	const maxKeys = 16 // the duplicate check below is quadratic
	var keys [maxKeys][]byte
	nkeys, eventEnd, hasTS := 0, -1, false
	for i := 1; ; {
		keyEnd := i + 1 + bytes.IndexByte(c[i+1:], '"')
		key := c[i+1 : keyEnd]
		if nkeys == maxKeys || !plainKey(key) {
			return "", "", false
		}
		for _, k := range keys[:nkeys] {
			if bytes.Equal(k, key) {
				return "", "", false
			}
		}
		keys[nkeys] = key
		nkeys++
		valStart := keyEnd + 2 // past the colon
		valEnd := skipValue(c, valStart)
		val := c[valStart:valEnd]
		switch string(key) {
		case "event":
			if len(val) < 3 || val[0] != '"' || bytes.IndexByte(val, '\\') >= 0 || !utf8.Valid(val) {
				return "", "", false
			}
			name, eventEnd = string(val[1:len(val)-1]), valEnd
		case "event_ts":
			if _, err := strconv.ParseInt(string(val), 10, 64); err != nil {
				return "", "", false
			}
			hasTS = true
		case "payload":
			if val[0] != '{' {
				return "", "", false
			}
		}
		if c[valEnd] == '}' {
			break
		}
		i = valEnd + 1 // past the comma
	}
	if name == "" {
		return "", "", false
	}
	if hasTS {
		return buf.String(), name, true
	}
	withTS := make([]byte, 0, len(c)+32)
	withTS = append(withTS, c[:eventEnd]...)
	withTS = append(withTS, `,"event_ts":`...)
	withTS = strconv.AppendInt(withTS, ts.UnixMilli(), 10)
	withTS = append(withTS, c[eventEnd:]...)
	return string(withTS), name, true
}

// plainKey reports whether a raw key reads the same decoded and re-encoded by encoding/json:
// printable ASCII without the escape, the quote and the characters it escapes for HTML.
func plainKey(key []byte) bool {
	for _, b := range key {
		if b < 0x20 || b >= 0x7f || b == '\\' || b == '"' || b == '<' || b == '>' || b == '&' {
			return false
		}
	}
	return true
}

// skipValue returns the end of the value starting at c[i], in compacted valid JSON.
func skipValue(c []byte, i int) int {
	depth := 0
	for ; i < len(c); i++ {
		switch c[i] {
		case '"':
			for i++; c[i] != '"'; i++ {
				if c[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object, after a number or literal
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// normalizeEvent is NormalizeEvent for any input: it decodes token by token and names what is wrong.
func normalizeEvent(event []byte, ts time.Time) (content, name string, err error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return "", "", fmt.Errorf("%w: want a JSON object like {\"event\":\"meeting.started\",\"payload\":{...}}", ErrBadEvent)
	}
	type member struct {
		key string
		val json.RawMessage
	}
	var members []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", fmt.Errorf("%w: invalid JSON: %w", ErrBadEvent, err)
		}
		key := tok.(string) // object keys are always strings
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return "", "", fmt.Errorf("%w: invalid JSON in %q: %w", ErrBadEvent, key, err)
		}
		if seen[key] {
			return "", "", fmt.Errorf("%w: key %q appears twice", ErrBadEvent, key)
		}
		seen[key] = true
		members = append(members, member{key, val})
	}
	if _, err := dec.Token(); err != nil {
		return "", "", fmt.Errorf("%w: invalid JSON: %w", ErrBadEvent, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", "", fmt.Errorf("%w: unexpected data after the event object", ErrBadEvent)
	}
	hasTS := false
	for _, m := range members {
		switch m.key {
		case "event":
			if err := json.Unmarshal(m.val, &name); err != nil || name == "" {
				return "", "", fmt.Errorf("%w: \"event\" must be a non-empty string such as \"meeting.started\", got %s", ErrBadEvent, m.val)
			}
		case "event_ts":
			var n int64
			if err := json.Unmarshal(m.val, &n); err != nil {
				return "", "", fmt.Errorf("%w: \"event_ts\" must be an integer of milliseconds, got %s", ErrBadEvent, m.val)
			}
			hasTS = true
		case "payload":
			if len(m.val) == 0 || m.val[0] != '{' {
				return "", "", fmt.Errorf("%w: \"payload\" must be an object, got %s", ErrBadEvent, m.val)
			}
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("%w: missing \"event\": want {\"event\":\"meeting.started\",\"payload\":{...}}", ErrBadEvent)
	}
	var buf bytes.Buffer
	buf.Grow(len(event) + 32)
	buf.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(&buf, m.val); err != nil {
			return "", "", fmt.Errorf("%w: invalid JSON in %q: %w", ErrBadEvent, m.key, err)
		}
		if m.key == "event" && !hasTS {
			buf.WriteString(`,"event_ts":`)
			buf.WriteString(strconv.FormatInt(ts.UnixMilli(), 10))
		}
	}
	buf.WriteByte('}')
	return buf.String(), name, nil
}

// subscriptionList names the subscriptions for error messages.
func (s *Server) subscriptionList() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, strconv.Quote(id))
	}
	sort.Strings(ids)
	return fmt.Sprintf("subscriptions %v", ids)
}
