package cassettes

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// edgeRecords exercises every field and the payloads that are hard to
// encode.
func edgeRecords() []Record {
	big := strings.Repeat(`{"module":"message","content":"x"}`, 6000) // > the 64 KiB read buffer
	return []Record{
		{Offset: 0, HTTP: &HTTPExchange{Method: "POST", Path: "/oauth/token", Query: "grant_type=client_credentials&x=%20y",
			RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Multi": {"a", "b"}},
			Form:          url.Values{"grant_type": {"account_credentials"}, "account_id": {"Q2k9"}},
			Status:        400, ResponseHeader: http.Header{"Content-Type": {"application/json"}},
			ResponseBody: `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`}},
		{Offset: time.Millisecond, HTTP: &HTTPExchange{Method: "POST", Path: "/oauth/token", RequestBody: `{"grant_type":"account_credentials"}`, Status: 400,
			ResponseBody: "unsupported grant type\n"}},
		{Offset: 2 * time.Millisecond, Open: &WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=abc&access_token=tok", Status: 101}},
		{Offset: 2 * time.Millisecond, Open: &WSOpen{Conn: "c2", Path: "/ws", Status: 401}},
		{Offset: 3 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: buildConnection}},
		{Offset: 4 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: "heartbeat"}},
		{Offset: 4 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: ""}},
		{Offset: 5 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: "{\"module\":\n\"heartbeat\"}"}},
		{Offset: 5 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: `{"module":"heartbeat"} `}},
		{Offset: 5 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: `{"module":"heart`}},
		{Offset: 5 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: `[1, 2,  {"a" : "b\u00e9\"<>&"}]`}},
		{Offset: 6 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: "tab\tquote\" back\\ nul\x00 del\x7f é 😀 \u2028\u2029 <>&"}},
		{Offset: 6 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: "not utf-8: \xff\xfe"}},
		{Offset: 7 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Binary, Payload: "\x00\x01\x02\xff"}},
		{Offset: 7 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Binary, Payload: ""}},
		{Offset: 8 * time.Millisecond, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: big}},
		{Offset: time.Hour, Close: &WSClose{Conn: "c1", By: Server, Code: 1000, Reason: "heartbeat timeout"}},
		{Offset: time.Hour, Open: &WSOpen{Conn: "c3", Path: "/ws", Status: 101}},
		{Offset: 2 * time.Hour, Close: &WSClose{Conn: "c3", By: Client, Abrupt: true}},
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	_, sessionHeader, session := readSession(t)
	tests := []struct {
		name string
		h    Header
		recs []Record
	}{
		{"session", sessionHeader, session},
		{"edge cases", testHeader, edgeRecords()},
		{"typical", testHeader, typicalRecording(t, 500, 7)},
		{"no records", Header{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := ValidateRecords(tt.recs); err != nil {
				t.Fatalf("the test records are invalid: %v", err)
			}
			want := tt.h
			want.Format, want.Version = FormatName, Version
			for _, enc := range []struct {
				name string
				data []byte
			}{
				{"compressed", encode(t, tt.h, tt.recs)},
				{"compressed, one flush", encode(t, tt.h, tt.recs, WithFlushEvery(0))},
				{"plain", plain(t, tt.h, tt.recs)},
			} {
				h, got := readAll(t, enc.data)
				if diff := cmp.Diff(want, h, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: header (-want +got):\n%s", enc.name, diff)
				}
				if diff := cmp.Diff(tt.recs, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: records (-want +got):\n%s", enc.name, diff)
				}
			}
		})
	}
}

