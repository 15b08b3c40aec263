package cassettes

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

const (
	hdrLine  = `{"format":"zoommock-cassette","version":"1.0"}`
	openLine = `{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`
	beatLine = `{"at_us":5,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":{"module":"heartbeat"}}`
)

func zstdCompress(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

func gzipCompress(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReaderInputs(t *testing.T) {
	t.Parallel()
	lines := func(ls ...string) []byte { return []byte(strings.Join(ls, "\n")) }
	tests := []struct {
		name    string
		input   []byte
		records int    // records returned before the error
		wantErr error  // nil for a clean end
		wantMsg string // substring of the error message
	}{
		{name: "empty", input: nil, wantErr: ErrNotCassette, wantMsg: "empty cassette: no header line"},
		{name: "empty compressed", input: zstdCompress(t, nil), wantErr: ErrNotCassette, wantMsg: "empty cassette: no header line"},
		{name: "only white space", input: []byte("  "), wantErr: ErrNotCassette, wantMsg: "empty cassette"},
		{name: "blank first line", input: lines("", hdrLine, ""), wantErr: ErrNotCassette, wantMsg: "line 1 is blank"},
		{name: "only header", input: lines(hdrLine, "")},
		{name: "only header, no newline", input: lines(hdrLine)},
		{name: "only header, compressed", input: zstdCompress(t, lines(hdrLine, ""))},
		{name: "garbage bytes", input: []byte("\x00\x01\x02\x03\xfe\xff binary garbage\x00\n"), wantErr: ErrNotCassette, wantMsg: `line 1: want a JSON header`},
		{name: "text", input: []byte("hello, world\n"), wantErr: ErrNotCassette, wantMsg: `got "hello, world"`},
		{name: "gzip", input: gzipCompress(t, lines(hdrLine, "")), wantErr: ErrNotCassette, wantMsg: "gzip-compressed"},
		{name: "JSON array", input: lines(`[1,2,3]`, ""), wantErr: ErrNotCassette, wantMsg: "want a JSON header"},
		{name: "wrong format", input: lines(`{"format":"go-vcr","version":"1.0"}`, ""), wantErr: ErrNotCassette, wantMsg: `field "format": want "zoommock-cassette", got "\"go-vcr\""`},
		{name: "no format", input: lines(`{"version":"1.0"}`, ""), wantErr: ErrNotCassette, wantMsg: `want "zoommock-cassette", got nothing`},
		{name: "newer major", input: lines(`{"format":"zoommock-cassette","version":"2.0"}`, openLine, ""), wantErr: ErrNewerVersion, wantMsg: "version 2.0 is newer than version 1.0 that this zoommock reads; upgrade zoommock"},
		{name: "newer major, other header shape", input: lines(`{"format":"zoommock-cassette","version":"3.1","meta":[1]}`, ""), wantErr: ErrNewerVersion, wantMsg: "upgrade zoommock"},
		{name: "older major", input: lines(`{"format":"zoommock-cassette","version":"0.9"}`, ""), wantErr: ErrInvalidRecord, wantMsg: `header (line 1): field "version": version 0.9 predates`},
		{name: "bad version", input: lines(`{"format":"zoommock-cassette","version":"one"}`, ""), wantErr: ErrInvalidRecord, wantMsg: `field "version": want "MAJOR.MINOR" such as "1.0", got "\"one\""`},
		{name: "version a number", input: lines(`{"format":"zoommock-cassette","version":1.0}`, ""), wantErr: ErrInvalidRecord, wantMsg: `field "version"`},
		{name: "bad created", input: lines(`{"format":"zoommock-cassette","version":"1.0","created":"yesterday"}`, ""), wantErr: ErrInvalidRecord, wantMsg: `field "created": want an RFC 3339 time`},
		{name: "meta not strings", input: lines(`{"format":"zoommock-cassette","version":"1.0","meta":{"n":1}}`, ""), wantErr: ErrInvalidRecord, wantMsg: `header (line 1): field "meta": want an object of strings, got a number in it`},
		{name: "unknown fields in a known version", input: lines(
			`{"format":"zoommock-cassette","version":"1.0","future":{"x":[1,{"y":null}]}}`,
			`{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","status":101,"tls":{"v":"1.3"},"n":-1.5e3,"ok":false,"nil":null}`,
			beatLine, ""), records: 2},
		{name: "newer minor skips unknown kinds", input: lines(
			`{"format":"zoommock-cassette","version":"1.9"}`, openLine,
			`{"at_us":3,"kind":"ping","conn":"c1","direction":"client"}`, beatLine, ""), records: 2},
		{name: "unknown kind in a known version", input: lines(hdrLine, openLine, `{"at_us":3,"kind":"ping"}`, ""), records: 1,
			wantErr: ErrInvalidRecord, wantMsg: `record 2 (line 3): field "kind": want "http", "ws_open", "frame" or "close", got "ping"`},
		{name: "truncated header", input: []byte(`{"format":"zoommock-cass`), wantErr: ErrTruncated, wantMsg: "truncated after record 0: the header line is incomplete"},
		{name: "truncated zstd magic", input: []byte{0x28, 0xB5}, wantErr: ErrTruncated, wantMsg: "truncated after record 0"},
		{name: "truncated last line", input: lines(hdrLine, openLine, beatLine[:40]), records: 1, wantErr: ErrTruncated, wantMsg: "cassette truncated after record 1: the last line is incomplete"},
		{name: "truncated inside an embedded payload", input: lines(hdrLine, openLine, beatLine[:len(beatLine)-3]), records: 1, wantErr: ErrTruncated, wantMsg: "truncated after record 1"},
		{name: "last line complete without newline", input: lines(hdrLine, openLine, beatLine), records: 2},
		{name: "bad last line without newline", input: lines(hdrLine, openLine, `{"at_us":x}`), records: 1, wantErr: ErrInvalidRecord, wantMsg: `record 2 (line 3): field "at_us": want an integer, got 'x'`},
		{name: "byte order mark", input: []byte("\xEF\xBB\xBF" + hdrLine + "\r\n" + openLine + "\r\n"), records: 1},
		{name: "CRLF line ends", input: []byte(hdrLine + "\r\n" + openLine + "\r\n" + beatLine + "\r\n"), records: 2},
		{name: "blank lines", input: lines(hdrLine, "", openLine, "   ", "", beatLine, "", ""), records: 2},
		{name: "blank lines count in line numbers", input: lines(hdrLine, "", openLine, "", `{"at_us":1,"kind":"frame"}`, ""), records: 1,
			wantErr: ErrInvalidRecord, wantMsg: `record 2 (line 5): field "payload": missing`},
		{name: "trailing garbage", input: lines(hdrLine, openLine+` {}`, ""), wantErr: ErrInvalidRecord, wantMsg: `record 1 (line 2): malformed JSON at column 68: unexpected '{' after the end of the record`},
		{name: "not an object", input: lines(hdrLine, `["at_us",1]`, ""), wantErr: ErrInvalidRecord, wantMsg: `record 1 (line 2): malformed JSON at column 1: want '{', got '['`},
		{name: "line too long", input: lines(hdrLine, `{"at_us":0,"kind":"http","body":"`+strings.Repeat("x", MaxLineSize)+`"}`, openLine, ""),
			wantErr: ErrInvalidRecord, wantMsg: "record 1 (line 2): line longer than 16777216 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, recs, err := ReadAll(bytes.NewReader(tt.input))
			if len(recs) != tt.records {
				t.Errorf("read %d records, want %d", len(recs), tt.records)
			}
			checkErr(t, err, tt.wantErr, tt.wantMsg)
		})
	}
}

// checkErr checks that err wraps want (nil: that err is nil) and contains
// msg.
func checkErr(t *testing.T, err, want error, msg string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("error = %v, want none", err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("error = %v, want one wrapping %v", err, want)
	case err != nil && !strings.Contains(err.Error(), msg):
		t.Errorf("error = %q, want it to contain %q", err, msg)
	}
}

// TestBadFieldValues checks that each bad value is reported with its record
// number, line number and field, in the words a person fixing the file
// needs.
func TestBadFieldValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want string
	}{
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"up","opcode":"text","payload":"x"}`, `field "direction": want "client" or "server", got "up"`},
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"ping","payload":"x"}`, `field "opcode": want "text" or "binary", got "ping"`},
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"text"}`, `field "payload": missing (a frame needs "payload" or "payload_b64")`},
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":"a","payload_b64":"YQ=="}`, `field "payload_b64": a frame has "payload" or "payload_b64", not both`},
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"binary","payload_b64":"%%%"}`, `field "payload_b64": invalid base64`},
		{`{"at_us":1,"kind":"frame","direction":"client","opcode":"text","payload":"x"}`, `field "conn": missing (a connection id such as "c1")`},
		{`{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":42}`, `field "payload": want a string, got a number`},
		{`{"kind":"ws_open","conn":"c1","path":"/ws","status":101}`, `field "at_us": missing (every record needs its offset in microseconds)`},
		{`{"at_us":"1s","kind":"ws_open","conn":"c1","path":"/ws","status":101}`, `field "at_us": want an integer, got a string`},
		{`{"at_us":1.5,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`, `field "at_us": want an integer, got 1.5`},
		{`{"at_us":-1,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`, `field "at_us": want a non-negative number of microseconds`},
		{`{"at_us":99999999999999999999,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`, `field "at_us": want an integer, got 99999999999999999999`},
		{`{"at_us":1,"conn":"c1","path":"/ws","status":101}`, `field "kind": missing`},
		{`{"at_us":1,"kind":"ws_open","conn":"c1","path":"/ws"}`, `field "status": missing`},
		{`{"at_us":1,"kind":"ws_open","conn":"c1","path":"/ws","status":"101"}`, `field "status": want an integer, got a string`},
		{`{"at_us":1,"kind":"ws_open","conn":"c1","path":"/ws","status":99}`, `field "status": want an HTTP status from 100 to 599 (101 for a successful upgrade), got 99`},
		{`{"at_us":1,"kind":"ws_open","conn":"c1","path":"/ws","status":4294967397}`, `field "status": number out of range: 4294967397`},
		{`{"at_us":1,"kind":"ws_open","conn":"c1","status":101}`, `field "path": missing`},
		{`{"at_us":1,"kind":"http","path":"/oauth/token","status":200}`, `field "method": missing`},
		{`{"at_us":1,"kind":"http","method":"POST","path":"/oauth/token","status":600}`, `field "status": want an HTTP status from 100 to 599, got 600`},
		{`{"at_us":1,"kind":"http","method":"POST","path":"/","status":200,"req_headers":["a"]}`, `field "req_headers": want an object of string arrays, got an array`},
		{`{"at_us":1,"kind":"http","method":"POST","path":"/","status":200,"resp_headers":{"A":[1]}}`, `field "resp_headers": want strings in the array of "A", got a number`},
		{`{"at_us":1,"kind":"http","method":"POST","path":"/","status":200,"form":{"a":true}}`, `field "form": want an array of strings for "a", got a boolean`},
		{`{"at_us":1,"kind":"http","method":"POST","path":"/","status":200,"body":true}`, `field "body": want a string, got a boolean`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"nobody","code":1000}`, `field "by": want "client" or "server", got "nobody"`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server"}`, `field "code": missing (a close needs a code, or "abrupt":true)`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server","code":999}`, `field "code": want a close code from 1000 to 4999, got 999`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server","code":1000,"abrupt":true}`, `field "code": an abrupt close (no close frame) has no code, got 1000`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server","abrupt":"yes"}`, `field "abrupt": want true or false, got a string`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server","code":1000,"reason":"\q"}`, `malformed JSON at column 75: invalid escape "\\q"`},
		{`{"at_us":1,"kind":"close","conn":"c1","by":"server","code":1000,"reason":"a` + "\x01" + `"}`, `malformed JSON at column 76: control character in string`},
		{`{"at_us":1,"kind":"close" "conn":"c1"}`, `malformed JSON at column 27: want ',' or '}' after object member, got '"'`},
		{`{"at_us":01,"kind":"close"}`, `malformed JSON at column 11: invalid number: leading zero`},
		{`{"at_us":1,"kind":"close","abrupt":tru}`, `malformed JSON at column 39: invalid literal, want true`},
	}
	for _, tt := range tests {
		input := strings.Join([]string{hdrLine, openLine, "", tt.line, beatLine, ""}, "\n")
		rd, err := NewReader(strings.NewReader(input))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Next(); err != nil {
			t.Fatalf("first record: %v", err)
		}
		_, err = rd.Next()
		var re *RecordError
		if !errors.As(err, &re) || !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("line %s\ngave error %v, want a *RecordError", tt.line, err)
		} else if want := "record 2 (line 4): " + tt.want; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("line %s\ngave %q\nwant %q", tt.line, err, want)
		}
		// The Reader moves on to the next line.
		if rec, err := rd.Next(); err != nil || rec.Frame == nil {
			t.Errorf("after the bad record: Next = %+v, %v; want the heartbeat", rec, err)
		}
		if _, err := rd.Next(); err != io.EOF {
			t.Errorf("at the end: error %v, want io.EOF", err)
		}
		rd.Close()
	}
}

