package cassettes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// MaxLineSize is the longest line a Reader accepts, in bytes. A longer line
// is reported as a bad record (and skipped) instead of exhausting memory; no
// Zoom frame comes near it.
const MaxLineSize = 16 << 20

// maxWindow is the largest zstd window a Reader accepts. The Writer uses
// 256 KiB and the zstd command line at most 8 MiB below --ultra; the limit
// keeps hostile input from allocating gigabytes.
const maxWindow = 16 << 20

// zstdMagic starts every zstd frame; gzipMagic starts a gzip stream, which
// gets a helpful error; a byte order mark is skipped.
var (
	zstdMagic = []byte{0x28, 0xB5, 0x2F, 0xFD}
	gzipMagic = []byte{0x1F, 0x8B}
	utf8BOM   = []byte{0xEF, 0xBB, 0xBF}
)

// Reader reads a cassette record by record, without loading it whole. It
// accepts a zstd-compressed cassette and plain JSON lines alike.
//
// Next returns io.EOF at a clean end. When the input was cut (a recorder
// killed mid-write), Next first returns every complete record and then an
// error wrapping ErrTruncated. A bad record gives a *RecordError and the
// Reader moves on: calling Next again continues with the following line, so
// that Validate can report every problem. Other errors are final.
type Reader struct {
	hdr        Header
	hdrLine    []byte // the header line as read, for Cat
	newerMinor bool
	src        *bufio.Reader
	dec        *zstd.Decoder // nil for plain JSON lines
	file       *os.File      // set by Open
	records    int           // record number of the last line read
	line       int           // line number of the last line read
	err        error         // final error, returned forever
	buf        []byte        // assembles lines longer than src's buffer
	lex        lexer         // reused for its scratch buffer
}

// NewReader reads the header of a cassette from r and returns a Reader
// positioned before the first record. The caller must Close it.
func NewReader(r io.Reader) (*Reader, error) {
	raw := bufio.NewReaderSize(r, 16<<10)
	rd := &Reader{src: raw}
	magic, err := raw.Peek(len(zstdMagic))
	switch {
	case len(magic) == 0 && err == io.EOF:
		return nil, fmt.Errorf("%w: empty cassette: no header line", ErrNotCassette)
	case err != nil && err != io.EOF:
		return nil, fmt.Errorf("failed to read cassette: %w", err)
	case bytes.Equal(magic, zstdMagic):
		rd.dec, err = zstd.NewReader(raw,
			zstd.WithDecoderConcurrency(1), // decode in the caller: no goroutines
			zstd.WithDecoderMaxWindow(maxWindow))
		if err != nil {
			return nil, fmt.Errorf("failed to start decompression: %w", err)
		}
		rd.src = bufio.NewReaderSize(rd.dec, 16<<10)
	case bytes.HasPrefix(zstdMagic, magic):
		return nil, truncatedError(0, errors.New("the zstd stream ends inside its magic number"))
	case bytes.HasPrefix(magic, utf8BOM):
		raw.Discard(len(utf8BOM)) // a hand-written file saved by a Windows editor
	case bytes.HasPrefix(magic, gzipMagic):
		return nil, fmt.Errorf("%w: the file is gzip-compressed; cassettes use zstd (decompress it, then run \"zoommock cassette pack\")", ErrNotCassette)
	}
	if err := rd.readHeader(); err != nil {
		rd.Close()
		return nil, err
	}
	return rd, nil
}

func (r *Reader) readHeader() error {
	line, terminated, err := r.readLine()
	if err == errLineTooLong {
		return fmt.Errorf("%w: line 1 is longer than %d bytes", ErrNotCassette, MaxLineSize)
	}
	if err != nil && err != io.EOF {
		return r.streamError(err)
	}
	if len(bytes.TrimSpace(line)) == 0 {
		if err == io.EOF && !terminated {
			return fmt.Errorf("%w: empty cassette: no header line", ErrNotCassette)
		}
		return fmt.Errorf("%w: line 1 is blank, want the header", ErrNotCassette)
	}
	if !terminated {
		l := lexer{b: line}
		if err := l.skipValue(0); err != nil {
			if se, ok := err.(*syntaxError); ok && se.atEnd && firstNonSpace(line) == '{' {
				return truncatedError(0, errors.New("the header line is incomplete"))
			}
		}
	}
	r.hdr, r.newerMinor, err = parseHeader(line)
	r.hdrLine = bytes.Clone(line)
	return err
}

// Header returns the cassette's header line.
func (r *Reader) Header() Header { return r.hdr }

var errLineTooLong = errors.New("line too long")

// Next returns the next record, io.EOF at the end, or an error (see Reader).
func (r *Reader) Next() (Record, error) {
	for r.err == nil {
		job, err := r.nextLine()
		if err != nil {
			if _, ok := err.(*RecordError); ok {
				return Record{}, err // an overlong line: skipped
			}
			r.err = err
			break
		}
		rec, skip, err := parseLine(&r.lex, job, r.newerMinor)
		switch {
		case skip:
			continue
		case err == errCutLine:
			r.err = truncatedError(job.record-1, nil)
		case err != nil:
			return Record{}, err
		default:
			return rec, nil
		}
	}
	return Record{}, r.err
}

