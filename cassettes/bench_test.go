package cassettes

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"
)

// The benchmarks measure throughput in MB/s of JSON lines (b.SetBytes is the
// size of the records as JSON lines), against two baselines in the same run:
// plain JSON lines with bufio and encoding/json, and the same through gzip.
// "ratio%" is the compressed size as a percentage of the JSON lines.

const benchRecords = 20000

// jsonLine is the baselines' record: the same fields and names as a
// cassette line, encoded by encoding/json.
type jsonLine struct {
	AtUS        int64       `json:"at_us"`
	Kind        string      `json:"kind"`
	Method      string      `json:"method,omitempty"`
	Path        string      `json:"path,omitempty"`
	Query       string      `json:"query,omitempty"`
	ReqHeaders  http.Header `json:"req_headers,omitempty"`
	Form        url.Values  `json:"form,omitempty"`
	ReqBody     string      `json:"req_body,omitempty"`
	Status      int         `json:"status,omitempty"`
	RespHeaders http.Header `json:"resp_headers,omitempty"`
	Body        string      `json:"body,omitempty"`
	Conn        string      `json:"conn,omitempty"`
	Direction   string      `json:"direction,omitempty"`
	Opcode      string      `json:"opcode,omitempty"`
	Payload     string      `json:"payload,omitempty"`
	By          string      `json:"by,omitempty"`
	Code        int         `json:"code,omitempty"`
	Reason      string      `json:"reason,omitempty"`
	Abrupt      bool        `json:"abrupt,omitempty"`
}

func toJSONLine(r Record) jsonLine {
	l := jsonLine{AtUS: r.Offset.Microseconds(), Kind: string(r.Kind())}
	switch {
	case r.HTTP != nil:
		h := r.HTTP
		l.Method, l.Path, l.Query, l.ReqHeaders, l.Form, l.ReqBody = h.Method, h.Path, h.Query, h.RequestHeader, h.Form, h.RequestBody
		l.Status, l.RespHeaders, l.Body = h.Status, h.ResponseHeader, h.ResponseBody
	case r.Open != nil:
		l.Conn, l.Path, l.Query, l.Status = r.Open.Conn, r.Open.Path, r.Open.Query, r.Open.Status
	case r.Frame != nil:
		l.Conn, l.Direction, l.Opcode, l.Payload = r.Frame.Conn, string(r.Frame.From), string(r.Frame.Opcode), r.Frame.Payload
	case r.Close != nil:
		l.Conn, l.By, l.Code, l.Reason, l.Abrupt = r.Close.Conn, string(r.Close.By), r.Close.Code, r.Close.Reason, r.Close.Abrupt
	}
	return l
}

func fromJSONLine(l jsonLine) Record {
	r := Record{Offset: time.Duration(l.AtUS) * time.Microsecond}
	switch Kind(l.Kind) {
	case KindHTTP:
		r.HTTP = &HTTPExchange{Method: l.Method, Path: l.Path, Query: l.Query, RequestHeader: l.ReqHeaders, Form: l.Form,
			RequestBody: l.ReqBody, Status: l.Status, ResponseHeader: l.RespHeaders, ResponseBody: l.Body}
	case KindOpen:
		r.Open = &WSOpen{Conn: l.Conn, Path: l.Path, Query: l.Query, Status: l.Status}
	case KindFrame:
		r.Frame = &Frame{Conn: l.Conn, From: Side(l.Direction), Opcode: Opcode(l.Opcode), Payload: l.Payload}
	case KindClose:
		r.Close = &WSClose{Conn: l.Conn, By: Side(l.By), Code: l.Code, Reason: l.Reason, Abrupt: l.Abrupt}
	}
	return r
}

