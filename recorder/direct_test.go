package recorder_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/recorder"
	"github.com/zoommock/zoommock/zoomtest"
)

// directTo returns a Direct recording a session of cfg against the mock at base, and the path of
// its cassette. The cassette is closed when the test ends, if the test did not.
func directTo(t *testing.T, base string, creds recorder.Credentials, opts ...recorder.Option) (*recorder.Direct, *cassettes.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "direct.cassette")
	cw, err := cassettes.Create(path, cassettes.Header{Recorder: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cw.Close() })
	opts = append([]recorder.Option{recorder.WithOAuthUpstream(base), recorder.WithWSUpstream(base),
		recorder.WithHeartbeatInterval(10 * time.Millisecond)}, opts...)
	d, err := recorder.NewDirect(cw, creds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d, cw, path
}

// tapTokens passes every request to h and copies the bodies of token responses to w.
func tapTokens(h http.Handler, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			_, _ = w.Write(rec.Body.Bytes())
			for k, vs := range rec.Header() {
				rw.Header()[k] = vs
			}
			rw.WriteHeader(rec.Code)
			_, _ = rw.Write(rec.Body.Bytes())
			return
		}
		h.ServeHTTP(rw, r)
	})
}

func credsOf(cfg zoomtest.Config) recorder.Credentials {
	return recorder.Credentials{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, AccountID: cfg.AccountID, SubscriptionID: cfg.SubscriptionID}
}