// TestSessionFixtureIsCanonical checks that the Writer writes the
// hand-written fixture byte for byte: field order, omitted fields, embedded
// JSON payloads and base64 are as documented.
func TestSessionFixtureIsCanonical(t *testing.T) {
	t.Parallel()
	data, h, recs := readSession(t)
	if *update {
		data = plain(t, h, recs)
		if err := os.WriteFile("testdata/session.jsonl", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := plain(t, h, recs); !bytes.Equal(got, data) {
		t.Errorf("re-encoded fixture differs:\n got: %s\nwant: %s", got, data)
	}
	// The compressed form decompresses to the same text.
	var buf bytes.Buffer
	if err := Cat(&buf, bytes.NewReader(encode(t, h, recs))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("Cat of the compressed fixture differs:\n got: %s\nwant: %s", buf.Bytes(), data)
	}
}

// TestDocExamplesAreReal keeps the package documentation honest: every
// example line in doc.go is a line of the fixture, which the Writer writes
// byte for byte.
func TestDocExamplesAreReal(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	fixture, _, _ := readSession(t)
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		if ex, ok := strings.CutPrefix(line, "//\t{"); ok {
			n++
			if !bytes.Contains(fixture, []byte("{"+ex+"\n")) {
				t.Errorf("doc.go example is not a fixture line: {%s", ex)
			}
		}
	}
	if n < 8 {
		t.Errorf("found %d example lines in doc.go, want the header and one of each kind", n)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	recs := typicalRecording(t, 300, 3)
	for _, opts := range [][]WriterOption{nil, {WithFlushEvery(0)}, {WithFlushEvery(7)}} {
		a, b := encode(t, testHeader, recs, opts...), encode(t, testHeader, recs, opts...)
		if !bytes.Equal(a, b) {
			t.Errorf("two writes of the same records differ (%d and %d bytes)", len(a), len(b))
		}
	}
	// A closed file's bytes depend on the records only, not on how often
	// they were flushed.
	dir := t.TempDir()
	files := [][]byte{
		encodeFile(t, filepath.Join(dir, "every-record"), testHeader, recs),
		encodeFile(t, filepath.Join(dir, "every-5"), testHeader, recs, WithFlushEvery(5)),
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Errorf("closed files differ with the flush policy (%d and %d bytes)", len(files[0]), len(files[1]))
	}
}

func TestOffsetPrecision(t *testing.T) {
	t.Parallel()
	recs := []Record{
		{Offset: 1500*time.Microsecond + 999*time.Nanosecond, Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}},
	}
	_, got := readAll(t, encode(t, Header{}, recs))
	if want := 1500 * time.Microsecond; got[0].Offset != want {
		t.Errorf("offset = %v, want it truncated to %v", got[0].Offset, want)
	}
	if !bytes.Contains(plain(t, Header{}, recs), []byte(`{"at_us":1500,`)) {
		t.Errorf("offset not written as integer microseconds first: %s", plain(t, Header{}, recs))
	}
}

func TestEmbeddedPayloads(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    string // the payload field as written
	}{
		{`{"module":"heartbeat"}`, `"payload":{"module":"heartbeat"}`},
		{`[1,2]`, `"payload":[1,2]`},
		{`{ "a" : 1 }`, `"payload":{ "a" : 1 }`},
		{`{"a":1} `, `"payload":"{\"a\":1} "`},
		{"{\"a\":\n1}", `"payload":"{\"a\":\n1}"`},
		{`{"a":1`, `"payload":"{\"a\":1"`},
		{`{"a":1}{"b":2}`, `"payload":"{\"a\":1}{\"b\":2}"`},
		{`"quoted"`, `"payload":"\"quoted\""`},
		{`heartbeat`, `"payload":"heartbeat"`},
		{"{\"a\":\"\xff\"}", `"payload_b64":"eyJhIjoi/yJ9"`},
	}
	for _, tt := range tests {
		rec := Record{Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: tt.payload}}
		line := string(appendRecord(nil, rec))
		if !strings.Contains(line, ","+tt.want+"}") {
			t.Errorf("payload %q written as\n%s\nwant it to end with %s}", tt.payload, line, tt.want)
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("payload %q gives invalid JSON: %s", tt.payload, line)
		}
	}
}
