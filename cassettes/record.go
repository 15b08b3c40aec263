package cassettes

import (
	"net/http"
	"net/url"
	"time"
)

// FormatName is the value of the header's "format" field. A reader refuses a
// file whose first line names another format, so that a random JSON file is
// never mistaken for a recording.
const FormatName = "zoommock-cassette"

// Version is the format version this package writes, as "MAJOR.MINOR". A minor
// bump only adds optional fields or record kinds, which older readers ignore; a
// major bump changes the meaning of existing fields, and older readers refuse
// the file with ErrNewerVersion instead of misreading it.
const Version = "1.0"

// Header is the first line of a cassette. It says what wrote the file and
// when, so that a cassette found in a repository years later can be traced.
type Header struct {
	// Format is always FormatName; the Writer sets it.
	Format string
	// Version is the format version of the file; the Writer sets it to Version.
	Version string
	// Created is when the recording started, as the caller says. The Writer
	// never reads the clock, so that the same input gives the same bytes; the
	// zero time is omitted.
	Created time.Time
	// Recorder names the program that wrote the file, for example
	// "zoommock 0.3.0 record --direct".
	Recorder string
	// Meta holds free-form notes (application name, mode, ticket). It is
	// written with sorted keys.
	Meta map[string]string
}

// Kind names what a Record holds. It is the "kind" field of a record line.
type Kind string

// The record kinds of format version 1.
const (
	// KindHTTP is an HTTP exchange, such as a token request.
	KindHTTP Kind = "http"
	// KindOpen is a WebSocket upgrade request and its answer.
	KindOpen Kind = "ws_open"
	// KindFrame is one WebSocket message.
	KindFrame Kind = "frame"
	// KindClose is the end of a WebSocket connection.
	KindClose Kind = "close"
)

// Side names one end of a connection: who sent a frame, or who closed.
type Side string

// The two ends of a connection.
const (
	// Client is the application under test (it sent the frame, or closed).
	Client Side = "client"
	// Server is Zoom, or the mock standing in for it.
	Server Side = "server"
)

// Opcode is the WebSocket message type of a frame. Control frames (ping,
// pong) are not recorded: Zoom's protocol does not use them.
type Opcode string

// The WebSocket message types a frame can carry.
const (
	// Text is a UTF-8 text message; every Zoom frame is one.
	Text Opcode = "text"
	// Binary is a binary message, recorded for completeness.
	Binary Opcode = "binary"
)

// Record is one line of a cassette after the header: something that happened
// at Offset since the recording started. Exactly one of the pointer fields is
// set; Kind reports which. One struct for every kind keeps a cassette a plain
// []Record that go-cmp can compare and a replayer can filter by connection.
type Record struct {
	// Offset is the time since the start of the recording. It is stored in
	// whole microseconds; the Writer truncates finer precision.
	Offset time.Duration
	// HTTP is set for an HTTP exchange.
	HTTP *HTTPExchange
	// Open is set for a WebSocket open.
	Open *WSOpen
	// Frame is set for a WebSocket message.
	Frame *Frame
	// Close is set for the end of a WebSocket connection.
	Close *WSClose
}

// Kind reports which pointer field of r is set, or "" when none or several
// are (the Writer and the Reader reject such a record).
func (r Record) Kind() Kind {
	var k Kind
	n := 0
	if r.HTTP != nil {
		k, n = KindHTTP, n+1
	}
	if r.Open != nil {
		k, n = KindOpen, n+1
	}
	if r.Frame != nil {
		k, n = KindFrame, n+1
	}
	if r.Close != nil {
		k, n = KindClose, n+1
	}
	if n != 1 {
		return ""
	}
	return k
}

// Conn returns the connection id of a WebSocket record, or "" for an HTTP
// exchange, so that code filtering by connection needs no type switch.
func (r Record) Conn() string {
	switch {
	case r.Open != nil:
		return r.Open.Conn
	case r.Frame != nil:
		return r.Frame.Conn
	case r.Close != nil:
		return r.Close.Conn
	}
	return ""
}

