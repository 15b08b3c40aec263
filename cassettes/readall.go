package cassettes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
)

// ReadAll reads a whole cassette. On error it returns what it read before:
// after a truncation, every complete record and an error wrapping
// ErrTruncated, so a replayer can still use a recording cut by a crash. It
// stops at the first bad record (Validate lists them all).
//
// ReadAll parses on every CPU while it decompresses what follows; the result
// is the same as calling Next until io.EOF.
func ReadAll(r io.Reader) (Header, []Record, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	defer rd.Close()
	recs, err := rd.readRest()
	return rd.hdr, recs, err
}

// chunk is a run of whole lines, read in one piece and parsed together.
type chunk struct {
	data      []byte // whole lines; the last lacks its newline only at the end of the input
	firstLine int    // line number of the first line in data
	lines     int    // lines in data
	end       error  // what stopped the input after data (io.EOF, a stream error, errLineTooLong), or nil

	// Set by parse.
	recs    []Record
	records int   // record numbers used, up to a failing record
	err     error // the first problem: a *RecordError numbered within the chunk, or errCutLine
	done    chan struct{}
}

// chunkBytes is how much a chunk holds: enough to keep a worker busy for a
// while, small enough to start parsing early.
const chunkBytes = 512 << 10

// errCutLine marks a last line that ends too soon: the input was cut.
var errCutLine = errors.New("the last line is incomplete")

// readRest reads the remaining records. It reads a first chunk; if that is
// all there is, or there is one CPU, it parses in this goroutine. Otherwise
// one goroutine reads chunks, workers parse them, and this goroutine
// collects them in order.
func (r *Reader) readRest() ([]Record, error) {
	if r.err != nil {
		return nil, r.finalErr()
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	c := r.readChunk(nil)
	if c.end == nil && workers > 1 {
		return r.readParallel(c, workers)
	}
	var parts [][]Record
	r.lex.slab = true // Next will not be called again
	for {
		c.parse(&r.lex, r.newerMinor)
		parts = append(parts, c.recs)
		if r.err = r.chunkErr(c); r.err != nil {
			return slices.Concat(parts...), r.finalErr()
		}
		c = r.readChunk(c.data[:0])
	}
}

// readParallel reads the rest of the input, starting with first, with
// workers parsing goroutines.
func (r *Reader) readParallel(first *chunk, workers int) ([]Record, error) {
	work := make(chan *chunk, workers)
	ordered := make(chan *chunk, 2*workers)
	free := make(chan []byte, 3*workers) // chunk buffers to reuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() { // the reading goroutine: owns r's input until it returns
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		r.produce(first, work, ordered, free, stop)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			l := lexer{slab: true}
			for c := range work {
				c.parse(&l, r.newerMinor)
			}
		}()
	}

	var parts [][]Record
	var err error
	for c := range ordered {
		<-c.done
		if err != nil {
			continue // drain
		}
		parts = append(parts, c.recs)
		select {
		case free <- c.data[:0]: // the records hold copies
		default:
		}
		if err = r.chunkErr(c); err != nil {
			close(stop)
		}
	}
	wg.Wait()
	r.err = err
	return slices.Concat(parts...), r.finalErr()
}

// chunkErr numbers the records of c after those before it, and returns what
// ended the input after c, or nil if more follows.
func (r *Reader) chunkErr(c *chunk) error {
	base := r.records
	r.records += c.records
	var re *RecordError
	switch {
	case c.err == errCutLine:
		return truncatedError(r.records-1, nil)
	case errors.As(c.err, &re):
		re.Record += base
		return re
	case c.end == errLineTooLong:
		r.records++
		return &RecordError{Record: r.records, Line: c.firstLine + c.lines, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineSize)}
	case c.end != nil && c.end != io.EOF:
		return r.streamError(c.end)
	}
	return c.end
}

// finalErr is r.err as ReadAll reports it: nil at a clean end.
func (r *Reader) finalErr() error {
	if r.err == io.EOF {
		return nil
	}
	return r.err
}

// readChunk reads the next whole lines, about chunkBytes of them, into buf
// (reused). It reads straight from the decompressor: no line-by-line
// copying.
func (r *Reader) readChunk(buf []byte) *chunk {
	c := &chunk{firstLine: r.line + 1, done: make(chan struct{})}
	if cap(buf) == 0 {
		buf = make([]byte, 0, 16<<10) // most cassettes are small
	}
	buf = append(buf[:0], r.buf...) // the partial line left by the last chunk
	r.buf = r.buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := r.src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			c.data, c.end = buf, io.EOF
			break
		}
		if err != nil {
			c.end = err // what is left of the last line is incomplete: dropped
			buf = buf[:bytes.LastIndexByte(buf, '\n')+1]
			c.data = buf
			break
		}
		if len(buf) < chunkBytes {
			continue
		}
		if k := bytes.LastIndexByte(buf, '\n'); k >= 0 {
			r.buf = append(r.buf, buf[k+1:]...)
			c.data = buf[:k+1]
			break
		}
		if len(buf) > MaxLineSize {
			c.end = errLineTooLong // ReadAll stops at the first bad line
			break
		}
	}
	c.lines = bytes.Count(c.data, []byte{'\n'})
	if len(c.data) > 0 && c.data[len(c.data)-1] != '\n' {
		c.lines++
	}
	r.line += c.lines
	return c
}

// produce sends first, then the chunks it reads, to a worker and, in order,
// to the collector, until the input ends, fails, or stop is closed.
func (r *Reader) produce(c *chunk, work, ordered chan<- *chunk, free <-chan []byte, stop <-chan struct{}) {
	for {
		select {
		case ordered <- c:
		case <-stop:
			return
		}
		select {
		case work <- c:
		case <-stop:
			close(c.done) // the collector is draining and will not look
			return
		}
		if c.end != nil {
			return
		}
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, 0, chunkBytes+chunkBytes/4)
		}
		c = r.readChunk(buf)
	}
}

// parse parses the chunk's lines, stopping at the first problem, and closes
// done.
func (c *chunk) parse(l *lexer, newerMinor bool) {
	defer close(c.done)
	c.recs = make([]Record, 0, c.lines)
	data := c.data
	for n := c.firstLine; len(data) > 0; n++ {
		line, rest, terminated := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		c.records++
		if len(line) > MaxLineSize {
			c.err = &RecordError{Record: c.records, Line: n, Msg: fmt.Sprintf("line longer than %d bytes", MaxLineSize)}
			return
		}
		rec, skip, err := parseLine(l, lineJob{line: line, terminated: terminated, record: c.records, lineNo: n}, newerMinor)
		if err != nil {
			c.err = err
			return
		}
		if !skip {
			c.recs = append(c.recs, rec)
		}
	}
}
