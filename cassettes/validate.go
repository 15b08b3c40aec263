package cassettes

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxProblems is how many problems Validate lists before it stops counting
// details; a cassette broken on every line needs no 100,000-line report.
const MaxProblems = 100

// ValidationError lists the problems Validate found, in file order.
type ValidationError struct {
	// Problems holds at most MaxProblems record problems.
	Problems []*RecordError
	// Omitted counts the problems found beyond MaxProblems.
	Omitted int
	// Err is the error that stopped reading early (truncation, corruption),
	// or nil when the whole file was read.
	Err error
}

// Error lists every problem on its own line.
func (e *ValidationError) Error() string {
	var lines []string
	for _, p := range e.Problems {
		lines = append(lines, p.Error())
	}
	if e.Omitted > 0 {
		lines = append(lines, fmt.Sprintf("... and %d more problems", e.Omitted))
	}
	if e.Err != nil {
		lines = append(lines, e.Err.Error())
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("cassette has %d problems:\n%s", len(e.Problems)+e.Omitted+btoi(e.Err != nil), strings.Join(lines, "\n"))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Unwrap exposes ErrInvalidRecord (when there are record problems) and the
// error that stopped reading, to errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	var errs []error
	if len(e.Problems) > 0 {
		errs = append(errs, e.Problems[0])
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func (e *ValidationError) add(p *RecordError) {
	if len(e.Problems) < MaxProblems {
		e.Problems = append(e.Problems, p)
	} else {
		e.Omitted++
	}
}

func (e *ValidationError) orNil() error {
	if len(e.Problems) == 0 && e.Err == nil {
		return nil
	}
	return e
}

// Validate reads a whole cassette and checks every record and the order of
// records: offsets never decrease, frames and closes belong to a connection
// opened before them (and not refused or closed), connection ids are not
// reused, and every field holds a valid value. It returns nil, or a
// *ValidationError listing every problem with its record, line and field.
func Validate(r io.Reader) error {
	rd, err := NewReader(r)
	if err != nil {
		return err
	}
	defer rd.Close()
	var verr ValidationError
	var seq sequence
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		var re *RecordError
		if errors.As(err, &re) {
			verr.add(re)
			continue
		}
		if err != nil {
			verr.Err = err
			break
		}
		for _, fe := range seq.check(rec, rd.records) {
			verr.add(&RecordError{Record: rd.records, Line: rd.line, Field: fe.field, Msg: fe.msg})
		}
		seq.apply(rec, rd.records)
	}
	return verr.orNil()
}

// ValidateRecords checks records held in memory as Validate checks a file;
// record N is recs[N-1] (its line would be N+1).
func ValidateRecords(recs []Record) error {
	var verr ValidationError
	var seq sequence
	for i, rec := range recs {
		n := i + 1
		if fe := checkRecord(rec); fe != nil {
			verr.add(&RecordError{Record: n, Line: n + 1, Field: fe.field, Msg: fe.msg})
			continue
		}
		for _, fe := range seq.check(rec, n) {
			verr.add(&RecordError{Record: n, Line: n + 1, Field: fe.field, Msg: fe.msg})
		}
		seq.apply(rec, n)
	}
	return verr.orNil()
}

// sequence tracks what the records so far have established, to check the
// next one against it.
type sequence struct {
	last  time.Duration
	conns map[string]*connState
}

type connState struct {
	opened int // record number of the ws_open
	status int // upgrade status
	closed int // record number of the close, 0 while open
}

// check returns the problems of rec (record number n, already checked on its
// own) given the records before it. It does not change the state.
func (s *sequence) check(rec Record, n int) []*fieldError {
	var probs []*fieldError
	if rec.Offset < s.last {
		probs = append(probs, &fieldError{fieldAt, fmt.Sprintf("offset %d (%v) is before the previous record's %d (%v): records must be in time order",
			rec.Offset.Microseconds(), rec.Offset, s.last.Microseconds(), s.last)})
	}
	conn := rec.Conn()
	st := s.conns[conn]
	switch {
	case rec.Open != nil:
		if st != nil {
			probs = append(probs, &fieldError{fieldConn, fmt.Sprintf("connection %q was already opened at record %d; ids must be unique", conn, st.opened)})
		}
	case rec.Frame != nil || rec.Close != nil:
		what := "a frame"
		if rec.Close != nil {
			what = "a close"
		}
		switch {
		case st == nil:
			probs = append(probs, &fieldError{fieldConn, fmt.Sprintf("%s on connection %q, which no earlier ws_open record opened", what, conn)})
		case st.status != 101:
			probs = append(probs, &fieldError{fieldConn, fmt.Sprintf("%s on connection %q, whose upgrade at record %d failed with status %d", what, conn, st.opened, st.status)})
		case st.closed != 0:
			probs = append(probs, &fieldError{fieldConn, fmt.Sprintf("%s on connection %q after its close at record %d", what, conn, st.closed)})
		}
	}
	return probs
}

// apply records rec (record number n) in the state.
func (s *sequence) apply(rec Record, n int) {
	s.last = max(s.last, rec.Offset)
	switch {
	case rec.Open != nil:
		if s.conns == nil {
			s.conns = map[string]*connState{}
		}
		if s.conns[rec.Open.Conn] == nil {
			s.conns[rec.Open.Conn] = &connState{opened: n, status: rec.Open.Status}
		}
	case rec.Close != nil:
		if st := s.conns[rec.Close.Conn]; st != nil && st.closed == 0 {
			st.closed = n
		}
	}
}
