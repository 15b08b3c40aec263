package cassettes

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCat(t *testing.T) {
	t.Parallel()
	data, h, recs := readSession(t)
	compressed := encode(t, h, recs)
	for name, input := range map[string][]byte{"compressed": compressed, "plain": data} {
		var out bytes.Buffer
		if err := Cat(&out, bytes.NewReader(input)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("%s: Cat wrote\n%s\nwant\n%s", name, out.Bytes(), data)
		}
	}
	// A damaged record is copied, not judged; a cut stream is copied up to
	// its last complete line.
	damaged := append(bytes.Clone(data), []byte("{\"at_us\":\"oops\"}\n")...)
	var out bytes.Buffer
	if err := Cat(&out, bytes.NewReader(damaged)); err != nil || !bytes.Equal(out.Bytes(), damaged) {
		t.Errorf("Cat of a damaged file: %v", err)
	}
	out.Reset()
	err := Cat(&out, bytes.NewReader(compressed[:len(compressed)-10]))
	if !errors.Is(err, ErrTruncated) || !bytes.HasPrefix(data, out.Bytes()) || !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		t.Errorf("Cat of a cut file: %v, wrote %d of %d bytes", err, out.Len(), len(data))
	}
	if err := Cat(&out, strings.NewReader("")); !errors.Is(err, ErrNotCassette) {
		t.Errorf("Cat of nothing: %v", err)
	}
}

