// Package recorder captures real Zoom sessions into cassettes (package cassettes), so that the
// mock can be checked against what Zoom really does and tests can replay it. It is what
// `zoommock record` runs.
//
// It records in two modes:
//
//   - Proxy: the application under test talks to the recorder instead of Zoom. /oauth/token is
//     passed to the OAuth upstream (https://zoom.us) and /ws is bridged to the WebSocket upstream
//     (wss://ws.zoom.us) frame by frame in both directions. Status codes, bodies, text and binary
//     frames, close codes and reasons are passed on as they come; a connection one side drops
//     without a close frame is dropped on the other side too; an upstream that refuses the
//     upgrade is answered to the client with the same status and body. The application cannot
//     tell the recorder from the upstream, except by the address it dials.
//   - Direct: zoommock itself is the client. It exchanges the app's credentials for a token,
//     connects to one subscription, sends a heartbeat every 30 s and records what arrives until
//     its context ends or the server ends the connection. It does not reconnect.
//
// Either writes into a cassettes.Writer that the caller creates and, once recording is over,
// closes:
//
//	cw, err := cassettes.Create("session.cassette", cassettes.Header{Recorder: "my tool"})
//	p, err := recorder.NewProxy(cw)             // Zoom's real endpoints by default
//	err = p.Serve(ctx, ln)                      // until ctx ends; point the application at ln
//	err = cw.Close()
//
// Every record is redacted before it is written: Basic credentials, the client secret (learned
// from them, or given to Direct), access tokens in token responses and in the /ws query string,
// and the verification token in event headers become stable placeholders (REDACTED-TOKEN-1 is
// the same token wherever it appears). A Redactor made with cassettes.WithPseudonyms also
// replaces account ids, emails and names in event payloads. Logs never hold a secret either.
//
// Offsets count from the recorder's start on Go's monotonic clock, so a change of the wall
// clock during a recording does not bend its timeline. A frame is recorded before it is passed
// on, so an answer never precedes what it answers. Each record reaches the file before the next
// is written (see cassettes.Writer), so a recorder killed with SIGKILL leaves a cassette that
// reads back up to its last record.
//
// # What a recording cannot capture
//
// A cassette holds what each side said and when, not how it was carried:
//
//   - TLS: certificates, versions, ciphers, ALPN. The application talks plain HTTP and ws:// to
//     the recorder, which makes its own TLS connections to the upstream.
//   - WebSocket framing: ping and pong frames (passed on, not recorded), how a message was
//     fragmented into frames, masking, and extensions (permessage-deflate is not negotiated on
//     either side, so a compressed session becomes an uncompressed one).
//   - The close handshake in full: a close records the side that closed first, with its code and
//     reason; the other side's answer, and any message either side sends after the first close
//     frame, are passed on but not recorded (in a cassette a connection ends at its close). A close frame with no
//     status is recorded as code 1005.
//   - HTTP details: headers other than Authorization and Content-Type in requests and
//     Content-Type, Retry-After, WWW-Authenticate and X-Zm-Trackingid in responses (all of them
//     are passed on), HTTP/2 versus HTTP/1.1, and the body of a refused upgrade beyond its first
//     KiB.
//   - Timing finer than a microsecond, and the recorder's own latency: each frame is delayed by
//     the time it takes to record it (tens of microseconds).
//   - Anything the recorder itself did: an upstream that cannot be reached is answered 502 and
//     not recorded (nothing answered); a message larger than 8 MiB ends its connection with 1009
//     and is not recorded; connections still open when the recording stops are left without a
//     close record, although both sides then get a 1001 close.
//   - Whatever happened outside /oauth/token and /ws (the REST API has its own host), and in
//     direct mode what happens after the server ends the connection: Direct records one
//     connection and stops.
package recorder