// writeJSONLines is the baseline writer: bufio and encoding/json.
func writeJSONLines(w io.Writer, recs []Record) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Format  string `json:"format"`
		Version string `json:"version"`
	}{FormatName, Version}); err != nil {
		return err
	}
	for _, r := range recs {
		if err := enc.Encode(toJSONLine(r)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// readJSONLines is the baseline reader: bufio.Scanner and json.Unmarshal.
func readJSONLines(r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineSize)
	sc.Scan() // header
	var recs []Record
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, err
		}
		recs = append(recs, fromJSONLine(l))
	}
	return recs, sc.Err()
}

type benchCodec struct {
	name  string
	write func(b *testing.B, w io.Writer, recs []Record) error
	read  func(r io.Reader) ([]Record, error)
}

// writeCassette writes recs through a Writer on w.
func writeCassette(opts ...WriterOption) func(*testing.B, io.Writer, []Record) error {
	return func(_ *testing.B, w io.Writer, recs []Record) error {
		cw, err := NewWriter(w, testHeader, opts...)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := cw.Write(r); err != nil {
				return err
			}
		}
		return cw.Close()
	}
}

// writeCassetteFile records into a file as the recorder does (Create, a
// flush per record, compaction on Close) and copies the result to w.
func writeCassetteFile(b *testing.B, w io.Writer, recs []Record) error {
	_, err := w.Write(encodeFile(b, filepath.Join(b.TempDir(), "bench.cassette"), testHeader, recs))
	return err
}

func readCassette(r io.Reader) ([]Record, error) {
	_, recs, err := ReadAll(r)
	return recs, err
}

func benchCodecs() []benchCodec {
	return []benchCodec{
		// A Writer on a stream, flushing every record: what a crash leaves.
		{"cassette-stream", writeCassette(), readCassette},
		// Create, flush every record, compact on Close: a recorder's file.
		{"cassette-file", writeCassetteFile, readCassette},
		// One flush at the end, as Pack writes.
		{"cassette-batch", writeCassette(WithFlushEvery(0)), readCassette},
		{"jsonlines", func(_ *testing.B, w io.Writer, recs []Record) error { return writeJSONLines(w, recs) }, readJSONLines},
		{"gzip", func(_ *testing.B, w io.Writer, recs []Record) error {
			zw := gzip.NewWriter(w)
			if err := writeJSONLines(zw, recs); err != nil {
				return err
			}
			return zw.Close()
		}, func(r io.Reader) ([]Record, error) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				return nil, err
			}
			return readJSONLines(zr)
		}},
	}
}

func BenchmarkWrite(b *testing.B) {
	recs := typicalRecording(b, benchRecords, 1)
	size := jsonLinesSize(b, recs)
	for _, c := range benchCodecs() {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := c.write(b, &buf, recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(100*float64(buf.Len())/float64(size), "ratio%")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	recs := typicalRecording(b, benchRecords, 1)
	size := jsonLinesSize(b, recs)
	for _, c := range benchCodecs() {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := c.write(b, &buf, recs); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				got, err := c.read(bytes.NewReader(buf.Bytes()))
				if err != nil || len(got) != len(recs) {
					b.Fatalf("read %d records: %v", len(got), err)
				}
			}
			b.ReportMetric(100*float64(buf.Len())/float64(size), "ratio%")
		})
	}
}

// BenchmarkLoad100k loads a 100,000-record cassette of the typical workload
// into memory with ReadAll, as a replayer does; the target is under 100 ms.
// "file" is a recorder's closed (compacted) file, "stream" one that was never
// compacted (a crash leftover, or a Writer on a stream).
func BenchmarkLoad100k(b *testing.B) {
	recs := typicalRecording(b, 100000, 2)
	for _, c := range benchCodecs()[:2] {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := c.write(b, &buf, recs); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(jsonLinesSize(b, recs)))
			for b.Loop() {
				_, got, err := ReadAll(bytes.NewReader(buf.Bytes()))
				if err != nil || len(got) != len(recs) {
					b.Fatalf("read %d records: %v", len(got), err)
				}
			}
			b.ReportMetric(float64(buf.Len())/(1<<20), "MiB")
		})
	}
}