// HTTPExchange is one HTTP request and its response, typically the OAuth token
// request. Only what a replay or a diff needs is kept: the recorder chooses
// which headers are worth keeping, and the Redactor masks credentials.
type HTTPExchange struct {
	// Method is the request method, such as "POST".
	Method string
	// Path is the request path, such as "/oauth/token".
	Path string
	// Query is the raw query string, byte for byte (clients append tokens
	// without escaping them, and a replay must see what they sent).
	Query string
	// RequestHeader holds the request headers worth keeping.
	RequestHeader http.Header
	// Form holds the fields of an application/x-www-form-urlencoded body.
	Form url.Values
	// RequestBody is a request body that is not a form, as text.
	RequestBody string
	// Status is the response status code.
	Status int
	// ResponseHeader holds the response headers worth keeping.
	ResponseHeader http.Header
	// ResponseBody is the response body as text.
	ResponseBody string
}

// WSOpen is a WebSocket upgrade request and its answer. Conn names the
// connection for the frames and the close that follow.
type WSOpen struct {
	// Conn is the connection id, unique within the cassette, such as "c1".
	Conn string
	// Path is the request path, such as "/ws".
	Path string
	// Query is the raw query string (subscriptionId and access_token).
	Query string
	// Status is the HTTP status of the upgrade: 101 when it succeeded. Zoom
	// answers bad tokens with 101 too, then a build_connection failure frame.
	Status int
}

// Frame is one WebSocket message.
type Frame struct {
	// Conn is the connection the frame travelled on.
	Conn string
	// From is the side that sent it.
	From Side
	// Opcode is Text or Binary.
	Opcode Opcode
	// Payload is the message, byte for byte; for a binary frame it may hold
	// any bytes (it is stored as base64).
	Payload string
}

// WSClose is the end of a WebSocket connection: a close frame, or the TCP
// connection dropped without one.
type WSClose struct {
	// Conn is the connection that ended.
	Conn string
	// By is the side that closed first (sent the first close frame, or
	// dropped the connection).
	By Side
	// Code is the close code of the close frame (1000 to 4999); zero when
	// Abrupt.
	Code int
	// Reason is the close reason text.
	Reason string
	// Abrupt reports that the connection was dropped without a close frame.
	Abrupt bool
}

// Connections returns the connection ids of recs in the order they were
// opened, so that a replayer can find "the Nth connection".
func Connections(recs []Record) []string {
	var ids []string
	for _, r := range recs {
		if r.Open != nil {
			ids = append(ids, r.Open.Conn)
		}
	}
	return ids
}

// Frames returns the frame records of connection conn sent by from, in order
// and with their offsets: what a replayer plays back on one connection.
func Frames(recs []Record, conn string, from Side) []Record {
	var out []Record
	for _, r := range recs {
		if r.Frame != nil && r.Frame.Conn == conn && r.Frame.From == from {
			out = append(out, r)
		}
	}
	return out
}

// mapValues returns a copy of a header or form map with f applied to every
// value; nil stays nil.
func mapValues[M ~map[string][]string](m M, f func(key, value string) string) M {
	if m == nil {
		return nil
	}
	out := make(M, len(m))
	for k, vs := range m {
		out[k] = make([]string, len(vs))
		for i, v := range vs {
			out[k][i] = f(k, v)
		}
	}
	return out
}

// mapFields returns a copy of r (r is not modified) with text applied to
// every field that may hold free text or a secret (paths, queries, bodies,
// payloads, close reasons) and values to every header and form map. The
// Redactor and Diff use it to treat every field alike.
func (r Record) mapFields(text func(string) string, values func(key, value string) string) Record {
	switch {
	case r.HTTP != nil:
		h := *r.HTTP
		h.Path, h.Query = text(h.Path), text(h.Query)
		h.RequestHeader, h.Form = mapValues(h.RequestHeader, values), mapValues(h.Form, values)
		h.RequestBody = text(h.RequestBody)
		h.ResponseHeader, h.ResponseBody = mapValues(h.ResponseHeader, values), text(h.ResponseBody)
		r.HTTP = &h
	case r.Open != nil:
		o := *r.Open
		o.Path, o.Query = text(o.Path), text(o.Query)
		r.Open = &o
	case r.Frame != nil:
		f := *r.Frame
		f.Payload = text(f.Payload)
		r.Frame = &f
	case r.Close != nil:
		c := *r.Close
		c.Reason = text(c.Reason)
		r.Close = &c
	}
	return r
}
