package cassettes

import (
	"cmp"
	"io"
	"runtime"
	"sync"
)

// ReadAll reads a whole cassette. On error it returns what it read before:
// after a truncation, every complete record and an error wrapping
// ErrTruncated, so a replayer can still use a recording cut by a crash. It
// stops at the first bad record (Validate lists them all).
//
// ReadAll parses lines on every CPU while it decompresses the next ones;
// the result is the same as calling Next until io.EOF.
func ReadAll(r io.Reader) (Header, []Record, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, nil, err
	}
	defer rd.Close()
	recs, err := rd.readRest()
	return rd.hdr, recs, err
}

// batch is a run of lines parsed together.
type batch struct {
	buf  []byte    // the lines' bytes
	jobs []lineJob // lines, as offsets into buf until handed to a worker
	ends []int     // end offset of each job's line in buf
	recs []Record
	err  error // the first error parsing the batch; recs holds the records before it
	end  error // the error (or io.EOF) that stopped reading after this batch
	done chan struct{}
}

const (
	batchLines = 512
	batchBytes = 512 << 10
)

// readRest reads the remaining records. It reads a first batch of lines; if
// that is all there is, or there is one CPU, it parses in this goroutine.
// Otherwise one goroutine reads batches, workers parse them, and this
// goroutine collects them in order.
func (r *Reader) readRest() ([]Record, error) {
	if r.err != nil {
		return nil, r.finalErr()
	}
	var recs []Record
	workers := min(runtime.GOMAXPROCS(0), 4)
	b := r.readBatch(nil)
	for b.end == nil && workers < 2 {
		if b.parse(&r.lex, r.newerMinor); b.err != nil {
			r.err = b.err
			return append(recs, b.recs...), r.finalErr()
		}
		recs = append(recs, b.recs...)
		b = r.readBatch(b.buf[:0])
	}
	if b.end != nil {
		b.parse(&r.lex, r.newerMinor)
		r.err = cmp.Or(b.err, b.end)
		return append(recs, b.recs...), r.finalErr()
	}
	return r.readParallel(b, workers)
}

// readParallel reads the rest of the input with workers parsing goroutines,
// starting with the batch first.
func (r *Reader) readParallel(first *batch, workers int) ([]Record, error) {
	work := make(chan *batch, workers)
	ordered := make(chan *batch, 2*workers)
	free := make(chan []byte, 3*workers) // line buffers to reuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() { // the reader: owns r until it returns
		defer wg.Done()
		defer close(ordered)
		defer close(work)
		r.produce(first, work, ordered, free, stop)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			var l lexer
			for b := range work {
				b.parse(&l, r.newerMinor)
			}
		}()
	}

	var recs []Record
	var err error
	for b := range ordered {
		<-b.done
		if err != nil {
			continue // drain
		}
		recs = append(recs, b.recs...)
		select {
		case free <- b.buf[:0]: // the records hold copies
		default:
		}
		err = cmp.Or(b.err, b.end)
		if err != nil {
			close(stop)
		}
	}
	wg.Wait()
	r.err = cmp.Or(err, io.EOF)
	return recs, r.finalErr()
}

// finalErr is r.err as ReadAll reports it: nil at a clean end.
func (r *Reader) finalErr() error {
	if r.err == io.EOF {
		return nil
	}
	return r.err
}

// readBatch reads the next lines into a batch, reusing buf.
func (r *Reader) readBatch(buf []byte) *batch {
	b := &batch{buf: buf, done: make(chan struct{})}
	for len(b.jobs) < batchLines && len(b.buf) < batchBytes {
		job, err := r.nextLine()
		if err != nil {
			b.end = err
			break
		}
		b.buf = append(b.buf, job.line...)
		b.ends = append(b.ends, len(b.buf))
		b.jobs = append(b.jobs, job)
	}
	start := 0
	for i, end := range b.ends {
		b.jobs[i].line = b.buf[start:end:end]
		start = end
	}
	return b
}

// produce sends first, then batches it reads, to a worker and, in order, to
// the collector, until the input ends, fails, or stop is closed.
func (r *Reader) produce(b *batch, work, ordered chan<- *batch, free <-chan []byte, stop <-chan struct{}) {
	for {
		select {
		case ordered <- b:
		case <-stop:
			return
		}
		select {
		case work <- b:
		case <-stop:
			close(b.done) // the collector is draining and will not look
			return
		}
		if b.end != nil {
			return
		}
		var buf []byte
		select {
		case buf = <-free:
		default:
			buf = make([]byte, 0, batchBytes+batchBytes/4)
		}
		b = r.readBatch(buf)
	}
}

// parse parses the batch's lines, stopping at the first error, and closes
// done.
func (b *batch) parse(l *lexer, newerMinor bool) {
	defer close(b.done)
	b.recs = make([]Record, 0, len(b.jobs))
	for _, job := range b.jobs {
		rec, skip, err := parseLine(l, job, newerMinor)
		if err != nil {
			b.err = err
			return
		}
		if !skip {
			b.recs = append(b.recs, rec)
		}
	}
}
