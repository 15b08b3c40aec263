package replayer_test

import (
	"context"
	"testing"
	"time"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// verify plays recs against the mock at base with the development credentials. grace is only
// waited for an answer that does not come, so a long one slows no passing test, and keeps a loaded
// machine's stalls from being taken for missing answers.
func verify(t *testing.T, base string, recs []cassettes.Record, speed float64, grace time.Duration) replayer.VerifyReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := replayer.Verify(ctx, recs, replayer.VerifyConfig{BaseURL: base, Speed: speed, Grace: grace,
		ClientID: mockserver.DevClientID, ClientSecret: mockserver.DevClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A built-in cassette, shaped like a recording of the mock, verifies against the mock.
func TestVerifyBuiltinAgainstMock(t *testing.T) {
	t.Parallel()
	_, base := startMock(t, nil)
	rep := verify(t, base, builtin(t, "meeting-lifecycle"), 0, 2*time.Second)
	want := replayer.VerifyReport{Exchanges: 1, Connections: 1, Answers: 5}
	if rep.String() != want.String() || !rep.Faithful() {
		t.Errorf("report:\n%s\nwant:\n%s", rep, want)
	}
}

// The mock replaying a built-in cassette, verified with the same cassette's client half: both
// directions agree, for every built-in.
func TestBuiltinsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range cassettes.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := replayer.Open(replayer.BuiltinPrefix+name, replayer.WithSpeed(100))
			if err != nil {
				t.Fatal(err)
			}
			_, base := startMock(t, p)
			if rep := verify(t, base, builtin(t, name), 100, 2*time.Second); !rep.Faithful() {
				t.Errorf("verify:\n%s", rep)
			}
			p.Finish()
			if d := p.Diff(); d != "" {
				t.Errorf("replay:\n%s", d)
			}
		})
	}
}

// A mock configured unlike the recorded server is reported with a readable diff.
func TestVerifyReportsDifferences(t *testing.T) {
	t.Parallel()
	var tp tape
	tok := tp.token(0)
	tp.refused(10*time.Millisecond, "c1", "REDACTED-TOKEN-9", "Token is invalid", 1008, "invalid_token")
	tp.open(20*time.Millisecond, "c2", tok)
	tp.heartbeat(30*time.Millisecond, "c2")
	tp.close(40*time.Millisecond, "c2", cassettes.Client, 1000, "bye")

	_, faithful := startMock(t, nil)
	if rep := verify(t, faithful, tp.records(), 0, 2*time.Second); !rep.Faithful() {
		t.Errorf("against a default mock:\n%s", rep)
	}
	_, old := startMock(t, nil, func(c *mockserver.Config) { c.InvalidTokenText = "Invalid Token" })
	rep := verify(t, old, tp.records(), 0, 2*time.Second)
	want := `1 HTTP exchange, 2 connections and 3 answers compared (0 events received, not compared): 1 differ from the recording
connection c1: answers differ (-recorded +live):
  []any{
  	map[string]any{
- 		"content": string("Token is invalid"),
+ 		"content": string("Invalid Token"),
  		"header":  map[string]any{},
  		"module":  string("build_connection"),
  		"success": bool(false),
  	},
  }`
	if rep.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", rep, want)
	}
}

// A recorded server close the server does not make is reported: the default mock does not close
// at token expiry, and closes the first connection only when the second one replaces it.
func TestVerifyMissingServerClose(t *testing.T) {
	t.Parallel()
	_, base := startMock(t, nil)
	rep := verify(t, base, builtin(t, "token-expiry"), 100, time.Second)
	want := `2 HTTP exchanges, 2 connections and 4 answers compared (0 events received, not compared): 1 differ from the recording
connection c1: close differ (-recorded +live):
  replayer.end{
  	By:     "server",
- 	Code:   1008,
+ 	Code:   1000,
- 	Reason: "invalid_token",
+ 	Reason: "replaced by a newer connection",
  	Abrupt: false,
  }`
	if rep.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", rep, want)
	}
}
