package cassettes

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error this package returns that is one of these
// cases wraps the matching sentinel, so callers can branch with errors.Is.
var (
	// ErrNotCassette means the input is not a cassette at all: empty, not
	// JSON lines, or a JSON file whose header names another format.
	ErrNotCassette = errors.New("not a zoommock cassette")
	// ErrNewerVersion means the cassette was written by a newer zoommock
	// whose format this package cannot read; the message says to upgrade.
	ErrNewerVersion = errors.New("cassette format version is newer than this zoommock supports")
	// ErrTruncated means the input ended in the middle of a record, as it
	// does when a recorder was killed. Every complete record before the cut
	// was returned; the message says how many ("truncated after record N").
	ErrTruncated = errors.New("cassette truncated")
	// ErrCorrupt means the compressed stream is damaged (not merely cut).
	ErrCorrupt = errors.New("cassette corrupt")
	// ErrInvalidRecord means a record is malformed or breaks a rule of the
	// format. The error is a *RecordError (or a *ValidationError listing
	// several), which names the record, the line and the field.
	ErrInvalidRecord = errors.New("invalid cassette record")
	// ErrExists means Create was asked to write over an existing file
	// without WithForce.
	ErrExists = errors.New("cassette already exists")
	// ErrClosed means a Writer or Reader was used after Close.
	ErrClosed = errors.New("cassette already closed")
)

// RecordError describes one bad record: where it is and which field is
// wrong, so that a person can open the file at that line and fix it.
type RecordError struct {
	// Record is the 1-based number of the record (the header is record 0).
	Record int
	// Line is the 1-based line number in the decompressed text (the header
	// is line 1; blank lines count).
	Line int
	// Field is the JSON name of the offending field, or "" when the problem
	// concerns the whole line.
	Field string
	// Msg says what is wrong, such as `want "client" or "server", got "up"`.
	Msg string
}

// Error formats e as `record 17 (line 18): field "direction": want ...`.
func (e *RecordError) Error() string {
	var b []byte
	if e.Record == 0 {
		b = append(b, "header"...)
	} else {
		b = append(b, "record "...)
		b = strconv.AppendInt(b, int64(e.Record), 10)
	}
	if e.Line > 0 {
		b = append(b, " (line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ')')
	}
	b = append(b, ": "...)
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	b = append(b, e.Msg...)
	return string(b)
}

// Unwrap makes errors.Is(err, ErrInvalidRecord) true.
func (e *RecordError) Unwrap() error { return ErrInvalidRecord }

// truncatedError reports a cut after n complete records.
func truncatedError(n int, cause error) error {
	if cause == nil {
		return fmt.Errorf("%w after record %d: the last line is incomplete", ErrTruncated, n)
	}
	return fmt.Errorf("%w after record %d: %v", ErrTruncated, n, cause)
}
