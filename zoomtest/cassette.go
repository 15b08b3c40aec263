package zoomtest

import (
	"context"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/recorder"
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
//   - ZOOMTEST_RECORD=1: the test records through the recording proxy of package recorder instead
//     of replaying, writing the cassette at path (see recordCassette). Config then gives the proxy's
//     URLs with the real credentials; what the test steers on the Server does not reach Zoom.
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

// Environment variables that record mode reads besides RecordEnv: the app's credentials, and the
// upstreams, which default to the real Zoom and may point at any Zoom-compatible server.
const (
	OAuthUpstreamEnv = "ZOOMTEST_OAUTH_UPSTREAM" // default https://zoom.us
	WSUpstreamEnv    = "ZOOMTEST_WS_UPSTREAM"    // default wss://ws.zoom.us
)

// recordCassette is Cassette in record mode: the recording proxy of package recorder stands in
// front of the upstream Zoom, the returned Server's Config points the code under test at the proxy
// with the real credentials from the environment, and the cassette is written to path as the test
// runs (each record flushed as it happens) and finished when the test ends. The Server still has a
// mock behind it so that every method works, but nothing the test steers reaches the real Zoom: a
// test that records is one that lets Zoom send what it sends.
func recordCassette(t testing.TB, path string, set settings) *Server {
	t.Helper()
	creds := Config{
		ClientID:       os.Getenv("ZOOM_CLIENT_ID"),
		ClientSecret:   os.Getenv("ZOOM_CLIENT_SECRET"),
		AccountID:      os.Getenv("ZOOM_ACCOUNT_ID"),
		SubscriptionID: os.Getenv("ZOOM_SUBSCRIPTION_ID"),
		SecretToken:    os.Getenv("ZOOM_SECRET_TOKEN"),
	}
	var missing []string
	for _, kv := range [][2]string{{"ZOOM_CLIENT_ID", creds.ClientID}, {"ZOOM_CLIENT_SECRET", creds.ClientSecret},
		{"ZOOM_ACCOUNT_ID", creds.AccountID}, {"ZOOM_SUBSCRIPTION_ID", creds.SubscriptionID}} {
		if kv[1] == "" {
			missing = append(missing, kv[0])
		}
	}
	if len(missing) > 0 {
		t.Fatalf("zoomtest: %s=1: recording %s needs the app's credentials: set %s", RecordEnv, path, strings.Join(missing, ", "))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("zoomtest: failed to create the cassette's folder: %v", err)
		return nil
	}
	cw, err := cassettes.Create(path, cassettes.Header{Recorder: "zoomtest.Cassette " + t.Name()}, cassettes.WithForce())
	if err != nil {
		t.Fatalf("zoomtest: failed to create cassette %s: %v", path, err)
		return nil
	}
	opts := []recorder.Option{recorder.WithLogger(NewLogger(t))}
	if u := os.Getenv(OAuthUpstreamEnv); u != "" {
		opts = append(opts, recorder.WithOAuthUpstream(u))
	}
	if u := os.Getenv(WSUpstreamEnv); u != "" {
		opts = append(opts, recorder.WithWSUpstream(u))
	}
	proxy, err := recorder.NewProxy(cw, opts...)
	if err != nil {
		_ = cw.Close()
		t.Fatalf("zoomtest: failed to start recording: %v", err)
		return nil
	}
	hs := httptest.NewServer(proxy)
	srv := newServer(t, set) // its cleanup runs after ours (cleanups run last-registered first)
	t.Cleanup(func() {
		proxy.Close()
		hs.Close()
		if err := cw.Close(); err != nil {
			t.Errorf("zoomtest: failed to finish cassette %s: %v", path, err)
			return
		}
		t.Logf("zoomtest: recorded %s: commit it, and later runs replay it", path)
	})
	creds.TokenURL = hs.URL + "/oauth/token"
	creds.WebSocketURL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?subscriptionId=" + creds.SubscriptionID
	srv.recording = &creds
	return srv
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
	if s.recording != nil {
		return // recording: Zoom sends what it sends, and there is no recorded end to wait for
	}
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