// TestTruncatedCompressed cuts cassettes at every byte and checks that each
// prefix reads back cleanly up to some record and then reports the
// truncation: never a panic, never a corrupt or invented record, and every
// record whose flush ended before the cut is there.
func TestTruncatedCompressed(t *testing.T) {
	t.Parallel()
	_, h, session := readSession(t)
	// A record larger than a zstd block and the read buffers, cut more
	// coarsely.
	big := append(session[:3:3], edgeRecords()[15])
	big[3].Frame.Conn = "c1"
	big[3].Offset = session[2].Offset
	for _, tt := range []struct {
		name string
		recs []Record
		step int
	}{{"session", session, 1}, {"large record", big, 97}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkEveryCut(t, h, tt.recs, tt.step)
		})
	}
}

func checkEveryCut(t *testing.T, h Header, recs []Record, step int) {
	// Note where each flush ended.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	headerEnd := buf.Len()
	flushedAt := []int{}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		flushedAt = append(flushedAt, buf.Len())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	for cut := 0; cut < len(full); cut += step {
		_, got, err := ReadAll(bytes.NewReader(full[:cut]))
		if cut < headerEnd {
			if cut > 0 && !errors.Is(err, ErrTruncated) || cut == 0 && !errors.Is(err, ErrNotCassette) {
				t.Fatalf("cut at %d (inside the header): error %v, want ErrTruncated", cut, err)
			}
			continue
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: error %v, want ErrTruncated", cut, len(full), err)
		}
		flushed := 0
		for flushed < len(flushedAt) && flushedAt[flushed] <= cut {
			flushed++
		}
		if len(got) < flushed {
			t.Fatalf("cut at %d: read %d records, want the %d flushed before the cut", cut, len(got), flushed)
		}
		if diff := diffRecords(recs[:len(got)], got); diff != "" {
			t.Fatalf("cut at %d: records differ (-want +got):\n%s", cut, diff)
		}
		if want := "after record " + itoa(len(got)); !strings.Contains(err.Error(), want) {
			t.Fatalf("cut at %d: error %q does not say %q", cut, err, want)
		}
	}
	// The whole stream reads cleanly.
	if _, got, err := ReadAll(bytes.NewReader(full)); err != nil || len(got) != len(recs) {
		t.Fatalf("whole stream: %d records, %v", len(got), err)
	}
}