// Direct mode: zoommock is the client. It gets a token, connects, sends heartbeats and records
// them, their answers and an event, and on cancel closes with 1000. What the mock's journal saw
// on each side is what the cassette holds, in the same order.
func TestDirectRecordsSession(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	logs := &syncBuffer{}
	tokens := &syncBuffer{} // the token responses, to look for the token in the cassette
	base := newServer(t, tapTokens(srv.Mock(), tokens))
	d, cw, path := directTo(t, base, credsOf(cfg), recorder.WithLogger(newLogger(logs)))
	ctx, cancel := context.WithCancel(ctxFor(t))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	srv.WaitForHeartbeats(ctxFor(t), 3)
	conn := srv.WaitForConnection(ctxFor(t)).ID
	srv.Emit(zoomtest.MeetingStarted())
	eventually(t, "the event is recorded", func() bool { return d.Stats().Events == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if e := srv.WaitForClose(ctxFor(t), conn); *e.Close != (mockserver.CloseEntry{By: "client", Code: 1000}) {
		t.Errorf("the mock saw %+v, want the client's 1000", *e.Close)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	_, got, err := cassettes.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// The first records and the last are fixed; in between, each side's frames are those the
	// mock's journal lists for that side.
	journal := srv.Journal()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(tokens.String()), &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", tokens, err)
	}
	token := tr.AccessToken
	if len(got) < 4 {
		t.Fatalf("only %d records: %+v", len(got), got)
	}
	tok := got[0].HTTP
	if tok == nil || tok.Status != 200 || tok.RequestHeader.Get("Authorization") != "Basic REDACTED-BASIC-1" ||
		!strings.Contains(tok.ResponseBody, `"access_token":"REDACTED-TOKEN-1"`) {
		t.Errorf("record 1 is not the redacted token exchange: %+v", got[0])
	}
	diffRecords(t, got[1:3], opened(cfg))
	diffRecords(t, got[len(got)-1:], []cassettes.Record{closed("c1", cassettes.Client, 1000, "")})
	var fromJournal, fromCassette [2][]string
	side := map[cassettes.Side]int{cassettes.Client: 0, cassettes.Server: 1}
	for _, e := range journal {
		switch e.Kind {
		case mockserver.KindClientFrame:
			fromJournal[0] = append(fromJournal[0], e.Frame.Payload)
		case mockserver.KindServerFrame:
			fromJournal[1] = append(fromJournal[1], strings.ReplaceAll(e.Frame.Payload, cfg.VerificationToken, "REDACTED-VERIFICATION-1"))
		}
	}
	for _, r := range got {
		if r.Frame != nil {
			fromCassette[side[r.Frame.From]] = append(fromCassette[side[r.Frame.From]], r.Frame.Payload)
		}
	}
	if diff := cmp.Diff(fromJournal, fromCassette); diff != "" {
		t.Errorf("frames by side, journal (-) and cassette (+):\n%s", diff)
	}
	for i, p := range fromCassette[0] {
		if p != heartbeat {
			t.Errorf("client frame %d is %s, want a heartbeat", i+1, p)
		}
	}
	st := d.Stats()
	if st.Events != 1 || st.Heartbeats != len(fromCassette[0]) || st.Heartbeats < 3 || st.Records != len(got) {
		t.Errorf("stats %+v for %d records, %d heartbeats", st, len(got), len(fromCassette[0]))
	}
	noSecrets(t, path, logs.String(), secretsOf(cfg, token)...)
	if err := d.Run(ctx); !errors.Is(err, recorder.ErrClosed) {
		t.Errorf("a second Run: %v, want ErrClosed", err)
	}
}

// The server ending the session ends Direct without an error; every way is recorded.
func TestDirectServerEndsSession(t *testing.T) {
	t.Parallel()
	for _, drop := range []bool{false, true} {
		t.Run(map[bool]string{false: "close 1011", true: "drop"}[drop], func(t *testing.T) {
			t.Parallel()
			srv := zoomtest.NewServer(t)
			d, cw, path := directTo(t, srv.URL, credsOf(srv.Config()), recorder.WithHeartbeatInterval(time.Hour))
			done := make(chan error, 1)
			go func() { done <- d.Run(ctxFor(t)) }()
			eventually(t, "build_connection is recorded", func() bool { return d.Stats().Frames == 1 })
			want := closed("c1", cassettes.Server, 1011, "upstream trouble")
			if drop {
				srv.DropConnections()
				want = dropped("c1", cassettes.Server)
			} else {
				srv.CloseConnections(1011, "upstream trouble")
			}
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			cw.Close()
			_, got, err := cassettes.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			diffRecords(t, got[1:], append(opened(srv.Config()), want))
		})
	}
}

// Bad credentials, an unknown subscription and an unreachable upstream end Direct with an error
// that names the upstream and what to check; what the upstream answered is recorded first.
func TestDirectFailures(t *testing.T) {
	t.Parallel()
	dead := deadURL(t)
	tests := []struct {
		name    string
		edit    func(*recorder.Credentials)
		dead    bool
		wantErr string
		kinds   []cassettes.Kind
	}{
		{"wrong secret", func(c *recorder.Credentials) { c.ClientSecret = "wrong-secret-value" }, false,
			"answered 400 Bad Request: {\"reason\":\"Invalid client_id or client_secret\",\"error\":\"invalid_client\"} (check the client id", []cassettes.Kind{cassettes.KindHTTP}},
		{"unknown subscription", func(c *recorder.Credentials) { c.SubscriptionID = "noSuchSubscription0000" }, false,
			`refused the connection: build_connection failed with "Invalid subscriptionId" (check the subscription id)`,
			[]cassettes.Kind{cassettes.KindHTTP, cassettes.KindOpen, cassettes.KindFrame, cassettes.KindClose}},
		{"unreachable", func(*recorder.Credentials) {}, true, "failed to reach " + dead, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := zoomtest.NewServer(t)
			creds := credsOf(srv.Config())
			tt.edit(&creds)
			base := srv.URL
			if tt.dead {
				base = dead
			}
			d, cw, path := directTo(t, base, creds)
			err := d.Run(ctxFor(t))
			if !errors.Is(err, recorder.ErrUpstream) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run: %v, want ErrUpstream saying %q", err, tt.wantErr)
			}
			cw.Close()
			_, got, err := cassettes.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []cassettes.Kind
			for _, r := range got {
				kinds = append(kinds, r.Kind())
			}
			if !cmp.Equal(kinds, tt.kinds) {
				t.Errorf("recorded %v, want %v", kinds, tt.kinds)
			}
			noSecrets(t, path, "", creds.ClientSecret)
		})
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		opt  recorder.Option
		want string
	}{
		{recorder.WithOAuthUpstream("zoom.us"), `OAuth upstream "zoom.us": want a scheme and a host, such as https://zoom.us`},
		{recorder.WithOAuthUpstream("ws://zoom.us"), `OAuth upstream "ws://zoom.us": want a scheme and a host`},
		{recorder.WithWSUpstream("wss://ws.zoom.us/ws?subscriptionId=x"), `want the scheme and host only, such as wss://ws.zoom.us (the recorder adds the path and the query)`},
		{recorder.WithWSUpstream("ftp://ws.zoom.us"), `WebSocket upstream "ftp://ws.zoom.us"`},
		{recorder.WithHeartbeatInterval(0), "heartbeat interval 0s: must be positive"},
	}
	for _, tt := range tests {
		err := recorder.CheckOptions(tt.opt)
		if !errors.Is(err, recorder.ErrBadOption) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckOptions: %v, want ErrBadOption saying %q", err, tt.want)
		}
	}
	if err := recorder.CheckOptions(recorder.WithWSUpstream("http://127.0.0.1:1/"), recorder.WithOAuthUpstream("https://api.zoom.us")); err != nil {
		t.Errorf("good options refused: %v", err)
	}
	if _, err := recorder.NewDirect(nil, recorder.Credentials{ClientID: "x"}); !errors.Is(err, recorder.ErrBadOption) || !strings.Contains(err.Error(), "no client secret") {
		t.Errorf("NewDirect without a secret: %v", err)
	}
	if _, err := recorder.NewProxy(nil); !errors.Is(err, recorder.ErrBadOption) {
		t.Errorf("NewProxy without a writer: %v", err)
	}
}
