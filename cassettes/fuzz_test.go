package cassettes

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzReader feeds arbitrary bytes, compressed or not, to the Reader. It must
// never panic or hang; every record it returns must be valid and survive a
// round trip; every line it accepts must be valid JSON; ReadAll must agree
// with Next.
//
// An input takes about a millisecond (a zstd decoder is set up each time),
// so the fuzzer's default of minimizing each new input for up to a minute
// leaves little time to fuzz; -fuzzminimizetime=5s explores far more:
//
//	go test -run '^$' -fuzz=FuzzReader -fuzztime=120s -fuzzminimizetime=5s ./cassettes
func FuzzReader(f *testing.F) {
	data, h, recs := readSession(f)
	compressed := encode(f, h, recs)
	f.Add(data)
	f.Add(compressed)
	f.Add(compressed[:len(compressed)/2])
	f.Add(encode(f, testHeader, edgeRecords()[:12], WithFlushEvery(0)))
	f.Add(plain(f, testHeader, edgeRecords()[:12]))
	f.Add([]byte(hdrLine))
	f.Add([]byte(hdrLine + "\n" + openLine + "\n" + beatLine[:50]))
	f.Add([]byte(`{"format":"zoommock-cassette","version":"1.3"}` + "\n" + `{"at_us":1,"kind":"new","x":[{"y":"\ud83d\ude00"}]}` + "\n"))
	f.Add([]byte(hdrLine + "\n" + `{"at_us":1,"kind":"frame","conn":"c1","direction":"client","opcode":"binary","payload_b64":"AAE="}` + "\r\n"))
	f.Add([]byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x58, 0x00, 0x00})
	f.Add([]byte("\x1f\x8b\x08\x00garbage"))
	f.Fuzz(func(t *testing.T, input []byte) {
		rd, err := NewReader(bytes.NewReader(input))
		if err != nil {
			return
		}
		defer rd.Close()
		var good []Record
		var firstErr error
		for range 100000 {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			var re *RecordError
			if errors.As(err, &re) {
				if re.Record < 1 || re.Line < 2 {
					t.Fatalf("bad position in %v", err)
				}
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("unexpected kind of error: %v", err)
				}
				if firstErr == nil {
					firstErr = err
				}
				break
			}
			if fe := checkRecord(rec); fe != nil {
				t.Fatalf("Next returned an invalid record %+v: %v", rec, fe)
			}
			if firstErr == nil {
				good = append(good, rec)
			}
			line := appendRecord(nil, rec)
			if !json.Valid(line) {
				t.Fatalf("record %+v encodes as invalid JSON: %s", rec, line)
			}
			var l lexer
			w, err := parseRecord(&l, line[:len(line)-1])
			if err != nil {
				t.Fatalf("re-encoded record does not parse: %v\n%s", err, line)
			}
			again, _, ferr := w.record(&l)
			if ferr != nil {
				t.Fatalf("re-encoded record is invalid: %v\n%s", ferr, line)
			}
			if diff := cmp.Diff(rec, again, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round trip changed the record (-read +again):\n%s", diff)
			}
		}
		// ReadAll returns the records before the first error, and that error.
		_, all, err := ReadAll(bytes.NewReader(input))
		if diff := cmp.Diff(good, all, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("ReadAll and Next disagree (-Next +ReadAll):\n%s", diff)
		}
		if (err == nil) != (firstErr == nil) || err != nil && err.Error() != firstErr.Error() {
			t.Fatalf("ReadAll error %v, Next error %v", err, firstErr)
		}
		// Only valid JSON is accepted.
		if !bytes.HasPrefix(input, zstdMagic) {
			for _, line := range bytes.Split(input, []byte("\n")) {
				var l lexer
				if _, err := parseRecord(&l, line); err == nil && !json.Valid(line) {
					t.Fatalf("accepted a line encoding/json rejects: %q", line)
				}
			}
		}
	})
}

// FuzzJSONString compares the lexer's string decoding with encoding/json.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`plain`, `esc \" \\ \/ \b \f \n \r \t`, `\u00e9\u2028\ud83d\ude00`, `\ud800 lone`, `\uDFFF\uD800x`, `bad \x`, `ctl ` + "\x01", `é😀`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		quoted := []byte(`"` + body + `"`)
		var want string
		jsonErr := json.Unmarshal(quoted, &want)
		l := lexer{b: quoted}
		got, err := l.stringBytes()
		if err == nil && l.i != len(quoted) {
			// The string ended early at an unescaped quote in body.
			if json.Valid(quoted[:l.i]) {
				return
			}
			t.Fatalf("lexer accepted %q up to %d, which encoding/json rejects", quoted, l.i)
		}
		if (err == nil) != (jsonErr == nil) {
			t.Fatalf("lexer error %v, encoding/json error %v, for %q", err, jsonErr, quoted)
		}
		if err == nil && textString(got) != want {
			t.Fatalf("lexer %q, encoding/json %q, for %q", got, want, quoted)
		}
		// skipString agrees on where the string ends.
		s := lexer{b: quoted}
		serr := s.skipString()
		if (serr == nil) != (err == nil) || err == nil && s.i != l.i {
			t.Fatalf("skipString ends at %d (%v), stringBytes at %d (%v), for %q", s.i, serr, l.i, err, quoted)
		}
		// appendString writes what encoding/json reads back.
		if utf8.ValidString(body) {
			var back string
			if err := json.Unmarshal(appendString(nil, body), &back); err != nil || back != body {
				t.Fatalf("appendString(%q) reads back as %q, %v", body, back, err)
			}
		}
	})
}

// FuzzRedactor checks that redaction never panics on arbitrary payloads, is
// idempotent, and leaves no registered secret.
func FuzzRedactor(f *testing.F) {
	_, _, recs := readSession(f)
	for _, r := range recs {
		if r.Frame != nil {
			f.Add(r.Frame.Payload, "zqxjkvbw")
		}
	}
	f.Add(`{"a":"zqxjkvbw","content":"{\"access_token\":\"zqxjkvbw\"}"}`, "zqxjkvbw")
	f.Add(`access_token=abc&client_secret=def`, "abcdefgh")
	f.Fuzz(func(t *testing.T, payload, secret string) {
		if len(secret) < 8 || strings.Trim(secret, "abcdefghijklmnopqrstuvwxyz") != "" {
			return // see below: only secrets no placeholder can touch
		}
		r := NewRedactor(WithSecrets(secret), WithPseudonyms())
		rec := Record{Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: payload}}
		once := r.Redact(rec)
		if twice := r.Redact(once); twice.Frame.Payload != once.Frame.Payload {
			t.Fatalf("not idempotent:\n once %q\ntwice %q", once.Frame.Payload, twice.Frame.Payload)
		}
		if strings.Contains(once.Frame.Payload, secret) {
			t.Fatalf("secret %q left in %q", secret, once.Frame.Payload)
		}
		if validJSON([]byte(payload)) && !validJSON([]byte(once.Frame.Payload)) {
			t.Fatalf("redaction broke the JSON: %q", once.Frame.Payload)
		}
	})
}