// lineJob is a record line and where it is in the file.
type lineJob struct {
	line       []byte
	terminated bool // a newline ended the line
	record     int  // record number
	lineNo     int
}

// nextLine reads the next record line, skipping blank lines. It returns
// io.EOF at the end, a *RecordError for an overlong line (which it skips),
// and the error of a failed stream, which ends the input: what was left of
// the line is incomplete and is dropped.
func (r *Reader) nextLine() (lineJob, error) {
	for {
		line, terminated, err := r.readLine()
		switch {
		case err == errLineTooLong:
			r.records++
			return lineJob{}, r.recordError("", fmt.Sprintf("line longer than %d bytes", MaxLineSize))
		case err != nil && err != io.EOF:
			return lineJob{}, r.streamError(err)
		case len(bytes.TrimSpace(line)) == 0: // blank lines are allowed
			if err == io.EOF {
				return lineJob{}, io.EOF
			}
			continue
		}
		r.records++
		return lineJob{line: line, terminated: terminated, record: r.records, lineNo: r.line}, nil
	}
}

// parseLine decodes a record line (it needs nothing else from the Reader, so
// that ReadAll can run it in parallel). skip reports a record of a kind added
// by a newer minor version. An unterminated last line that ends too soon
// gives errCutLine; other problems a *RecordError.
func parseLine(l *lexer, job lineJob, newerMinor bool) (rec Record, skip bool, err error) {
	w, perr := parseRecord(l, job.line)
	if perr != nil {
		if se, ok := perr.(*syntaxError); ok && se.atEnd && !job.terminated {
			return rec, false, errCutLine
		}
		var fe *fieldError
		if errors.As(perr, &fe) {
			return rec, false, &RecordError{Record: job.record, Line: job.lineNo, Field: fe.field, Msg: fe.msg}
		}
		return rec, false, &RecordError{Record: job.record, Line: job.lineNo, Msg: perr.Error()}
	}
	rec, known, ferr := w.record(l)
	if !known && newerMinor {
		return rec, true, nil
	}
	if ferr != nil {
		return Record{}, false, &RecordError{Record: job.record, Line: job.lineNo, Field: ferr.field, Msg: ferr.msg}
	}
	return rec, false, nil
}

// readLine reads one line without its newline. terminated reports whether
// a newline ended it. At the end of the input err is io.EOF and line holds
// whatever followed the last newline. A line longer than MaxLineSize is
// skipped and reported as errLineTooLong.
func (r *Reader) readLine() (line []byte, terminated bool, err error) {
	r.buf = r.buf[:0]
	long := false
	for {
		chunk, err := r.src.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !long && len(r.buf)+len(chunk) > MaxLineSize {
				long, r.buf = true, r.buf[:0]
			}
			if !long {
				r.buf = append(r.buf, chunk...)
			}
			continue
		}
		terminated := err == nil
		if terminated {
			chunk = chunk[:len(chunk)-1]
		}
		if terminated || long || len(chunk) > 0 || len(r.buf) > 0 {
			r.line++
		}
		if long || len(r.buf)+len(chunk) > MaxLineSize {
			if err == nil || err == io.EOF {
				return nil, terminated, errLineTooLong
			}
			return nil, false, err
		}
		if len(r.buf) == 0 {
			return chunk, terminated, err
		}
		r.buf = append(r.buf, chunk...)
		return r.buf, terminated, err
	}
}

// streamError classifies a failure of the underlying stream.
func (r *Reader) streamError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return truncatedError(r.records, err)
	}
	if r.dec != nil {
		return fmt.Errorf("%w after record %d: failed to decompress: %v", ErrCorrupt, r.records, err)
	}
	return fmt.Errorf("failed to read cassette after record %d: %w", r.records, err)
}

func (r *Reader) recordError(field, msg string) error {
	return &RecordError{Record: r.records, Line: r.line, Field: field, Msg: msg}
}

// Close releases the decompressor and, for a Reader from Open, the file.
func (r *Reader) Close() error {
	if r.dec != nil {
		r.dec.Close()
		r.dec = nil
	}
	if r.err == nil || r.err == io.EOF {
		r.err = ErrClosed
	}
	if r.file != nil {
		f := r.file
		r.file = nil
		if err := f.Close(); err != nil {
			return fmt.Errorf("failed to close cassette: %w", err)
		}
	}
	return nil
}

// Open opens the cassette file at path and reads its header.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open cassette: %w", err)
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to read cassette %s: %w", path, err)
	}
	r.file = f
	return r, nil
}

// ReadFile reads the whole cassette file at path, as ReadAll.
func ReadFile(path string) (Header, []Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, nil, fmt.Errorf("failed to open cassette: %w", err)
	}
	defer f.Close()
	h, recs, err := ReadAll(f)
	if err != nil {
		err = fmt.Errorf("failed to read cassette %s: %w", path, err)
	}
	return h, recs, err
}
