package cassettes

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// WriterOption configures NewWriter and Create.
type WriterOption func(*writerConfig)

type writerConfig struct {
	force      bool
	redactor   *Redactor
	flushEvery int
}

// WithForce lets Create replace an existing file. Without it Create refuses
// with ErrExists, so that a recording is never lost to a typo.
func WithForce() WriterOption {
	return func(c *writerConfig) { c.force = true }
}

// WithRedactor makes the Writer pass the header (RedactHeader) and every
// record (Redact) through r before encoding them, so that no secret reaches
// the file even if the caller forgot to redact.
func WithRedactor(r *Redactor) WriterOption {
	return func(c *writerConfig) { c.redactor = r }
}

// WithFlushEvery makes the Writer flush after every n records instead of
// after every record; n <= 0 flushes only on Flush and Close (as Pack does).
// Batching writes faster and compresses better, but a crash loses the
// records since the last flush: a live recorder should keep the default.
func WithFlushEvery(n int) WriterOption {
	return func(c *writerConfig) { c.flushEvery = n }
}

// The zstd settings, measured on a typical event recording (see
// BENCHMARKS-cassettes.md). SpeedFastest compresses these small, repetitive
// lines within 2.5% of the best level and faster than any other. A 256 KiB
// window holds a few hundred recent events to copy from and compresses
// within 1% of a 4 MiB one, while every Reader allocates a buffer of the
// window's size. One encoder goroutine: the Writer owns no goroutines.
//
// When every record ends a block, entropy coding is turned off: building
// Huffman and FSE tables for a block of one line costs more than it saves
// (writing is 1.5 times and reading 3.5 times faster, for 14% instead of 11%
// of the JSON size), and Close of a file from Create compacts it anyway.
const writerWindow = 256 << 10

func encoderOptions(perRecord bool) []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(writerWindow),
		zstd.WithNoEntropyCompression(perRecord),
	}
}

// Writer writes a cassette as a stream: the header at once, then each record
// as it comes, compressed with zstd.
//
// Crash safety: by default Write hands every record to the underlying writer
// (a zstd block ends after each record) before it returns, so if the process
// is killed with SIGKILL at any moment, the file holds every record whose
// Write returned, and a Reader returns them all and then reports
// ErrTruncated. With WithFlushEvery(n) the same holds for records up to the
// last flush. Flush does not fsync: data survives a crash of the process, not
// of the machine.
//
// Determinism: the same header and records, written with the same options
// and Flush calls, give the same bytes; a file from Create, once closed and
// compacted, depends on the header and records alone. The Writer reads no
// clock.
//
// Write rejects a record that would make the cassette invalid (see Validate)
// with a *RecordError, and writes nothing for it; the Writer stays usable. A
// Writer is safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	enc     *zstd.Encoder
	file    *os.File // set by Create, closed by Close
	path    string   // the file's path, for compacting it
	cfg     writerConfig
	seq     sequence
	buf     []byte
	records int
	pending int   // records written since the last flush
	err     error // a failed write: every later call returns it
	closed  bool
}

