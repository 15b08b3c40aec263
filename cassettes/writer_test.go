package cassettes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.cassette")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing recorded yet, and already a readable cassette.
	if h, recs, err := ReadFile(path); err != nil && !errors.Is(err, ErrTruncated) || len(recs) != 0 || h.Recorder != testHeader.Recorder {
		t.Errorf("fresh file: %+v, %d records, %v", h, len(recs), err)
	}
	if err := w.Write(Record{Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, recs, err := ReadFile(path); err != nil || len(recs) != 1 {
		t.Errorf("closed file: %d records, %v", len(recs), err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) > 0 {
		t.Errorf("compaction left files behind: %v", leftovers)
	}

	_, err = Create(path, testHeader)
	checkErr(t, err, ErrExists, "failed to create cassette "+path+": cassette already exists")
	if _, recs, _ := ReadFile(path); len(recs) != 1 {
		t.Errorf("the refused Create changed the file: %d records", len(recs))
	}

	w, err = Create(path, testHeader, WithForce())
	if err != nil {
		t.Fatalf("Create with WithForce: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, recs, err := ReadFile(path); err != nil || len(recs) != 0 {
		t.Errorf("overwritten file: %d records, %v", len(recs), err)
	}

	// Unwritable paths fail at once, naming the cause.
	for _, bad := range []string{filepath.Join(dir, "missing", "x.cassette"), dir} {
		if w, err := Create(bad, testHeader, WithForce()); err == nil {
			w.Close()
			t.Errorf("Create(%q) succeeded", bad)
		} else if !strings.HasPrefix(err.Error(), "failed to create cassette") {
			t.Errorf("Create(%q): %v", bad, err)
		}
	}
}

func TestWriterRejectsInvalidRecords(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	open := Record{Offset: time.Second, Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}}
	if err := w.Write(open); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rec  Record
		want string
	}{
		{Record{}, `record 2 (line 3): field "kind": a record needs exactly one of HTTP, Open, Frame or Close`},
		{Record{Open: &WSOpen{Conn: "c2"}, Close: &WSClose{Conn: "c2"}}, `field "kind": a record needs exactly one`},
		{Record{Offset: -time.Second, Open: &WSOpen{Conn: "c2", Path: "/ws", Status: 101}}, `field "at_us": negative offset -1s`},
		{Record{Offset: time.Millisecond, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text}}, `field "at_us": offset 1000 (1ms) is before the previous record's 1000000 (1s): records must be in time order`},
		{Record{Offset: 2 * time.Second, Frame: &Frame{Conn: "c9", From: Client, Opcode: Text}}, `field "conn": a frame on connection "c9", which no earlier ws_open record opened`},
		{Record{Offset: 2 * time.Second, Frame: &Frame{Conn: "c1", From: "up", Opcode: Text}}, `field "direction": want "client" or "server", got "up"`},
		{Record{Offset: 2 * time.Second, Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}}, `field "conn": connection "c1" was already opened at record 1; ids must be unique`},
		{Record{Offset: 2 * time.Second, Close: &WSClose{Conn: "c1", By: Server, Code: 1}}, `field "code": want a close code from 1000 to 4999, got 1`},
	}
	for _, tt := range tests {
		err := w.Write(tt.rec)
		var re *RecordError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%+v) = %v, want a *RecordError containing %q", tt.rec, err, tt.want)
		}
	}
	// Rejected records left no trace; the Writer goes on.
	if err := w.Write(Record{Offset: 2 * time.Second, Close: &WSClose{Conn: "c1", By: Server, Code: 1000}}); err != nil {
		t.Fatal(err)
	}
	if w.Records() != 2 {
		t.Errorf("Records() = %d, want 2", w.Records())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Validate(bytes.NewReader(buf.Bytes())); err != nil {
		t.Errorf("the result is invalid: %v", err)
	}
	if err := w.Write(open); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestWriterFlushPolicy(t *testing.T) {
	t.Parallel()
	rec := func(i int) Record {
		if i == 0 {
			return Record{Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}}
		}
		return Record{Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: heartbeat}}
	}
	count := func(data []byte) int {
		_, recs, _ := ReadAll(bytes.NewReader(data))
		return len(recs)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader, WithFlushEvery(3))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := w.Write(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(buf.Bytes()); n != 3 {
		t.Errorf("after 5 writes, flushing every 3: %d records readable, want 3", n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := count(buf.Bytes()); n != 5 {
		t.Errorf("after Flush: %d records readable, want 5", n)
	}
	w.Close()

	buf.Reset()
	w, _ = NewWriter(&buf, testHeader)
	for i := range 4 {
		w.Write(rec(i))
		if n := count(buf.Bytes()); n != i+1 {
			t.Errorf("by default, after write %d: %d records readable", i+1, n)
		}
	}
	w.Close()
}

// failingWriter fails after n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterIOError(t *testing.T) {
	t.Parallel()
	if _, err := NewWriter(&failingWriter{}, testHeader); err == nil || !strings.Contains(err.Error(), "failed to write the header") {
		t.Errorf("NewWriter on a failing writer: %v", err)
	}
	w, err := NewWriter(&failingWriter{n: 200}, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; werr == nil && i < 100; i++ {
		werr = w.Write(crashRecord(i))
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk full") {
		t.Fatalf("Write never reported the failure: %v", werr)
	}
	if err := w.Write(crashRecord(50)); err != werr {
		t.Errorf("the error is not sticky: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a failed write: no error")
	}
}

func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader, WithFlushEvery(10))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				payload := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				if err := w.Write(Record{Offset: time.Second, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: payload}}); err != nil {
					t.Error(err)
				}
				if i%7 == 0 {
					w.Flush()
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, recs := readAll(t, buf.Bytes())
	if len(recs) != 201 {
		t.Errorf("read %d records, want 201", len(recs))
	}
}

func TestCreateKeepsPermissionsWhenCompacting(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "p.cassette")
	w, err := Create(path, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for i := range 100 {
		recs = append(recs, crashRecord(i))
	}
	for _, r := range recs[:99] {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.Stat(path)
	writeAndClose(t, w, recs[99:])
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if before.Mode() != after.Mode() {
		t.Errorf("mode changed from %v to %v", before.Mode(), after.Mode())
	}
	if after.Size() >= before.Size() {
		t.Errorf("compaction did not shrink the file: %d bytes, then %d", before.Size(), after.Size())
	}
}
