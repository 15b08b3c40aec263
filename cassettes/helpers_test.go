package cassettes

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
)

// helperEnv selects a helper-process mode when the test binary re-executes
// itself (see TestCrashSafety).
const helperEnv = "ZOOMMOCK_CASSETTES_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	// While fuzzing, the fuzzing engine's own goroutines may still be
	// winding down when m.Run returns; goleak checks the ordinary runs.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// testHeader is the header most tests write.
var testHeader = Header{
	Created:  time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC),
	Recorder: "cassettes test",
	Meta:     map[string]string{"case": "unit"},
}

// readSession returns the hand-written fixture, which holds every kind of
// record and is in canonical form.
func readSession(t testing.TB) ([]byte, Header, []Record) {
	t.Helper()
	data, err := os.ReadFile("testdata/session.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	h, recs, err := ReadAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("failed to read the session fixture: %v", err)
	}
	return data, h, recs
}

// encode writes recs as a cassette with opts.
func encode(t testing.TB, h Header, recs []Record, opts ...WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	writeAndClose(t, w, recs)
	return buf.Bytes()
}

// encodeFile records recs into a file as Create does and returns its bytes.
func encodeFile(t testing.TB, path string, h Header, recs []Record, opts ...WriterOption) []byte {
	t.Helper()
	w, err := Create(path, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	writeAndClose(t, w, recs)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeAndClose(t testing.TB, w *Writer, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// plain returns recs as uncompressed JSON lines.
func plain(t testing.TB, h Header, recs []Record) []byte {
	t.Helper()
	b, err := appendHeader(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return b
}

// readAll reads data and fails the test on any error.
func readAll(t testing.TB, data []byte) (Header, []Record) {
	t.Helper()
	h, recs, err := ReadAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	return h, recs
}

// eventSamples returns the inner Zoom events in testdata/events.
func eventSamples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no event samples: %v", err)
	}
	var evs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, string(bytes.TrimSpace(b)))
	}
	return evs
}

// envelopeFrame wraps an inner event as Zoom delivers it, header keys in
// Zoom's order.
func envelopeFrame(content, verification, trackingID, signature string, ts int64) string {
	return `{"module":"message","content":` + jsonString(content) + `,"header":{"Authorization":` + jsonString(verification) +
		`,"clientId":"Zx8pQwErTyUiOpAsDfGh1A","x-zm-trackingid":` + jsonString(trackingID) +
		`,"x-zm-signature":` + jsonString(signature) + `,"x-zm-request-timestamp":"` + fmt.Sprint(ts) + `"}}`
}

// jsonString quotes s as encoding/json does, without HTML escaping.
func jsonString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

const (
	heartbeat       = `{"module":"heartbeat"}`
	heartbeatAnswer = `{"module":"heartbeat","success":true,"content":"live","header":{}}`
	buildConnection = `{"module":"build_connection","success":true,"content":"connected","header":{}}`
)