func TestPack(t *testing.T) {
	t.Parallel()
	data, h, recs := readSession(t)
	var packed bytes.Buffer
	if err := Pack(&packed, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	gotH, got := readAll(t, packed.Bytes())
	if diff := cmp.Diff(recs, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("packed records differ (-want +got):\n%s", diff)
	}
	if gotH.Recorder != h.Recorder || !gotH.Created.Equal(h.Created) {
		t.Errorf("packed header = %+v, want %+v", gotH, h)
	}
	if packed.Len() > len(data)/2 {
		t.Errorf("packed %d bytes into %d", len(data), packed.Len())
	}
	// Packing a cassette again gives the same bytes.
	var again bytes.Buffer
	if err := Pack(&again, bytes.NewReader(packed.Bytes())); err != nil || !bytes.Equal(again.Bytes(), packed.Bytes()) {
		t.Errorf("repacking changed the bytes: %v", err)
	}

	// Pack checks as it goes, numbering records as in its input.
	bad := strings.Join([]string{hdrLine, openLine, "", strings.Replace(beatLine, `"c1"`, `"c7"`, 1), ""}, "\n")
	err := Pack(&bytes.Buffer{}, strings.NewReader(bad))
	if want := `failed to pack: record 2 (line 4): field "conn": a frame on connection "c7", which no earlier ws_open record opened`; err == nil || err.Error() != want {
		t.Errorf("Pack of a bad file: %v\nwant %s", err, want)
	}
	err = Pack(&bytes.Buffer{}, strings.NewReader(`{"format":"zoommock-cassette","version":"1.1"}`+"\n"))
	checkErr(t, err, ErrNewerVersion, "version 1.1 cassette would lose what version 1.0 does not know; upgrade zoommock")
	if err := Pack(&bytes.Buffer{}, strings.NewReader("")); !errors.Is(err, ErrNotCassette) {
		t.Errorf("Pack of nothing: %v", err)
	}
	// Pack can redact on the way.
	raw := plain(t, testHeader, rawSession(t))
	var redacted bytes.Buffer
	if err := Pack(&redacted, bytes.NewReader(raw), WithRedactor(NewRedactor(WithSecrets(secretToken)))); err != nil {
		t.Fatal(err)
	}
	if found, _ := ContainsAny(redacted.Bytes(), allSecrets()...); len(found) > 0 {
		t.Errorf("Pack with a Redactor left %q", found)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	data, _, _ := readSession(t)
	s, err := Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		Records: 14, Duration: 3600500 * time.Millisecond,
		HTTPExchanges: 2, TokenRequests: 2,
		Connections: []ConnSummary{
			{ID: "c1", Path: "/ws", Status: 101, Opened: 412 * time.Millisecond, ClientFrames: 3, ServerFrames: 4, Events: 1,
				Close: &WSClose{Conn: "c1", By: Server, Code: 1001, Reason: "going away"}, ClosedAt: time.Hour},
			{ID: "c2", Path: "/ws", Status: 101, Opened: 3500400 * time.Millisecond, ServerFrames: 1,
				Close: &WSClose{Conn: "c2", By: Client, Abrupt: true}, ClosedAt: 3600500 * time.Millisecond},
		},
		Events:     []EventCount{{"meeting.started", 1}},
		Heartbeats: HeartbeatStats{Count: 2, Answers: 2, Mean: 30 * time.Second, Min: 30 * time.Second, Max: 30 * time.Second},
	}
	if diff := cmp.Diff(want, s, cmpopts.IgnoreFields(Summary{}, "Header")); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	// A typical recording: events by type, most frequent first, heartbeat
	// cadence across connections.
	recs := typicalRecording(t, 1500, 5)
	s, err = Inspect(bytes.NewReader(encode(t, testHeader, recs)))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, e := range s.Events {
		total += e.Count
		if i > 0 && e.Count > s.Events[i-1].Count {
			t.Errorf("events not sorted: %v", s.Events)
		}
	}
	if len(s.Events) != 7 || total < 500 || s.Heartbeats.Min < 30*time.Second || s.Heartbeats.Max > 31*time.Second || len(s.Connections) < 2 {
		t.Errorf("summary of a typical recording:\n%s", s)
	}

	// A cut cassette: the summary so far, and the error.
	full := encode(t, testHeader, recs)
	s, err = Inspect(bytes.NewReader(full[:len(full)/2]))
	if !errors.Is(err, ErrTruncated) || s.Records == 0 || s.Records >= len(recs) {
		t.Errorf("Inspect of a cut cassette: %d records, %v", s.Records, err)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	data, h, recs := readSession(t)
	// Another recording of the same session: other timing, other creation
	// time, other placeholder numbers, other tracking ids and signatures.
	other := make([]Record, len(recs))
	for i, r := range recs {
		r.Offset += time.Duration(i) * 7 * time.Millisecond
		switch {
		case r.Frame != nil:
			f := *r.Frame
			f.Payload = strings.NewReplacer("EventService_3f1c", "EventService_9999", "v0=9b1f", "v0=0000", `"1764770400"`, `"1764770999"`, "VERIFICATION-1", "VERIFICATION-4").Replace(f.Payload)
			r.Frame = &f
		case r.Open != nil:
			o := *r.Open
			o.Query = strings.NewReplacer("TOKEN-1", "TOKEN-8", "TOKEN-2", "TOKEN-9").Replace(o.Query)
			r.Open = &o
		case r.HTTP != nil:
			x := *r.HTTP
			x.ResponseHeader = x.ResponseHeader.Clone()
			x.ResponseHeader.Set("Date", time.Now().Format(http.TimeFormat))
			x.ResponseBody = strings.NewReplacer("TOKEN-1", "TOKEN-8", "TOKEN-2", "TOKEN-9").Replace(x.ResponseBody)
			r.HTTP = &x
		}
		other[i] = r
	}
	otherHeader := h
	otherHeader.Created = h.Created.Add(time.Hour)
	otherHeader.Recorder = "zoommock 9.9"
	otherData := encode(t, otherHeader, other)
	diff, err := Diff(bytes.NewReader(data), bytes.NewReader(otherData))
	if err != nil || diff != "" {
		t.Errorf("Diff of two recordings of the same session = %v:\n%s", err, diff)
	}

	// A different event time is a difference, and the report names it.
	changed := append([]Record(nil), other...)
	f := *changed[3].Frame
	f.Payload = strings.Replace(f.Payload, "1764770400123", "1764770400124", 1)
	changed[3].Frame = &f
	diff, err = Diff(bytes.NewReader(data), bytes.NewReader(encode(t, otherHeader, changed)))
	if err != nil || !strings.Contains(diff, `"event_ts": s"1764770400123"`) || !strings.Contains(diff, `"event_ts": s"1764770400124"`) {
		t.Errorf("Diff with another event_ts = %v:\n%s", err, diff)
	}

	// A missing record and other meta are differences.
	otherHeader.Meta = map[string]string{"app": "other"}
	diff, err = Diff(bytes.NewReader(data), bytes.NewReader(encode(t, otherHeader, other[:len(other)-1])))
	if err != nil || !strings.Contains(diff, `"app": "billing-sync"`) || !strings.Contains(diff, `Abrupt: true`) {
		t.Errorf("Diff with a missing record = %v:\n%s", err, diff)
	}

	if _, err := Diff(strings.NewReader(""), bytes.NewReader(data)); !errors.Is(err, ErrNotCassette) || !strings.Contains(err.Error(), "first cassette") {
		t.Errorf("Diff with an empty first cassette: %v", err)
	}
	if _, err := Diff(bytes.NewReader(data), bytes.NewReader(otherData[:len(otherData)-9])); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "second cassette") {
		t.Errorf("Diff with a cut second cassette: %v", err)
	}
}

// A plain cassette cut mid-line cats to its complete lines only, so that cat | pack recovers it.
func TestCatLeavesOutACutLastLine(t *testing.T) {
	t.Parallel()
	full := "{\"format\":\"zoommock-cassette\",\"version\":\"1.0\"}\n" +
		"{\"at_us\":0,\"kind\":\"ws_open\",\"conn\":\"c1\",\"path\":\"/ws\",\"status\":101}\n" +
		"{\"at_us\":5,\"kind\":\"frame\",\"conn\":\"c1\",\"direction\":\"client\",\"opcode\":\"text\",\"payload\":{\"module\":\"heartbeat\"}}\n"
	cut := full[:len(full)-20]
	var out bytes.Buffer
	err := Cat(&out, strings.NewReader(cut))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "after record 1: the last line") {
		t.Errorf("Cat error = %v", err)
	}
	want := full[:strings.Index(full, "{\"at_us\":5")]
	if out.String() != want {
		t.Errorf("Cat wrote %q, want %q", out.String(), want)
	}
	var packed bytes.Buffer
	if err := Pack(&packed, strings.NewReader(out.String())); err != nil {
		t.Errorf("Pack of the recovered lines: %v", err)
	}
	// A hand-written file whose last (valid) line has no newline is not a cut.
	out.Reset()
	if err := Cat(&out, strings.NewReader(strings.TrimSuffix(full, "\n"))); err != nil || out.String() != full {
		t.Errorf("unterminated valid last line: %v, %q", err, out.String())
	}
}
