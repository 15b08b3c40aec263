package zoomtest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zoommock/zoommock/replayer"
)

// RecordEnv is the environment variable that switches Cassette from replaying to recording:
// ZOOMTEST_RECORD=1.
const RecordEnv = "ZOOMTEST_RECORD"

// Cassette starts a mock Zoom for t that replays the cassette at path (or a built-in one,
// "builtin:meeting-lifecycle"): every connection the code under test opens plays the recorded
// connection of the same rank, with the recorded events, closes and drops, while tokens,
// build_connection and heartbeats are answered live (see package replayer for what replay keeps
// and what it cannot reproduce). The speed is 0 unless WithSpeed says otherwise: events come as
// fast as the client reads them, so a recording of minutes replays in milliseconds.
//
// What the client does is compared with what the recording's client did: when the test ends,
// every difference (an extra or different frame, missing heartbeats, another close, a token
// reused, a connection more or less) fails it with a go-cmp diff, as WithReplayStrictness
// decides. Call WaitForReplay to wait until the whole recording was played.
//
// The modes, go-vcr's "record once":
//
//   - The cassette exists: it is replayed, offline and without credentials.
//   - The cassette is missing: the test fails with the command that records it, once, against the
//     real Zoom: ZOOMTEST_RECORD=1 with ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, ZOOM_ACCOUNT_ID and
//     ZOOM_SUBSCRIPTION_ID in the environment.
//   - ZOOMTEST_RECORD=1: the test records through the recording proxy instead of replaying. The
//     recorder package is not built yet: until it is, record mode fails the test saying so.
//
// Options are NewServer's, plus WithSpeed, WithStepping and WithReplayStrictness.
func Cassette(t testing.TB, path string, opts ...Option) *Server {
	t.Helper()
	set := newSettings(opts)
	switch v := os.Getenv(RecordEnv); v {
	case "", "0", "false":
	default:
		if on, err := strconv.ParseBool(v); err != nil || !on {
			t.Fatalf("zoomtest: %s=%q: set it to 1 to record %s, or unset it to replay", RecordEnv, v, path)
			return nil
		}
		return recordCassette(t, path, set)
	}
	if !strings.HasPrefix(path, replayer.BuiltinPrefix) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("zoomtest: cassette %s does not exist. Record it once against Zoom with\n"+
				"\t%s=1 ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=... ZOOM_ACCOUNT_ID=... ZOOM_SUBSCRIPTION_ID=... go test -run '%s' .\n"+
				"then commit it: later runs replay it, offline and without credentials", path, RecordEnv, runPattern(t.Name()))
			return nil
		}
	}
	p, err := replayer.Open(path, append([]replayer.Option{replayer.WithSpeed(0)}, set.replay...)...)
	if err != nil {
		t.Fatalf("zoomtest: Cassette: %v", err)
		return nil
	}
	for _, w := range p.Warnings() {
		t.Logf("zoomtest: cassette %s: %s", path, w)
	}
	set.mock.Playback = p
	return newServer(t, set)
}

// recordCassette is Cassette in record mode: it will start the recording proxy of package recorder
// in front of the real Zoom, point the returned Server's URLs at it, and write the cassette at path
// when the test ends. The recorder is not merged yet.
func recordCassette(t testing.TB, path string, _ settings) *Server {
	t.Helper()
	t.Fatalf("zoomtest: %s=1: recording %s needs the recorder package (not built yet); unset %s to replay an existing cassette",
		RecordEnv, path, RecordEnv)
	return nil
}

// runPattern is the go test -run pattern that selects exactly the test named name ("TestX/sub").
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// Playback is the replay of a Server made by Cassette (nil for NewServer's): its Status, Diff and
// Step, for what this package does not wrap.
func (s *Server) Playback() *replayer.Playback { return s.mock.Playback() }

// WaitForReplay waits until every recorded connection has been opened by the client and played to
// its end. When ctx ends first (or the wait timeout passes) it fails the test with how far the
// replay got and what the client did, for example "the replay of testdata/x.cassette did not
// finish within 5s: the client opened 1 of 2 recorded connections; connection c1 was closed ...".
func (s *Server) WaitForReplay(ctx context.Context) {
	s.t.Helper()
	p := s.Playback()
	if p == nil {
		s.t.Fatalf("zoomtest: WaitForReplay: this server replays no cassette (start it with zoomtest.Cassette)")
		return
	}
	done := p.Done()
	finished := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	if ok, within := s.waitOn(ctx, done, finished); !ok {
		st := p.Status()
		opened := 0
		for _, c := range st.Connections {
			if c.Live != "" {
				opened++
			}
		}
		s.t.Fatalf("zoomtest: the replay of %s did not finish %s: the client opened %d of %d recorded connections; %s",
			p.Name(), within, opened, st.RecordedConnections, activity(s.mock.Journal()))
	}
}

// Step releases the next recorded frame of a Server made by Cassette with WithStepping, and
// returns what it was. It waits for the client to be connected; when ctx ends first (or the wait
// timeout passes) it fails the test.
func (s *Server) Step(ctx context.Context) replayer.StepResult {
	s.t.Helper()
	p := s.Playback()
	if p == nil {
		s.t.Fatalf("zoomtest: Step: this server replays no cassette (start it with zoomtest.Cassette and WithStepping)")
		return replayer.StepResult{}
	}
	ctx, cancel := s.waitContext(ctx)
	defer cancel()
	res, err := p.Step(ctx)
	if err != nil {
		s.t.Fatalf("zoomtest: Step: %v; %s", err, activity(s.mock.Journal()))
	}
	return res
}

// reportReplay fails the test with every difference between the client and the recording's
// client, once the playback is finished. The cleanup of a Server calls it before anything else.
func (s *Server) reportReplay() {
	p := s.Playback()
	if p == nil {
		return
	}
	p.Finish()
	if d := p.Diff(); d != "" {
		s.t.Errorf("zoomtest: the client did not do what the recording's client did (cassette %s):\n%s", p.Name(), d)
	}
}
