package main

import (
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

var recordingOn = regexp.MustCompile(`zoommock is recording on (\S+) into`)

// session is an application's session through a recorder at addr: token, connect, a heartbeat and
// one event, as the records the cassette must hold.
func session(t *testing.T, srv *zoomtest.Server, addr string) (*websocket.Conn, []cassettes.Record, []string) {
	t.Helper()
	cfg := srv.Config()
	app := mockserver.App{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, AccountID: cfg.AccountID}
	token := getToken(t, addr, app, "account_credentials")
	ws := dialWS(t, addr, cfg.SubscriptionID, token)
	wantFrame(t, ws, `{"module":"build_connection","success":true,"content":"connected","header":{}}`)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`)); err != nil {
		t.Fatal(err)
	}
	wantFrame(t, ws, `{"module":"heartbeat","success":true,"content":"live","header":{}}`)
	srv.Emit(zoomtest.MeetingStarted())
	event := readFrame(t, ws)
	frame := func(from cassettes.Side, payload string) cassettes.Record {
		return cassettes.Record{Frame: &cassettes.Frame{Conn: "c1", From: from, Opcode: cassettes.Text, Payload: payload}}
	}
	want := []cassettes.Record{
		{HTTP: &cassettes.HTTPExchange{Method: "POST", Path: "/oauth/token"}},
		{Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=" + cfg.SubscriptionID + "&access_token=REDACTED-TOKEN-1", Status: 101}},
		frame(cassettes.Server, `{"module":"build_connection","success":true,"content":"connected","header":{}}`),
		frame(cassettes.Client, `{"module":"heartbeat"}`),
		frame(cassettes.Server, `{"module":"heartbeat","success":true,"content":"live","header":{}}`),
		frame(cassettes.Server, strings.ReplaceAll(event, cfg.VerificationToken, "REDACTED-VERIFICATION-1")),
	}
	secrets := []string{cfg.ClientSecret, token, cfg.VerificationToken, base64.StdEncoding.EncodeToString([]byte(cfg.ClientID + ":" + cfg.ClientSecret))}
	return ws, want, secrets
}

// checkCassette compares the records at path with want (the HTTP exchange by method and path
// only) and looks for secrets; wantErr is the error reading it must end with (nil: a clean end).
func checkCassette(t *testing.T, path string, want []cassettes.Record, secrets []string, wantErr error) {
	t.Helper()
	_, got, err := cassettes.ReadFile(path)
	if !errors.Is(err, wantErr) {
		t.Errorf("reading the cassette: %v, want %v", err, wantErr)
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(cassettes.Record{}, "Offset"),
		cmpopts.IgnoreFields(cassettes.HTTPExchange{}, "Query", "RequestHeader", "Status", "ResponseHeader", "ResponseBody")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if found, err := cassettes.ContainsAny(data, secrets...); err != nil || len(found) > 0 {
		t.Errorf("the cassette holds secrets %q (%v)", found, err)
	}
}

// A recorder process killed with SIGKILL mid-session leaves a cassette that reads back up to the
// last record, and reports the cut; SIGTERM instead finishes the cassette cleanly and exits 0.
func TestRecordProcess(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			srv := zoomtest.NewServer(t)
			out := filepath.Join(t.TempDir(), "killed.cassette")
			p := helperProcess(t, "record", "--listen", "127.0.0.1:0", "--out", out, "--oauth-upstream", srv.URL, "--ws-upstream", srv.URL)
			addr := p.stdout.waitFor(t, recordingOn, "the record banner")[1]
			ws, want, secrets := session(t, srv, addr)
			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := p.wait(t)
			if sig == syscall.SIGKILL {
				checkCassette(t, out, want, secrets, cassettes.ErrTruncated)
				// cat prints what reads, and says where the file was cut.
				code, stdout, stderr := runCLI(t, "cassette", "cat", out)
				if code != 1 || strings.Count(stdout, "\n") != len(want)+1 || !strings.Contains(stderr, "cassette truncated after record 6") {
					t.Errorf("cat of the killed cassette: exit %d\n%s\n%s", code, stdout, stderr)
				}
				return
			}
			if code != 0 {
				t.Errorf("exit %d after SIGTERM, want 0", code)
			}
			if ce := readClose(t, ws); ce.Code != websocket.CloseGoingAway {
				t.Errorf("the application saw %d %q, want 1001", ce.Code, ce.Text)
			}
			checkCassette(t, out, want, secrets, nil)
			if !strings.Contains(p.stdout.String(), "zoommock recorded 6 records (1 connection, 1 event, 1 heartbeat) into "+out) {
				t.Errorf("no summary:\n%s", p.stdout)
			}
			if !strings.Contains(p.stderr.String(), `msg="connection opened" conn=c1 path=/ws status=101`) {
				t.Errorf("no log lines on standard error, which is no terminal:\n%s", p.stderr)
			}
		})
	}
}

// Direct mode, with credentials from the ZOOM_* variables Zoom's samples use, records until
// --duration, then closes with 1000 and exits 0.
func TestRecordDirectFromEnvironment(t *testing.T) {
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	for k, v := range map[string]string{"ZOOM_CLIENT_ID": cfg.ClientID, "ZOOM_CLIENT_SECRET": cfg.ClientSecret,
		"ZOOM_ACCOUNT_ID": cfg.AccountID, "ZOOM_SUBSCRIPTION_ID": cfg.SubscriptionID} {
		t.Setenv(k, v)
	}
	out := filepath.Join(t.TempDir(), "direct.cassette")
	emitted := make(chan error, 1)
	go func() { // once connected, one event
		for deadline := time.Now().Add(5 * time.Second); len(srv.Mock().Connections()) == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				emitted <- errors.New("the recorder did not connect within 5s")
				return
			}
		}
		_, err := srv.Mock().Emit("", []byte(`{"event":"user.created","payload":{"account_id":"a","object":{"id":"u1"}}}`))
		emitted <- err
	}()
	code, stdout, stderr := runCLI(t, "record", "--direct", "--out", out, "--oauth-upstream", srv.URL, "--ws-upstream", srv.URL,
		"--heartbeat-interval", "20ms", "--duration", "500ms")
	if err := <-emitted; err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(stdout, "zoommock is recording subscription "+cfg.SubscriptionID) ||
		!regexp.MustCompile(`recorded \d+ records \(1 connection, 1 event, \d+ heartbeats\)`).MatchString(stdout) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	h, recs, err := cassettes.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if h.Meta["mode"] != "direct" || !strings.HasSuffix(h.Recorder, "record --direct") || h.Created.IsZero() {
		t.Errorf("header %+v", h)
	}
	if last := recs[len(recs)-1]; last.Close == nil || *last.Close != (cassettes.WSClose{Conn: "c1", By: cassettes.Client, Code: 1000}) {
		t.Errorf("last record %+v, want the client's close 1000", last)
	}
	data, _ := os.ReadFile(out)
	if found, _ := cassettes.ContainsAny(data, cfg.ClientSecret, cfg.VerificationToken); len(found) > 0 {
		t.Errorf("secrets in the cassette: %q", found)
	}
}

// Every problem with the command line or the output file is reported before anything is dialled.
func TestRecordRefusesBeforeConnecting(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	upstream := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	dir := t.TempDir()
	existing := writeFile(t, dir, "existing.cassette", "precious")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	direct := []string{"--direct", "--client-id", "id", "--client-secret", "secret", "--account-id", "acc", "--subscription-id", "sub",
		"--oauth-upstream", upstream, "--ws-upstream", upstream}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{}, 2, "--out FILE is required"},
		{"argument", []string{"--out", "x", "extra"}, 2, `record takes no arguments, got ["extra"]`},
		{"no credentials", []string{"--out", "x", "--direct", "--client-id", "id"}, 2,
			"--direct needs the app's credentials: --client-secret (or ZOOM_CLIENT_SECRET), --account-id (or ZOOM_ACCOUNT_ID), --subscription-id (or ZOOM_SUBSCRIPTION_ID)"},
		{"oauth upstream", []string{"--out", "x", "--oauth-upstream", "zoom.us"}, 2, `--oauth-upstream: OAuth upstream "zoom.us": want a scheme and a host, such as https://zoom.us`},
		{"ws upstream path", []string{"--out", "x", "--ws-upstream", "wss://ws.zoom.us/ws?subscriptionId=1"}, 2, "--ws-upstream: WebSocket upstream"},
		{"heartbeat", []string{"--out", "x", "--heartbeat-interval", "0s"}, 2, "--heartbeat-interval: heartbeat interval 0s: must be positive"},
		{"duration", []string{"--out", "x", "--duration", "-1s"}, 2, "--duration -1s: must be positive"},
		{"listen", []string{"--out", "x", "--listen", "9877"}, 2, `--listen "9877": want HOST:PORT`},
		{"log level", []string{"--out", "x", "--log-level", "loud"}, 2, `--log-level "loud"`},
		{"exists", append([]string{"--out", existing}, direct...), 1, "--out " + existing + " already exists: choose another file, or add --force to overwrite it"},
		{"no directory", append([]string{"--out", filepath.Join(dir, "missing", "x.cassette")}, direct...), 1,
			"cannot write --out " + filepath.Join(dir, "missing", "x.cassette") + ": failed to create cassette: open " + filepath.Join(dir, "missing", "x.cassette") + ": no such file or directory"},
		{"a directory", append([]string{"--out", dir, "--force"}, direct...), 1, "cannot write --out " + dir},
		{"disk full", append([]string{"--out", "/dev/full", "--force"}, direct...), 1, "no space left on device"},
		{"port busy", []string{"--out", filepath.Join(dir, "y.cassette"), "--listen", busy.Addr().String(), "--oauth-upstream", upstream},
			1, "failed to listen on --listen " + busy.Addr().String()},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(t, append([]string{"record"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d saying %q", tt.name, code, stderr, tt.code, tt.want)
		}
		if strings.Contains(stdout, "OPTIONS:") {
			t.Errorf("%s: a usage error printed the whole help page", tt.name)
		}
	}
	if data, _ := os.ReadFile(existing); string(data) != "precious" {
		t.Errorf("the existing cassette was changed to %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "y.cassette")); err == nil {
		t.Errorf("a cassette was created although the recorder could not listen")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the upstream was contacted %d times", n)
	}
}

// An upstream that cannot be reached, or refuses the credentials, fails a direct recording with
// the upstream's name and what to check.
func TestRecordDirectUpstreamFailures(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	dead := "http://" + deadAddr(t)
	for _, tt := range []struct {
		upstream, secret, want string
	}{
		{dead, cfg.ClientSecret, "failed to reach " + dead},
		{srv.URL, "wrong-secret", "the token endpoint " + srv.URL + " answered 400 Bad Request: {\"reason\":\"Invalid client_id or client_secret\",\"error\":\"invalid_client\"} (check the client id, client secret and account id)"},
	} {
		out := filepath.Join(t.TempDir(), "x.cassette")
		code, _, stderr := runCLI(t, "record", "--direct", "--out", out, "--oauth-upstream", tt.upstream, "--ws-upstream", tt.upstream,
			"--client-id", cfg.ClientID, "--client-secret", tt.secret, "--account-id", cfg.AccountID, "--subscription-id", cfg.SubscriptionID)
		if code != 1 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "(the records before it are in "+out+")") {
			t.Errorf("exit %d, stderr %q; want 1 saying %q", code, stderr, tt.want)
		}
		if err := cassettes.Validate(mustOpen(t, out)); err != nil {
			t.Errorf("the cassette of a failed recording is not finished cleanly: %v", err)
		}
	}
}
