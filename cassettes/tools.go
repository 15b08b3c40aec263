package cassettes

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Cat writes the decompressed JSON lines of the cassette r to w, byte for
// byte (a plain cassette is copied as is), for reading, grepping or editing
// by hand; Pack turns the result back into a cassette. It checks the header
// but not the records, so that a damaged file can still be looked at. On a
// truncated cassette it writes every complete line and returns an error
// wrapping ErrTruncated.
func Cat(w io.Writer, r io.Reader) error {
	rd, err := NewReader(r)
	if err != nil {
		return err
	}
	defer rd.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(rd.hdrLine)
	bw.WriteByte('\n')
	for {
		line, terminated, err := rd.readLine()
		if err == errLineTooLong {
			bw.Flush()
			return fmt.Errorf("failed to copy line %d: longer than %d bytes", rd.line, MaxLineSize)
		}
		if err != nil && err != io.EOF {
			bw.Flush()
			return rd.streamError(err)
		}
		if !terminated && err == io.EOF && len(bytes.TrimSpace(line)) > 0 && !json.Valid(line) {
			// A last line cut off mid-record (a plain file cut short): leave it out, so that the
			// output packs back into a clean cassette, and say so.
			if ferr := bw.Flush(); ferr != nil {
				return fmt.Errorf("failed to write: %w", ferr)
			}
			return fmt.Errorf("%w after record %d: the last line (%d bytes) is cut off and was left out", ErrTruncated, rd.records, len(line))
		}
		if len(line) > 0 || terminated {
			if len(bytes.TrimSpace(line)) > 0 {
				rd.records++
			}
			bw.Write(line)
			bw.WriteByte('\n')
		}
		if err == io.EOF {
			if ferr := bw.Flush(); ferr != nil {
				return fmt.Errorf("failed to write: %w", ferr)
			}
			return nil
		}
	}
}

// Pack compresses a cassette (usually plain JSON lines written by hand or by
// Cat) from r into w, checking every record as Validate does and stopping at
// the first problem. opts are passed to NewWriter (WithRedactor, say). The
// records are flushed only at the end, in large blocks: a bulk conversion
// needs no crash safety, and the result is as small and fast to load as a
// compacted recording.
func Pack(w io.Writer, r io.Reader, opts ...WriterOption) error {
	rd, err := NewReader(r)
	if err != nil {
		return err
	}
	defer rd.Close()
	if rd.newerMinor {
		return fmt.Errorf("failed to pack: version %s cassette would lose what version %s does not know; upgrade zoommock: %w", rd.hdr.Version, Version, ErrNewerVersion)
	}
	cw, err := NewWriter(w, rd.hdr, append([]WriterOption{WithFlushEvery(0)}, opts...)...)
	if err != nil {
		return err
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return cw.Close()
		}
		if err == nil {
			err = cw.Write(rec)
			var re *RecordError
			if errors.As(err, &re) { // number it as the input, not the output
				re.Record, re.Line = rd.records, rd.line
			}
		}
		if err != nil {
			cw.Close()
			return fmt.Errorf("failed to pack: %w", err)
		}
	}
}
