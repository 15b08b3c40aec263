package cassettes

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateValid(t *testing.T) {
	t.Parallel()
	data, h, recs := readSession(t)
	for name, input := range map[string][]byte{"plain": data, "compressed": encode(t, h, recs)} {
		if err := Validate(bytes.NewReader(input)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := ValidateRecords(recs); err != nil {
		t.Errorf("ValidateRecords: %v", err)
	}
}

// TestValidateReportsEveryProblem feeds a cassette with one problem of each
// kind and checks that each is reported once, in order, with its record,
// line and field.
func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		hdrLine,
		`{"at_us":100,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`,
		`{"at_us":50,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":"early"}`,
		`{"at_us":200,"kind":"frame","conn":"c2","direction":"client","opcode":"text","payload":"unopened"}`,
		`{"at_us":300,"kind":"frame","conn":"c1","direction":"up","opcode":"text","payload":"x"}`,
		``,
		`{"at_us":400,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`,
		`{"at_us":500,"kind":"ws_open","conn":"c3","path":"/ws","status":401}`,
		`{"at_us":600,"kind":"frame","conn":"c3","direction":"server","opcode":"text","payload":"refused"}`,
		`{"at_us":700,"kind":"close","conn":"c1","by":"server","code":1000}`,
		`{"at_us":800,"kind":"frame","conn":"c1","direction":"server","opcode":"text","payload":"late"}`,
		`{"at_us":900,"kind":"close","conn":"c1","by":"client","abrupt":true}`,
		`not json`,
		`{"at_us":1000,"kind":"http","method":"GET","path":"/","status":200}`,
		``,
	}, "\n")
	err := Validate(strings.NewReader(input))
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Validate = %v, want a *ValidationError", err)
	}
	if !errors.Is(err, ErrInvalidRecord) {
		t.Error("the error does not wrap ErrInvalidRecord")
	}
	var got []string
	for _, p := range verr.Problems {
		got = append(got, p.Error())
	}
	want := []string{
		`record 2 (line 3): field "at_us": offset 50 (50µs) is before the previous record's 100 (100µs): records must be in time order`,
		`record 3 (line 4): field "conn": a frame on connection "c2", which no earlier ws_open record opened`,
		`record 4 (line 5): field "direction": want "client" or "server", got "up"`,
		`record 5 (line 7): field "conn": connection "c1" was already opened at record 1; ids must be unique`,
		`record 7 (line 9): field "conn": a frame on connection "c3", whose upgrade at record 6 failed with status 401`,
		`record 9 (line 11): field "conn": a frame on connection "c1" after its close at record 8`,
		`record 10 (line 12): field "conn": a close on connection "c1" after its close at record 8`,
		`record 11 (line 13): malformed JSON at column 1: want '{', got 'n'`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "cassette has 8 problems:\nrecord 2 (line 3)") {
		t.Errorf("message starts %q", msg[:min(len(msg), 80)])
	}
}

func TestValidateCapsProblems(t *testing.T) {
	t.Parallel()
	lines := []string{hdrLine}
	for range MaxProblems + 50 {
		lines = append(lines, `{"at_us":1,"kind":"frame","conn":"nope","direction":"client","opcode":"text","payload":"x"}`)
	}
	err := Validate(strings.NewReader(strings.Join(lines, "\n")))
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != MaxProblems || verr.Omitted != 50 {
		t.Fatalf("Validate = %v", err)
	}
	if !strings.HasSuffix(err.Error(), "\n... and 50 more problems") || !strings.HasPrefix(err.Error(), "cassette has 150 problems:") {
		t.Errorf("message: ...%s", err.Error()[len(err.Error())-60:])
	}
}

func TestValidateTruncated(t *testing.T) {
	t.Parallel()
	_, h, recs := readSession(t)
	data := encode(t, h, recs)
	err := Validate(bytes.NewReader(data[:len(data)-20]))
	var verr *ValidationError
	if !errors.As(err, &verr) || !errors.Is(err, ErrTruncated) || errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Validate of a cut cassette = %v, want a *ValidationError wrapping ErrTruncated only", err)
	}
	if len(verr.Problems) != 0 || !strings.HasPrefix(err.Error(), "cassette truncated after record") {
		t.Errorf("message %q", err)
	}
	// Errors before the first record come as they are.
	if err := Validate(strings.NewReader("")); !errors.Is(err, ErrNotCassette) {
		t.Errorf("Validate of nothing = %v", err)
	}
}

func TestValidateRecords(t *testing.T) {
	t.Parallel()
	recs := []Record{
		{Offset: time.Second, Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}},
		{Frame: &Frame{Conn: "c1", From: Client, Opcode: Text}},
		{Offset: time.Second, Frame: &Frame{Conn: "c1", From: Client, Opcode: "ping"}},
	}
	err := ValidateRecords(recs)
	want := "cassette has 2 problems:\n" +
		`record 2 (line 3): field "at_us": offset 0 (0s) is before the previous record's 1000000 (1s): records must be in time order` + "\n" +
		`record 3 (line 4): field "opcode": want "text" or "binary", got "ping"`
	if err == nil || err.Error() != want {
		t.Errorf("ValidateRecords = %v\nwant %s", err, want)
	}
}
