// Package mockserver is a faithful mock of Zoom's WebSocket event subscriptions: the S2S OAuth
// token endpoint (POST /oauth/token), the event socket (GET /ws) and an admin API under /_mock/
// that pushes events and injects faults.
//
// A Server is an http.Handler, so it runs under net/http, httptest or any router, plus a
// lifecycle: http.Server does not track the connections it hands to a WebSocket, so Shutdown
// closes every one of them with 1001 and waits for every goroutine the Server started.
//
// # Fidelity
//
// What was seen on the real wire is reproduced byte for byte: the token response and its three
// error bodies, the build_connection failure for a missing token, the heartbeat reply, and the
// message envelope whose content is the webhook body serialized as a JSON string, signed like a
// webhook. Everything zoom-protocol.md marks as a guess is a Config field, so a user who learns
// Zoom's real behaviour switches to it without a code change.
//
// The wire answers stay terse, as Zoom's are; what the client did wrong is said in words in the
// Journal notes, the log, and the X-Zoommock-Hint header of token errors.
//
// # Concurrency
//
// Each connection has one reader goroutine. Writes go through a per-connection queue whose writer
// goroutine exists only while frames wait, so an idle connection costs one goroutine and timers,
// and a client that stops reading is dropped when its queue fills or a write times out; it never
// delays an emitter or another client. Heartbeat enforcement uses a timer re-armed lazily from the
// time of the last heartbeat, so a heartbeat costs an atomic store.
//
// # Replay
//
// Config.Playback (or LoadPlayback at run time, or POST /_mock/replay) makes the mock replay a
// cassette through package replayer: each connection that passes build_connection runs the
// recorded connection of the same rank in a goroutine owned by the connection, stopped when it
// ends. Replayed frames go through the connection's write queue like every other frame, so they
// keep their order with build_connection, heartbeat replies and live events; instead of
// overflowing the queue of a slow client they wait for room. Tokens, build_connection and
// heartbeats stay live. The mock reports to the playback what the client does (its frames, how
// it closed) before the client can see any answer, so the playback's comparison is never behind.
//
// # What it does not do
//
// No REST API (api_url points at Zoom's), no rate limits, no permessage-deflate, and events are
// never queued for a later connection unless Config.BufferEvents asks for it: Zoom drops them.
package mockserver