// NewWriter writes the header h (with Format and Version set to this
// package's) to w and returns a Writer for the records. Close finishes the
// stream but does not close w.
func NewWriter(w io.Writer, h Header, opts ...WriterOption) (*Writer, error) {
	cfg := writerConfig{flushEvery: 1}
	for _, o := range opts {
		o(&cfg)
	}
	enc, err := zstd.NewWriter(w, encoderOptions(cfg.flushEvery == 1)...)
	if err != nil {
		return nil, fmt.Errorf("failed to start compression: %w", err)
	}
	cw := &Writer{enc: enc, cfg: cfg}
	if cfg.redactor != nil {
		h = cfg.redactor.RedactHeader(h)
	}
	if cw.buf, err = appendHeader(nil, h); err != nil {
		enc.Close()
		return nil, err
	}
	if _, err := enc.Write(cw.buf); err != nil {
		return nil, fmt.Errorf("failed to write the header: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("failed to write the header: %w", err)
	}
	return cw, nil
}

// Create creates the cassette file at path, refusing to replace an existing
// file unless WithForce is given (the error wraps ErrExists). It fails at
// once when the file cannot be created, before anything is recorded. The
// header is on disk when Create returns; Close compacts the file.
func Create(path string, h Header, opts ...WriterOption) (*Writer, error) {
	var cfg writerConfig
	for _, o := range opts {
		o(&cfg)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if cfg.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("failed to create cassette %s: %w (remove it, or force overwriting)", path, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create cassette: %w", err)
	}
	w, err := NewWriter(f, h, opts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to create cassette %s: %w", path, err)
	}
	w.file, w.path = f, path
	return w, nil
}

// Write appends one record. See Writer for when it reaches the file.
func (w *Writer) Write(rec Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if w.cfg.redactor != nil {
		rec = w.cfg.redactor.Redact(rec)
	}
	rec.Offset = rec.Offset.Truncate(time.Microsecond)
	n := w.records + 1
	if fe := checkRecord(rec); fe != nil {
		return &RecordError{Record: n, Line: n + 1, Field: fe.field, Msg: fe.msg}
	}
	if probs := w.seq.check(rec, n); len(probs) > 0 {
		return &RecordError{Record: n, Line: n + 1, Field: probs[0].field, Msg: probs[0].msg}
	}
	w.buf = appendRecord(w.buf[:0], rec)
	if _, err := w.enc.Write(w.buf); err != nil {
		w.err = fmt.Errorf("failed to write record %d: %w", n, err)
		return w.err
	}
	w.seq.apply(rec, n)
	w.records = n
	w.pending++
	if w.cfg.flushEvery > 0 && w.pending >= w.cfg.flushEvery {
		return w.flush()
	}
	return nil
}

func (w *Writer) usable() error {
	if w.closed {
		return fmt.Errorf("failed to write cassette: %w", ErrClosed)
	}
	return w.err
}

// Flush hands every record written so far to the underlying writer (the
// operating system, for a file from Create), so that it survives a crash of
// this process.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.flush()
}

func (w *Writer) flush() error {
	if w.pending == 0 {
		return nil
	}
	if err := w.enc.Flush(); err != nil {
		w.err = fmt.Errorf("failed to flush cassette after record %d: %w", w.records, err)
		return w.err
	}
	w.pending = 0
	return nil
}

// Records returns how many records have been written.
func (w *Writer) Records() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records
}

// Close ends the zstd stream (a Reader then sees a clean end instead of a
// truncation). For a Writer from Create it also syncs and closes the file,
// then compacts it: the file is rewritten with large zstd blocks (half the
// size, three times faster to load) into a temporary file that replaces it
// atomically, so a crash during Close still leaves a complete cassette. Closing
// twice is harmless.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if cerr := w.enc.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("failed to finish cassette: %w", cerr)
	}
	if w.file == nil {
		return err
	}
	if serr := w.file.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("failed to sync cassette: %w", serr)
	}
	if cerr := w.file.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("failed to close cassette: %w", cerr)
	}
	if err == nil && w.cfg.flushEvery > 0 {
		err = compact(w.path)
	}
	return err
}

// compact rewrites the complete cassette at path with large blocks.
func compact(path string) (err error) {
	fail := func(step string, cause error) error {
		return fmt.Errorf("failed to compact cassette %s (it is complete, only larger): failed to %s: %w", path, step, cause)
	}
	src, err := os.Open(path)
	if err != nil {
		return fail("open it", err)
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return fail("stat it", err)
	}
	dec, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return fail("read it", err)
	}
	defer dec.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".compacting-*")
	if err != nil {
		return fail("create a temporary file", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	enc, err := zstd.NewWriter(tmp, encoderOptions(false)...)
	if err != nil {
		return fail("start compression", err)
	}
	if _, err := io.Copy(enc, dec); err != nil {
		enc.Close()
		return fail("recompress it", err)
	}
	if err := enc.Close(); err != nil {
		return fail("recompress it", err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		return fail("set permissions", err)
	}
	if err := tmp.Sync(); err != nil {
		return fail("sync", err)
	}
	if err := tmp.Close(); err != nil {
		return fail("close the temporary file", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail("replace it", err)
	}
	return nil
}
