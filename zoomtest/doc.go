// Package zoomtest starts a mock Zoom in a Go test, so code that consumes Zoom's WebSocket event
// subscriptions is tested against Zoom's real wire behaviour without a Zoom account or a network:
//
//	srv := zoomtest.NewServer(t)             // started on a loopback port, closed by t.Cleanup
//	cfg := srv.Config()                      // TokenURL, WebSocketURL, ClientID, ClientSecret, ...
//	// start the code under test with cfg
//	srv.WaitForConnection(ctx)
//	srv.Emit(zoomtest.MeetingStarted())      // or any JSON event
//	srv.DropConnections()                    // then check that it reconnects
//	srv.CheckClient()                        // fails the test with what the client did wrong
//
// # What it does
//
// The Server is package mockserver on an httptest listener: the token endpoint (S2S OAuth, Basic
// credentials, Zoom's exact error bodies), the /ws endpoint with build_connection, heartbeat
// replies, heartbeat enforcement, signed message frames whose content is a JSON string, and every
// documented failure (token is empty, Invalid Token, close codes). Options set every behaviour
// that Zoom does not document, so a test can pin the one it depends on.
//
// The test steers it: Emit events, close or drop connections, expire or invalidate tokens, and
// switch faults on (stop answering heartbeats, delay, backdate or duplicate events). The waiters
// (WaitForConnection, WaitForHeartbeats, WaitForClose, WaitFor) block until the client has done
// something, and when it does not, fail the test with what it did instead: "no connection within
// 2s; the client's last attempt (c1) failed: token is empty (no access_token in the query
// string)".
// Journal returns everything the mock saw as typed entries for go-cmp; Mistakes and CheckClient
// turn them into sentences about what the client did wrong.
//
// # Cassettes
//
// Cassette replays a recording instead: zoomtest.Cassette(t, "testdata/billing.cassette") starts
// the same Server, whose connections play the recorded events, closes and drops of the recording
// (as fast as the client reads unless WithSpeed says otherwise), while tokens, build_connection and
// heartbeats stay live. When the test ends, whatever the client did differently from the
// recording's client fails it with a go-cmp diff. A missing cassette fails the test with the
// command that records it (ZOOMTEST_RECORD=1 and real credentials), the go-vcr "record once"
// convention; "builtin:meeting-lifecycle" and the other built-in cassettes need no file.
//
// NewServer's cleanup closes every WebSocket with 1001, waits for every goroutine the server
// started, and closes the listener, so tests can run in parallel and pass goleak. Server methods
// report through the testing.TB given to NewServer: call them from that test's goroutine.
//
// # What it does not do
//
// It is not Zoom. Where Zoom's behaviour is unknown the mock guesses (the defaults are listed on
// mockserver.Config), and a client that passes here can still meet something new in production.
// It does not speak TLS (ws:// and http://, so point the client at the URLs given here), does not
// serve Zoom's REST API, and does not simulate network latency or a slow Zoom beyond the named
// faults. Events are only what the test emits or the cassette replays: nothing happens on its own,
// and an event emitted while the client is not connected is lost, as it is with Zoom.
package zoomtest