// typicalRecording builds n records of a typical direct-mode recording, the
// workload of the benchmarks: a token exchange and a connection every hour,
// a heartbeat (and its answer) every 30 s, and events from the samples at
// random, on average one every 10 s, each with fresh meeting ids, times,
// tracking ids and signatures. Deterministic for a seed.
func typicalRecording(t testing.TB, n int, seed uint64) []Record {
	t.Helper()
	samples := eventSamples(t)
	rng := rand.New(rand.NewPCG(seed, seed))
	hex := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte("0123456789abcdef"[rng.IntN(16)])
		}
		return b.String()
	}
	recs := make([]Record, 0, n)
	var at time.Duration
	conn := 0
	connID := ""
	nextBeat, nextEvent := time.Duration(0), time.Duration(0)
	add := func(r Record) {
		r.Offset = r.Offset.Truncate(time.Microsecond) // as the Writer stores it
		if len(recs) < n {
			recs = append(recs, r)
		}
	}
	for len(recs) < n {
		if connID == "" || at >= time.Duration(conn)*time.Hour {
			if connID != "" {
				add(Record{Offset: at, Close: &WSClose{Conn: connID, By: Server, Code: 1001, Reason: "token expired"}})
			}
			conn++
			connID = fmt.Sprintf("c%d", conn)
			token := "eyJ" + hex(40)
			add(Record{Offset: at, HTTP: &HTTPExchange{Method: "POST", Path: "/oauth/token",
				Query:          "grant_type=account_credentials&account_id=Q2k9mXr4TzWv8aLpN3bYcA",
				RequestHeader:  http.Header{"Authorization": {"Basic REDACTED-BASIC-1"}},
				Status:         200,
				ResponseHeader: http.Header{"Content-Type": {"application/json"}},
				ResponseBody:   `{"access_token":"` + token + `","token_type":"bearer","expires_in":3599,"scope":"marketplace:read:list_apps"}`}})
			add(Record{Offset: at + 300*time.Millisecond, Open: &WSOpen{Conn: connID, Path: "/ws", Query: "subscriptionId=9Xq2LmT4RzWv8aLpN3bYcA&access_token=" + token, Status: 101}})
			add(Record{Offset: at + 400*time.Millisecond, Frame: &Frame{Conn: connID, From: Server, Opcode: Text, Payload: buildConnection}})
			at += 400 * time.Millisecond
			nextBeat, nextEvent = at+30*time.Second, at+time.Duration(rng.ExpFloat64()*float64(10*time.Second))
			continue
		}
		if nextBeat <= nextEvent {
			at = nextBeat
			add(Record{Offset: at, Frame: &Frame{Conn: connID, From: Client, Opcode: Text, Payload: heartbeat}})
			at += time.Duration(20+rng.IntN(40)) * time.Millisecond
			add(Record{Offset: at, Frame: &Frame{Conn: connID, From: Server, Opcode: Text, Payload: heartbeatAnswer}})
			nextBeat += 30*time.Second + time.Duration(rng.IntN(200))*time.Millisecond
			continue
		}
		at = max(at, nextEvent)
		ts := int64(1764770400000) + at.Milliseconds()
		ev := samples[rng.IntN(len(samples))]
		ev = strings.Replace(ev, "84512093377", fmt.Sprint(84512000000+rng.IntN(100000)), -1)
		ev = replaceNumberAfter(ev, `"event_ts":`, ts)
		add(Record{Offset: at, Frame: &Frame{Conn: connID, From: Server, Opcode: Text,
			Payload: envelopeFrame(ev, "REDACTED-VERIFICATION-1", "EventService_"+hex(32), "v0="+hex(64), ts/1000)}})
		nextEvent = at + time.Duration(rng.ExpFloat64()*float64(10*time.Second))
	}
	return recs
}

// replaceNumberAfter replaces the integer after key in s by v.
func replaceNumberAfter(s, key string, v int64) string {
	i := strings.Index(s, key)
	if i < 0 {
		return s
	}
	j := i + len(key)
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	return s[:j] + fmt.Sprint(v) + s[k:]
}

// jsonLinesSize is the size of recs as JSON lines: the unit of the
// throughput figures.
func jsonLinesSize(t testing.TB, recs []Record) int {
	return len(plain(t, Header{}, recs))
}

// collect reads every record from r until an error, which it returns
// (io.EOF included).
func collect(r *Reader) ([]Record, error) {
	var recs []Record
	for {
		rec, err := r.Next()
		if err != nil {
			return recs, err
		}
		recs = append(recs, rec)
	}
}

// diffRecords is cmp.Diff for records, fast when they are equal (go-cmp is
// slow on large payloads, and some tests compare thousands of times): equal
// records have equal encodings.
func diffRecords(want, got []Record) string {
	if len(want) == len(got) {
		equal := true
		for i := range want {
			if !bytes.Equal(appendRecord(nil, want[i]), appendRecord(nil, got[i])) {
				equal = false
				break
			}
		}
		if equal {
			return ""
		}
	}
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}
