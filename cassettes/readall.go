package cassettes

import (
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

// readRest reads the remaining records. With one CPU it calls Next; with more,
// one goroutine reads lines into batches, workers parse them, and this
// goroutine collects the batches in order.
func (r *Reader) readRest() ([]Record, error) {
	workers := min(runtime.GOMAXPROCS(0), 4)
	if workers < 2 {
		var recs []Record
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return recs, nil
			}
			if err != nil {
				return recs, err
			}
			recs = append(recs, rec)
		}
	}
	if r.err != nil {
		return nil, r.finalErr()
	}

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
		r.produce(work, ordered, free, stop)
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
		if b.err != nil {
			err = b.err
		} else if b.end != nil {
			err = b.end
		}
		if err != nil {
			close(stop)
		}
	}
	wg.Wait()
	if err == nil {
		err = io.EOF
	}
	r.err = err
	return recs, r.finalErr()
}

// finalErr is r.err as ReadAll reports it: nil at a clean end.
func (r *Reader) finalErr() error {
	if r.err == io.EOF {
		return nil
	}
	return r.err
}

// produce reads lines into batches and sends each to a worker and, in order,
// to the collector, until the input ends, fails, or stop is closed.
func (r *Reader) produce(work, ordered chan<- *batch, free <-chan []byte, stop <-chan struct{}) {
	for {
		b := &batch{done: make(chan struct{})}
		select {
		case b.buf = <-free:
		default:
			b.buf = make([]byte, 0, batchBytes+batchBytes/4)
		}
		for len(b.jobs) < batchLines && len(b.buf) < batchBytes {
			job, err := r.nextLine()
			if err != nil {
				b.end = err
				break
			}
			b.buf = append(b.buf, job.line...)
			b.ends = append(b.ends, len(b.buf))
			job.line = nil
			b.jobs = append(b.jobs, job)
		}
		start := 0
		for i, end := range b.ends {
			b.jobs[i].line = b.buf[start:end:end]
			start = end
		}
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
	}
}

// parse parses the batch's lines, stopping at the first error.
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
