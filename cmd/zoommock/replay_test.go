package main

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
)

// serveInProcess runs a long-running command (serve or replay) in-process on a free port, and
// returns its address and stderr once the banner is out. stop ends it like SIGTERM and returns its
// exit status; the test's cleanup stops it too. cliMu is held while urfave/cli sets up and tears
// down, the moments it writes its globals.
func serveInProcess(t *testing.T, args ...string) (addr string, stdout, stderr *lockedBuffer, stop func() int) {
	t.Helper()
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	cliMu.Lock()
	go func() {
		done <- run(ctx, append([]string{"zoommock"}, append(args, "--addr", "127.0.0.1:0")...), stdout, stderr)
	}()
	re := regexp.MustCompile(`serving a mock Zoom on (127\.0\.0\.1:\d+)\n(?s:.*)-{60}\n`)
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		}
		select {
		case code := <-done:
			cliMu.Unlock()
			cancel()
			t.Fatalf("%v exited %d before serving: %s", args, code, stderr)
		default:
		}
	}
	cliMu.Unlock()
	if addr == "" {
		cancel()
		<-done
		t.Fatalf("%v printed no banner: %s %s", args, stdout, stderr)
	}
	code, stopped := 0, false
	stop = func() int {
		if !stopped {
			stopped = true
			cliMu.Lock()
			cancel()
			code = <-done
			cliMu.Unlock()
		}
		return code
	}
	t.Cleanup(func() { stop() })
	return addr, stdout, stderr, stop
}

// `zoommock replay builtin:NAME` needs no file: the client gets the recorded events, and the
// replay says in its log and in GET /_mock/replay that the client did what the recording's did.
func TestReplayCommand(t *testing.T) {
	t.Parallel()
	addr, stdout, stderr, stop := serveInProcess(t, "replay", "builtin:meeting-lifecycle", "--speed", "0")
	if want := "  replaying:       builtin:meeting-lifecycle: 1 connection, 7 events, 2m5s recorded (as fast as possible)\n" +
		"  replay status:   http://" + addr + "/_mock/replay\n"; !strings.Contains(stdout.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, stdout)
	}
	app := mockserver.DevApp()
	ws := dialWS(t, addr, app.Subscriptions[0].ID, getToken(t, addr, app, "account_credentials"))
	wantFrame(t, ws, `{"module":"build_connection","success":true,"content":"connected","header":{}}`)
	var events []string
	for range 7 {
		var f struct{ Content string }
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		events = append(events, strings.SplitN(f.Content, `"`, 5)[3])
	}
	if got := strings.Join(events, " "); got != "meeting.started meeting.participant_joined meeting.participant_joined "+
		"meeting.participant_left meeting.participant_left meeting.ended recording.completed" {
		t.Errorf("events: %s", got)
	}
	_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "consumer shutting down"))
	readClose(t, ws)
	var st struct {
		State    string `json:"state"`
		Faithful bool   `json:"faithful"`
	}
	adminJSON(t, http.MethodGet, "http://"+addr+"/_mock/replay", nil, &st)
	if st.State != "played" || !st.Faithful {
		t.Errorf("GET /_mock/replay: %+v", st)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr.String(), `msg="replay finished: the client did what the recording's client did"`) {
		t.Errorf("no summary in the log:\n%s", stderr)
	}
}

// serve --cassette replays too; a recorded refusal of a token is replayed as recorded, and what the
// client never did is logged when the mock stops.
func TestServeCassette(t *testing.T) {
	t.Parallel()
	addr, _, stderr, stop := serveInProcess(t, "serve", "--cassette", filepath.Join("testdata", "refused-token.jsonl"), "--speed", "0")
	app := mockserver.DevApp()
	ws := dialWS(t, addr, app.Subscriptions[0].ID, getToken(t, addr, app, "account_credentials"))
	wantFrame(t, ws, `{"module":"build_connection","success":false,"content":"Token is invalid","header":{}}`)
	if ce := readClose(t, ws); ce.Code != 1008 || ce.Text != "invalid_token" {
		t.Errorf("close %v, want the recorded 1008 invalid_token", ce)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`level=WARN msg="replay differs from the recording" cassette=testdata/refused-token.jsonl conn="" live="" what=connections diff="  replayer.connections{\n- \tCount: 2,\n+ \tCount: 1,\n  }\n"`,
		`msg="replay finished: the client differs from the recording" cassette=testdata/refused-token.jsonl differences=1`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, stderr)
		}
	}
}

