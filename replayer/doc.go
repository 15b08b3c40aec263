// Package replayer turns a cassette (package cassettes) into a playback that the mock server
// drives, and plays the client half of a cassette against a server to check its answers (Verify).
//
// # Playback
//
// A Playback serves the server half of a recording. The mock (package mockserver) asks it for a
// Session at every WebSocket connection the client opens: the Nth connection plays the Nth
// connection of the recording. A Session plays that connection's server frames at their recorded
// offsets from the connection's open, scaled by the speed (1 real time, N N times faster, 0 as fast
// as the client reads, or one frame per Step), and ends the connection the way the recording's
// server did, with a close frame or an abrupt drop, at its recorded time.
//
// What is replayed, and what is answered live:
//
//   - Token requests are answered by the mock's live token endpoint under the mock's own
//     credentials; the recording's token exchanges are only used to tell which token each recorded
//     connection used (its placeholder, REDACTED-TOKEN-2), so that a client that reuses a token the
//     recording's client replaced is reported.
//   - build_connection is answered live: a client that sends no token, or one the mock never
//     issued, is refused as the mock always refuses it. A refusal in the recording is replayed as
//     recorded (its content, then its close code and reason) only when the recording's client did
//     send a token and the mock would accept the live one: the recorded refusal was then the
//     server's decision (an expired or revoked token), which the mock cannot know otherwise. A
//     recorded refusal of a connection without a token was the client's own mistake, and stays
//     live.
//   - Heartbeats are answered and enforced live by the mock; recorded heartbeat replies are not
//     replayed, so a client that stops heartbeating is closed as it would be by Zoom.
//   - Event frames keep their recorded content byte for byte (event_ts included) and their
//     x-zm-trackingid; the mock signs them with its own secret token at send time, with a fresh
//     x-zm-request-timestamp, and puts its own verification token and client id in the header
//     (the recorded ones are redacted placeholders no client could verify). Any other server frame
//     is sent verbatim.
//   - Live Emit keeps working during a replay; its events go through the same queue.
//
// What the client does is compared with what the recording's client did, and the differences are
// reported as go-cmp diffs (-recorded +live), never hidden: Status, Diff, the mock's
// GET /_mock/replay, a log line in zoommock serve, t.Errorf in zoomtest. Strictness decides what
// counts: StrictFrames compares the client's frames other than heartbeats, the build_connection
// outcome and the number of connections; StrictAll (the default) also compares the heartbeat
// cadence (and, at speed 1, the count) within a tolerance, which token each connection used, and
// how the client closed. Timing is never compared exactly.
//
// # Verify
//
// Verify plays the client half of a cassette against a server (the mock, or Zoom itself): the
// token requests under the given credentials, the connections with the fresh tokens put where
// the recording's placeholders were, and the client's frames at their offsets. It reports every
// answer that differs from the recording (token response shape, upgrade status, build_connection,
// heartbeat replies and other non-event frames, how connections ended), ignoring what differs on
// every run: tokens, timestamps, tracking ids, signatures.
//
// # What replay cannot reproduce
//
// A replay reproduces what the recording's server said and when, relative to each connection's
// open. It cannot reproduce:
//
//   - anything the recording does not hold: control frames (ping, pong), how messages were
//     fragmented, compression, TLS, and the network's own timing (latency, jitter, slow reads);
//   - events that depend on what the client does differently: a replay sends the recorded events
//     of connection N whatever the client did before, and a client that opens more connections
//     than the recording had gets no recorded events on the extra ones;
//   - the clock: event_ts and any time inside an event keep their recorded values, so events look
//     as old as the recording (a consumer that rejects old events must be tested with Emit);
//   - the server's reactions to the client beyond what the mock does live: a recorded close or
//     drop happens at its recorded time even if the client would have avoided it, and a token the
//     recording's server expired is still valid on the mock unless the recorded refusal is
//     replayed (see above);
//   - exact timing: frames leave at their scaled offsets within the precision of the Go timer and
//     the scheduler (a millisecond or two), and a client that reads slowly receives them later,
//     because replay waits for room in the connection's send queue rather than overflow it;
//   - secrets: the recording holds placeholders, so tokens, the verification token and signatures
//     are the mock's own, never the recorded ones.
package replayer
