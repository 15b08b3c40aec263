package cassettes

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The mock's development credentials (mockserver.Dev*; this package imports
// nothing of zoommock's, so they are repeated here): the built-in cassettes
// are shaped like recordings of the mock, so that `zoommock verify` against a
// default mock passes for meeting-lifecycle.
const (
	devClientID          = "zoommock-dev-client-id"
	devClientSecret      = "zoommock-dev-client-secret"
	devAccountID         = "zoommock-dev-account-id"
	devSubscriptionID    = "zoommockDevSubscript01"
	devSecretToken       = "zoommock-dev-secret-token"
	devVerificationToken = "zoommock-dev-verification-token"
	devScope             = "marketplace:read:list_event_subscriptions meeting:read:admin recording:read:admin user:read:admin"
)

// builtinSessions are the built-in cassettes: each function scripts one
// session in the order things happen on the wire.
var builtinSessions = map[string]func(b *session){
	// A meeting from start to recording: token, connection, events with
	// heartbeats every 30 s, and the consumer shutting down with 1000.
	"meeting-lifecycle": func(b *session) {
		tok := b.token(0, 3599)
		b.open(350*time.Millisecond, "c1", tok)
		b.heartbeats("c1", 350*time.Millisecond, 125*time.Second)
		b.event(4*time.Second, "c1", "meeting.started", nil)
		b.event(12*time.Second, "c1", "meeting.participant_joined", nil)
		b.event(21*time.Second, "c1", "meeting.participant_joined", secondParticipant)
		b.event(75*time.Second, "c1", "meeting.participant_left", secondParticipant)
		b.event(98*time.Second, "c1", "meeting.participant_left", nil)
		b.event(100*time.Second, "c1", "meeting.ended", nil)
		b.event(118*time.Second, "c1", "recording.completed", nil)
		b.close(125*time.Second, "c1", Client, 1000, "consumer shutting down")
	},
	// The token expires while the connection is open (recorded against
	// `zoommock serve --token-ttl 60s --close-on-token-expiry`): the server
	// closes with 1008 invalid_token, the client fetches a new token and
	// reconnects with it.
	"token-expiry": func(b *session) {
		tok := b.token(0, 59)
		b.open(300*time.Millisecond, "c1", tok)
		b.heartbeats("c1", 300*time.Millisecond, 60*time.Second)
		b.event(5*time.Second, "c1", "meeting.started", nil)
		b.event(40*time.Second, "c1", "meeting.participant_joined", nil)
		b.close(60*time.Second, "c1", Server, 1008, "invalid_token")
		tok = b.token(60400*time.Millisecond, 59)
		b.open(60700*time.Millisecond, "c2", tok)
		b.heartbeats("c2", 60700*time.Millisecond, 100*time.Second)
		b.event(75*time.Second, "c2", "meeting.participant_left", nil)
		b.event(95*time.Second, "c2", "meeting.ended", nil)
		b.close(100*time.Second, "c2", Client, 1000, "consumer shutting down")
	},
	// The server drops the TCP connection without a close frame; the client
	// reconnects two seconds later with its still valid token. An event that
	// happened in between is lost, as with Zoom (it is not in the recording).
	"server-drop": func(b *session) {
		tok := b.token(0, 3599)
		b.open(300*time.Millisecond, "c1", tok)
		b.heartbeats("c1", 300*time.Millisecond, 45*time.Second)
		b.event(3*time.Second, "c1", "meeting.started", nil)
		b.event(35*time.Second, "c1", "meeting.participant_joined", nil)
		b.close(45*time.Second, "c1", Server, 0, "")
		b.open(47*time.Second, "c2", tok)
		b.heartbeats("c2", 47*time.Second, 85*time.Second)
		b.event(50*time.Second, "c2", "meeting.participant_left", nil)
		b.event(80*time.Second, "c2", "meeting.ended", nil)
		b.close(85*time.Second, "c2", Client, 1000, "consumer shutting down")
	},
}

// secondParticipant turns the sample participant into another person.
var secondParticipant = strings.NewReplacer(
	`"user_id":"16778240"`, `"user_id":"16778241"`,
	"Ada Example", "Grace Sample",
	"ada@example.com", "grace@example.com",
	"Wm2q8ZcTRfa0b1LkXj4sEw", "Qp7rT2vXyZa1b2C3d4E5fA",
)