func TestReplayAndVerifyUsage(t *testing.T) {
	t.Parallel()
	bad := writeFile(t, t.TempDir(), "bad.jsonl", `{"format":"zoommock-cassette","version":"1.0"}`+"\n"+
		`{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","status":"ok"}`+"\n")
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"replay"}, 2, "replay needs exactly one CASSETTE (a cassette file (zstd or JSON lines) or builtin:NAME, NAME one of meeting-lifecycle, server-drop, token-expiry), got 0 arguments"},
		{[]string{"replay", "builtin:nope"}, 2, `no such built-in cassette "nope": the built-in cassettes are meeting-lifecycle, server-drop, token-expiry`},
		{[]string{"replay", "builtin:server-drop", "--replay-strict", "some"}, 2, `--replay-strict: bad replay option: unknown strictness "some": use off, frames or all`},
		{[]string{"replay", "builtin:server-drop", "--speed", "-2"}, 2, "--speed -2: use 1 (real time)"},
		{[]string{"replay", bad}, 1, `failed to load ` + bad + `: record 1 (line 2): field "status"`},
		{[]string{"replay", filepath.Join(t.TempDir(), "none.cassette")}, 1, "no such file or directory"},
		{[]string{"serve", "--speed", "2"}, 2, "--speed needs --cassette FILE (or use zoommock replay CASSETTE)"},
		{[]string{"verify"}, 2, "verify needs exactly one CASSETTE"},
		{[]string{"verify", "builtin:nope"}, 2, `no such built-in cassette "nope"`},
		{[]string{"verify", "builtin:server-drop", "--target", "nonsense"}, 2, `--target "nonsense": want a base URL such as http://127.0.0.1:9876`},
		{[]string{"verify", "builtin:server-drop", "--target", deadURL(t)}, 1, "failed to send HTTP exchange 1 (POST http://"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// deadURL is the base URL of a port nothing listens on.
func deadURL(t *testing.T) string { return "http://" + deadAddr(t) }

// verify passes against the mock for a cassette shaped like a recording of it, and fails with a
// readable diff against a mock set up otherwise than the recorded server.
func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	base := inProcessMock(t, mockserver.Config{}, nil)
	code, stdout, stderr := runCLI(t, "verify", "builtin:meeting-lifecycle", "--target", base, "--speed", "0")
	if code != 0 || stdout != "builtin:meeting-lifecycle against "+base+": 1 HTTP exchange, 1 connection and 5 answers compared "+
		"(0 events received, not compared): the server answered as recorded\n" {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}

	addr, _, _, _ := serveInProcess(t, "serve", "--invalid-token-text", "Invalid Token")
	cassette := filepath.Join("testdata", "refused-token.jsonl")
	code, stdout, stderr = runCLI(t, "verify", cassette, "--target", "http://"+addr, "--speed", "0")
	want := cassette + " against http://" + addr + ": 1 HTTP exchange, 2 connections and 3 answers compared (0 events received, not compared): 1 differ from the recording\n" +
		"connection c1: answers differ (-recorded +live):\n" +
		"  []any{\n" +
		"  \tmap[string]any{\n" +
		"- \t\t\"content\": string(\"Token is invalid\"),\n" +
		"+ \t\t\"content\": string(\"Invalid Token\"),\n" +
		"  \t\t\"header\":  map[string]any{},\n" +
		"  \t\t\"module\":  string(\"build_connection\"),\n" +
		"  \t\t\"success\": bool(false),\n" +
		"  \t},\n" +
		"  }\n"
	if code != 1 || stdout != want || stderr != "zoommock: the server's answers differ from the recording (see above)\n" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", code, stdout, want, stderr)
	}
}

func TestFlagsFirst(t *testing.T) {
	t.Parallel()
	app := newApp(nil, nil)
	for _, tt := range []struct{ in, want string }{
		{"zoommock verify x.cassette --target http://h --speed -2", "zoommock verify --target http://h --speed -2 x.cassette"},
		{"zoommock replay builtin:server-drop --replay-step --speed=0 --addr :0", "zoommock replay --replay-step --speed=0 --addr :0 builtin:server-drop"},
		{"zoommock emit - --subscription s", "zoommock emit --subscription s -"},
		{"zoommock verify -- --odd-name.cassette", "zoommock verify -- --odd-name.cassette"},
		{"zoommock nosuch a --b", "zoommock nosuch a --b"},
		{"zoommock cassette pack in.jsonl out.cassette --force", "zoommock cassette pack --force in.jsonl out.cassette"},
		{"zoommock cassette inspect x.cassette --json", "zoommock cassette inspect --json x.cassette"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("flagsFirst(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
