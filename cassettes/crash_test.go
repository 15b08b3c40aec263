package cassettes

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// crashPathEnv tells the helper process where to record.
const crashPathEnv = "ZOOMMOCK_CASSETTES_CRASH_PATH"

// crashRecord returns record i of the helper's endless recording: a
// connection, then heartbeats and events, every one different.
func crashRecord(i int) Record {
	at := time.Duration(i) * 10 * time.Millisecond
	switch {
	case i == 0:
		return Record{Offset: at, Open: &WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=s", Status: 101}}
	case i%2 == 1:
		return Record{Offset: at, Frame: &Frame{Conn: "c1", From: Client, Opcode: Text, Payload: heartbeat}}
	}
	return Record{Offset: at, Frame: &Frame{Conn: "c1", From: Server, Opcode: Text,
		Payload: fmt.Sprintf(`{"module":"message","content":"{\"event\":\"meeting.started\",\"event_ts\":%d}","header":{}}`, 1764770400000+i)}}
}

// runHelper is the body of the helper process (see TestMain): it records
// crashRecord(0), crashRecord(1), ... into the file named by crashPathEnv,
// printing "flushed N" whenever the first N records are flushed, until it
// is killed.
func runHelper(mode string) int {
	var opts []WriterOption
	every := 1
	if n, ok := strings.CutPrefix(mode, "every-"); ok {
		every, _ = strconv.Atoi(n)
		opts = append(opts, WithFlushEvery(every))
	}
	w, err := Create(os.Getenv(crashPathEnv), Header{Recorder: "crash helper"}, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; i < 100000; i++ {
		if err := w.Write(crashRecord(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if (i+1)%every == 0 {
			fmt.Fprintf(out, "flushed %d\n", i+1)
			out.Flush()
		}
		time.Sleep(100 * time.Microsecond)
	}
	return 0 // not reached in the test: it kills the helper long before
}

// TestCrashSafety kills a recording process with SIGKILL in the middle of
// writing and checks that every record it had flushed reads back, followed
// by ErrTruncated.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"every-1", "every-5"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			path := t.TempDir() + "/crash.cassette"
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"="+mode, crashPathEnv+"="+path)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			const target = 200
			flushed := 0
			sc := bufio.NewScanner(stdout)
			for flushed < target && sc.Scan() {
				n, _ := strings.CutPrefix(sc.Text(), "flushed ")
				flushed, _ = strconv.Atoi(n)
			}
			// The helper is still writing: kill it mid-stream.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if flushed < target {
				t.Fatalf("the helper stopped after %d records: %s", flushed, stderr.String())
			}

			h, got, err := ReadFile(path)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("error %v, want ErrTruncated (the stream was never closed)", err)
			}
			if h.Recorder != "crash helper" {
				t.Errorf("header = %+v", h)
			}
			if len(got) < flushed {
				t.Fatalf("read %d records, want at least the %d flushed before the kill", len(got), flushed)
			}
			want := make([]Record, len(got))
			for i := range want {
				want[i] = crashRecord(i)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("records differ (-want +got):\n%s", diff)
			}
			t.Logf("flushed %d, read back %d: %v", flushed, len(got), err)
		})
	}
}
