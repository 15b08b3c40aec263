// Package cassettes is zoommock's file format for recorded Zoom sessions: the
// model (Header, Record), a streaming Writer and Reader, a Redactor that keeps
// secrets off the disk, Validate, and the functions behind `zoommock cassette
// cat|inspect|validate|pack|diff`. It depends on no other zoommock package,
// so the recorder, the replayer and third-party tools can all use it.
//
// # Format
//
// A cassette is a stream of JSON lines (UTF-8, one JSON object per line, "\n"
// after each), compressed with zstd. The Reader also accepts the lines
// uncompressed (it looks for the zstd magic bytes 28 B5 2F FD), so a fixture
// written by hand, or the output of Cat, reads back; Pack compresses it.
//
// Line 1 is the header:
//
//	{"format":"zoommock-cassette","version":"1.0","created":"2026-12-03T14:00:00Z","recorder":"zoommock record --direct","meta":{"app":"billing-sync"}}
//
// "format" is always "zoommock-cassette". "version" is MAJOR.MINOR: a reader
// refuses a newer major version with ErrNewerVersion (the error says to
// upgrade zoommock); a newer minor version only adds fields, which readers
// ignore, or record kinds, which readers of an older minor version skip.
// Unknown fields are never an error. "created" (RFC 3339), "recorder" and
// "meta" (string values) are optional.
//
// Every following line is one record, in time order. Each has "at_us", its
// offset from the start of the recording in whole microseconds (an integer:
// exact, and readable as 1500000 = 1.5 s), and "kind":
//
//	{"at_us":0,"kind":"http","method":"POST","path":"/oauth/token","query":"grant_type=account_credentials&account_id=Q2k9mXr4TzWv8aLpN3bYcA","req_headers":{"Authorization":["Basic REDACTED-BASIC-1"]},"status":200,"resp_headers":{"Content-Type":["application/json"]},"body":{"access_token":"REDACTED-TOKEN-1","token_type":"bearer","expires_in":3599,"scope":"marketplace:read:list_apps"}}
//	{"at_us":412000,"kind":"ws_open","conn":"c1","path":"/ws","query":"subscriptionId=9Xq2LmT4RzWv8aLpN3bYcA&access_token=REDACTED-TOKEN-1","status":101}
//	{"at_us":530000,"kind":"frame","conn":"c1","direction":"server","opcode":"text","payload":{"module":"build_connection","success":true,"content":"connected","header":{}}}
//	{"at_us":30412000,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":{"module":"heartbeat"}}
//	{"at_us":30480000,"kind":"frame","conn":"c1","direction":"client","opcode":"binary","payload_b64":"AAEC"}
//	{"at_us":3600000000,"kind":"close","conn":"c1","by":"server","code":1001,"reason":"going away"}
//	{"at_us":3600500000,"kind":"close","conn":"c2","by":"client","abrupt":true}
//
// The kinds and their fields:
//
//   - "http": an HTTP exchange: "method", "path", "query" (raw, byte for
//     byte), "req_headers", "form" (form-encoded request fields), "req_body"
//     (another request body, as text), "status", "resp_headers", "body" (the
//     response body as text). Headers and form fields are objects of string
//     arrays with sorted keys.
//   - "ws_open": a WebSocket upgrade: "conn" (an id unique in the cassette,
//     such as "c1"), "path", "query", "status" (101 when it succeeded).
//   - "frame": a message on connection "conn": "direction" ("client" for
//     client to server, "server" for server to client), "opcode" ("text" or
//     "binary"), and either "payload" (the text) or "payload_b64" (standard
//     base64, for binary frames and for text that is not valid UTF-8).
//   - "close": the end of connection "conn": "by" ("client" or "server",
//     whoever closed first), then "code" (1000 to 4999) and "reason" for a
//     close frame, or "abrupt":true when the TCP connection dropped without
//     one.
//
// A text ("payload", "body", "req_body") is written as a JSON string, except
// when it is itself one JSON object or array on one line, as every Zoom frame
// and token response is: then it is embedded as is, and the text is exactly
// the bytes of that value. This saves a layer of escaping (the event in an
// envelope's "content" string is escaped once, not twice), so that lines can
// be read and queried with jq, and load faster. A reader accepts either form.
//
// The Writer writes fields in the order above and leaves out empty ones, so
// the same records always give the same bytes.
//
// # Crash safety
//
// The Writer streams: the header and then each record reach the underlying
// file before Write returns (a zstd block ends after each record). A recorder
// killed with SIGKILL at any moment leaves a file whose every record written
// before the kill reads back: the Reader returns them all, then an error
// wrapping ErrTruncated ("truncated after record N") instead of failing.
// With WithFlushEvery(n), the guarantee covers the records up to the last
// flush. Close finishes the stream, after which the Reader reports a clean
// end (io.EOF); for a file from Create it also compacts the file, replacing
// it atomically. Flush does not fsync: the data survives the process, not a
// power cut.
//
// # Secrets
//
// A Redactor, given to the Writer with WithRedactor or applied by the
// recorder to each record, replaces credentials with stable placeholders
// (REDACTED-TOKEN-1 is the same token wherever it appears) and can replace
// personal data in event payloads by consistent pseudonyms.
//
// # What a cassette does not hold
//
// Control frames (ping, pong), how a message was fragmented into frames,
// WebSocket extensions, TLS details, the request and response headers the
// recorder chose not to keep, and timing finer than a microsecond. A replay
// therefore reproduces what each side said and when, not how the bytes were
// packaged on the wire.
//
// Built-in cassettes can be embedded with embed.FS and read with NewReader,
// which takes any io.Reader.
package cassettes