// TestTruncatedPlain cuts plain JSON lines at every byte.
func TestTruncatedPlain(t *testing.T) {
	t.Parallel()
	data, _, recs := readSession(t)
	// The first lines hold every kind of line end: a string, an embedded
	// payload, base64.
	data = data[:bytes.Index(data, []byte(`{"at_us":60412000,`))]
	headerEnd := bytes.IndexByte(data, '\n') + 1
	for cut := 0; cut <= len(data); cut++ {
		_, got, err := ReadAll(bytes.NewReader(data[:cut]))
		if cut == 0 {
			checkErr(t, err, ErrNotCassette, "empty")
			continue
		}
		if cut < headerEnd-1 {
			checkErr(t, err, ErrTruncated, "header line is incomplete")
			continue
		}
		complete := 0
		if cut > headerEnd {
			complete = bytes.Count(data[headerEnd:cut], []byte("\n"))
		}
		switch {
		case cut < headerEnd || data[cut-1] == '\n':
			if err != nil {
				t.Fatalf("cut at %d (a line end): %v", cut, err)
			}
		case data[cut-1] == '}' && (cut == len(data) || data[cut] == '\n'):
			// Just before a newline: the last record is complete.
			if err != nil {
				t.Fatalf("cut at %d (before a newline): %v", cut, err)
			}
			complete++
		default:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d: error %v, want ErrTruncated", cut, err)
			}
		}
		if len(got) != complete {
			t.Fatalf("cut at %d: read %d records, want %d", cut, len(got), complete)
		}
		if diff := diffRecords(recs[:len(got)], got); diff != "" {
			t.Fatalf("cut at %d: records differ (-want +got):\n%s", cut, diff)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadAllStopsAtFirstBadRecord(t *testing.T) {
	t.Parallel()
	// Enough records to span several parallel batches.
	recs := typicalRecording(t, 3000, 4)
	data := plain(t, Header{}, recs)
	lines := bytes.SplitAfter(data, []byte("\n"))
	for _, bad := range []int{1, 700, 1500, 2999} {
		broken := bytes.Join(append(append(append([][]byte{}, lines[:bad+1]...), []byte("{\"at_us\":1}\n")), lines[bad+1:]...), nil)
		_, got, err := ReadAll(bytes.NewReader(broken))
		want := "record " + itoa(bad+1) + " (line " + itoa(bad+2) + "): field \"kind\": missing"
		if err == nil || err.Error() != want {
			t.Errorf("bad record %d: error %v, want %q", bad+1, err, want)
		}
		if diff := diffRecords(recs[:bad], got); diff != "" {
			t.Errorf("bad record %d: records before it differ (-want +got):\n%s", bad+1, diff)
		}
	}
}

func TestOpenAndReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.cassette")
	_, h, recs := readSession(t)
	if err := os.WriteFile(path, encode(t, h, recs), 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Header().Recorder != h.Recorder {
		t.Errorf("header recorder = %q, want %q", rd.Header().Recorder, h.Recorder)
	}
	got, err := collect(rd)
	if err != io.EOF || len(got) != len(recs) {
		t.Errorf("read %d records, %v; want %d and io.EOF", len(got), err, len(recs))
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	if _, got, err := ReadFile(path); err != nil || len(got) != len(recs) {
		t.Errorf("ReadFile: %d records, %v", len(got), err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "failed to open cassette") {
		t.Errorf("Open of a missing file: %v", err)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadFile of a missing file: no error")
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "empty")); !errors.Is(err, ErrNotCassette) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Open of an empty file: %v", err)
	}
}

func TestConnectionsAndFrames(t *testing.T) {
	t.Parallel()
	_, _, recs := readSession(t)
	if got, want := Connections(recs), []string{"c1", "c2"}; !cmp.Equal(got, want) {
		t.Errorf("Connections = %v, want %v", got, want)
	}
	server := Frames(recs, "c1", Server)
	var offsets []time.Duration
	for _, r := range server {
		offsets = append(offsets, r.Offset)
	}
	want := []time.Duration{530 * time.Millisecond, 1200 * time.Millisecond, 30450 * time.Millisecond, 60450 * time.Millisecond}
	if !cmp.Equal(offsets, want) {
		t.Errorf("server frames of c1 at %v, want %v", offsets, want)
	}
	if n := len(Frames(recs, "c1", Client)); n != 3 {
		t.Errorf("client frames of c1: %d, want 3", n)
	}
	for _, r := range recs {
		if r.Kind() == "" {
			t.Errorf("record %+v has no kind", r)
		}
		if (r.HTTP != nil) != (r.Conn() == "") {
			t.Errorf("Conn() = %q for %+v", r.Conn(), r)
		}
	}
	if k := (Record{}).Kind(); k != "" {
		t.Errorf("empty record has kind %q", k)
	}
	if k := (Record{Open: &WSOpen{}, Close: &WSClose{}}).Kind(); k != "" {
		t.Errorf("record with two kinds has kind %q", k)
	}
}

// TestReadAllMatchesNext checks the parallel ReadAll against Next on inputs
// of several chunks: blank lines and CRLF across chunk boundaries, cuts and
// a bad record late in the file.
func TestReadAllMatchesNext(t *testing.T) {
	t.Parallel()
	recs := typicalRecording(t, 2500, 9) // about 1.7 MB: four chunks
	var lines [][]byte
	for i, l := range bytes.SplitAfter(plain(t, testHeader, recs), []byte("\n")) {
		switch i % 97 {
		case 5:
			l = append(bytes.TrimSuffix(l, []byte("\n")), "\r\n"...)
		case 6:
			lines = append(lines, []byte("\n"), []byte("  \n"))
		}
		lines = append(lines, l)
	}
	data := bytes.Join(lines, nil)
	late := bytes.LastIndex(data, []byte(`"direction":"client"`)) // the last heartbeat
	bad := slices.Concat(data[:late], []byte(`"direction":"up"`), data[late+len(`"direction":"client"`):])
	compressed := encode(t, testHeader, recs, WithFlushEvery(0))
	inputs := map[string][]byte{
		"plain":           data,
		"plain, cut":      data[:len(data)*2/3],
		"compressed":      compressed,
		"compressed, cut": compressed[:len(compressed)*2/3],
		"bad record":      bad,
	}
	for name, input := range inputs {
		rd, err := NewReader(bytes.NewReader(input))
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := collect(rd)
		rd.Close()
		if wantErr == io.EOF {
			wantErr = nil
		}
		_, got, err := ReadAll(bytes.NewReader(input))
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("%s: ReadAll error %v, Next error %v", name, err, wantErr)
		}
		if diff := diffRecords(want, got); diff != "" {
			t.Errorf("%s: ReadAll and Next disagree (-Next +ReadAll):\n%s", name, diff)
		}
		if name == "plain" && len(got) != len(recs) || name == "bad record" && (wantErr == nil || len(got) < len(recs)-10) {
			t.Errorf("%s: %d records, %v", name, len(got), err)
		}
	}
}