// TestBuiltinsAreGenerated checks that every built-in cassette is what its
// script above generates, valid, and readable through Builtin; with -update
// it rewrites them.
func TestBuiltinsAreGenerated(t *testing.T) {
	t.Parallel()
	var names []string
	for name, script := range builtinSessions {
		names = append(names, name)
		got := generateBuiltin(t, name, script)
		file := filepath.Join("builtin", name+".jsonl")
		if *update {
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", name, err)
		}
		embedded, _ := io.ReadAll(r)
		if !*update && !bytes.Equal(embedded, got) {
			t.Errorf("%s is not what its script generates: run go test ./cassettes -run Builtins -update\n%s",
				file, cmp.Diff(string(embedded), string(got)))
		}
		if err := Validate(bytes.NewReader(got)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if leaked, _ := ContainsAny(got, devClientSecret, devSecretToken, devVerificationToken, fakeToken(1), fakeToken(2)); len(leaked) > 0 {
			t.Errorf("%s holds secrets %q", name, leaked)
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff(names, BuiltinNames()); diff != "" {
		t.Errorf("BuiltinNames() differs from the scripts (-scripts +embedded):\n%s", diff)
	}
}

func TestBuiltinUnknown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nosuch", "../builtin/meeting-lifecycle", ""} {
		_, err := Builtin(name)
		if !errors.Is(err, ErrUnknownBuiltin) || !strings.Contains(err.Error(), "meeting-lifecycle, server-drop, token-expiry") {
			t.Errorf("Builtin(%q) = %v, want ErrUnknownBuiltin listing the names", name, err)
		}
	}
}

// generateBuiltin runs script and returns the cassette as plain JSON lines,
// redacted as the recorder would.
func generateBuiltin(t *testing.T, name string, script func(*session)) []byte {
	t.Helper()
	b := &session{t: t, start: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)}
	script(b)
	slices.SortStableFunc(b.recs, func(x, y Record) int { return int(x.Offset - y.Offset) })
	var packed bytes.Buffer
	w, err := NewWriter(&packed, Header{
		Created:  b.start,
		Recorder: "zoommock built-in cassette generator",
		Meta: map[string]string{
			"builtin": name,
			"note":    "synthetic: scripted in the shape of a recording of zoommock serve with its development credentials, from the sample events",
			"replay":  "zoommock replay builtin:" + name + " --speed 10",
		},
	}, WithRedactor(NewRedactor(WithSecrets(devClientSecret, devSecretToken))), WithFlushEvery(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range b.recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := Cat(&plain, &packed); err != nil {
		t.Fatal(err)
	}
	return plain.Bytes()
}

// session scripts a recording; offsets are from its start.
type session struct {
	t      *testing.T
	start  time.Time
	recs   []Record
	tokens int
}

func (b *session) add(at time.Duration, r Record) {
	r.Offset = at
	b.recs = append(b.recs, r)
}

// fakeToken is a JWT-shaped access token; the Redactor replaces it.
func fakeToken(n int) string {
	enc := base64.RawURLEncoding
	return "eyJhbGciOiJIUzUxMiIsInYiOiIyLjAifQ." + enc.EncodeToString([]byte(`{"jti":"builtin-`+strconv.Itoa(n)+`"}`)) + ".c2lnbmF0dXJl"
}

// token records a token request answered with a new token, and returns it.
func (b *session) token(at time.Duration, expiresIn int) string {
	b.tokens++
	tok := fakeToken(b.tokens)
	body, _ := json.Marshal(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
		APIURL      string `json:"api_url"`
	}{tok, "bearer", expiresIn, devScope, "https://api.zoom.us"})
	b.add(at, Record{HTTP: &HTTPExchange{
		Method: "POST", Path: "/oauth/token", Query: "grant_type=account_credentials&account_id=" + devAccountID,
		RequestHeader:  http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(devClientID+":"+devClientSecret))}},
		Status:         200,
		ResponseHeader: http.Header{"Cache-Control": {"no-store"}, "Content-Type": {"application/json"}},
		ResponseBody:   string(body),
	}})
	return tok
}

// open records a connection with tok and its successful build_connection.
func (b *session) open(at time.Duration, conn, tok string) {
	b.add(at, Record{Open: &WSOpen{Conn: conn, Path: "/ws", Query: "subscriptionId=" + devSubscriptionID + "&access_token=" + tok, Status: 101}})
	b.frame(at+6*time.Millisecond, conn, Server, `{"module":"build_connection","success":true,"content":"connected","header":{}}`)
}

func (b *session) frame(at time.Duration, conn string, from Side, payload string) {
	b.add(at, Record{Frame: &Frame{Conn: conn, From: from, Opcode: Text, Payload: payload}})
}

// heartbeats records a heartbeat every 30 s after opened, each answered 4 ms
// later, while before until.
func (b *session) heartbeats(conn string, opened, until time.Duration) {
	for at := opened + 30*time.Second; at < until; at += 30 * time.Second {
		b.frame(at, conn, Client, `{"module":"heartbeat"}`)
		b.frame(at+4*time.Millisecond, conn, Server, `{"module":"heartbeat","success":true,"content":"live","header":{}}`)
	}
}

var eventTSRE = regexp.MustCompile(`"event_ts":[0-9]+`)

// event records the delivery of the sample event name (edited by edit),
// stamped 150 ms before delivery and signed with the development secret
// token, as the mock would send it.
func (b *session) event(at time.Duration, conn, name string, edit *strings.Replacer) {
	sample, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if err != nil {
		b.t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, sample); err != nil {
		b.t.Fatalf("%s: %v", name, err)
	}
	content := eventTSRE.ReplaceAllString(compact.String(), `"event_ts":`+strconv.FormatInt(b.start.Add(at-150*time.Millisecond).UnixMilli(), 10))
	if edit != nil {
		content = edit.Replace(content)
	}
	ts := strconv.FormatInt(b.start.Add(at).Unix(), 10)
	mac := hmac.New(sha256.New, []byte(devSecretToken))
	fmt.Fprintf(mac, "v0:%s:%s", ts, content)
	track := sha256.Sum256([]byte(conn + name + at.String()))
	type header struct {
		Authorization string `json:"Authorization"`
		ClientID      string `json:"clientId"`
		TrackingID    string `json:"x-zm-trackingid"`
		Signature     string `json:"x-zm-signature"`
		Timestamp     string `json:"x-zm-request-timestamp"`
	}
	payload, _ := json.Marshal(struct {
		Module  string `json:"module"`
		Content string `json:"content"`
		Header  header `json:"header"`
	}{"message", content, header{devVerificationToken, devClientID, "EventService_" + hex.EncodeToString(track[:16]),
		"v0=" + hex.EncodeToString(mac.Sum(nil)), ts}})
	b.frame(at, conn, Server, string(payload))
}

// close records the end of conn: a close frame by who, or an abrupt drop
// when code is 0.
func (b *session) close(at time.Duration, conn string, by Side, code int, reason string) {
	b.add(at, Record{Close: &WSClose{Conn: conn, By: by, Code: code, Reason: reason, Abrupt: code == 0}})
}
