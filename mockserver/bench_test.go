package mockserver

// Benchmarks of the performance targets in design.md. Each measures its baseline in the same run
// and reports the ratio as a metric; BENCHMARKS.md at the repository root has the commands and
// the results. They run only with -bench, and the heavy one also skips under -short.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/internal/loadgen"
	"github.com/zoommock/zoommock/internal/wire"
)

// benchServer is a mock on loopback for benchmarks, shut down when the benchmark ends.
func benchServer(b *testing.B, cfg Config) (*Server, string) {
	b.Helper()
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(s)
	b.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		hs.Close()
	})
	return s, hs.URL
}

// bareServer is the baseline: a plain gorilla/websocket server that upgrades, sends a successful
// build_connection and then only reads (what any gorilla server must do to see a close). Each
// accepted server-side connection is handed to conns when it is not nil.
func bareServer(b *testing.B, conns chan<- *websocket.Conn) string {
	b.Helper()
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	connected := wire.Reply{Module: wire.ModuleBuildConnection, Success: true, Content: "connected"}.Marshal()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, connected); err != nil {
			return
		}
		if conns != nil {
			conns <- ws
		}
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}))
	b.Cleanup(hs.Close)
	return hs.URL
}

// benchClient is the consumer both servers send to: a gorilla client that reads every frame.
type benchClient struct {
	ws     *websocket.Conn
	server *websocket.Conn // the bare server's side of the connection; nil for the mock
}

// dialBench connects to /ws of base with a token from the mock (or none for the bare server) and
// reads build_connection.
func dialBench(b *testing.B, base, token string) *websocket.Conn {
	b.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws?subscriptionId=" + DevSubscriptionID + "&access_token=" + token
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	b.Cleanup(func() { ws.Close() })
	if _, data, err := ws.ReadMessage(); err != nil || !bytes.Contains(data, []byte(`"success":true`)) {
		b.Fatalf("build_connection: %s, %v", data, err)
	}
	return ws
}

// benchToken gets a dev-app token from the mock at base.
func benchToken(b *testing.B, base string) string {
	b.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token?grant_type=account_credentials&account_id="+DevAccountID, nil)
	req.SetBasicAuth(DevClientID, DevClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tr wire.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		b.Fatalf("token: %v", err)
	}
	return tr.AccessToken
}

// receiver reads frames in the background and counts them.
type receiver struct {
	got      atomic.Int64
	progress chan struct{} // signalled every 64 frames
	failed   chan struct{} // closed when reading failed
	done     chan error    // the first read error, or nil once n frames arrived
}

// receive reads n frames from ws in the background.
func receive(ws *websocket.Conn, n int) *receiver {
	r := &receiver{progress: make(chan struct{}, 1), failed: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		for i := range n {
			_, fr, err := ws.NextReader()
			if err == nil {
				_, err = io.Copy(io.Discard, fr)
			}
			if err != nil {
				close(r.failed)
				r.done <- err
				return
			}
			r.got.Store(int64(i + 1))
			if i%64 == 0 {
				select {
				case r.progress <- struct{}{}:
				default:
				}
			}
		}
		r.done <- nil
	}()
	return r
}

// await blocks while more than window of the sent frames are on their way, as a producer that
// respects the mock's send queue (Config.SendQueue) does; a bare writer is held back by its
// blocking writes instead.
func (r *receiver) await(sent, window int) {
	for int(r.got.Load()) < sent-window {
		select {
		case <-r.progress:
		case <-r.failed:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// BenchmarkDelivery measures event throughput from the mock to one client over loopback, through
// the Go API and the admin API, against a bare gorilla/websocket writer sending the same frames to
// the same kind of client in the same run. ns/op is the mock's time per event; x-bare is the
// mock's throughput over the bare writer's (the target is at least 0.8).
func BenchmarkDelivery(b *testing.B) {
	event := []byte(meetingStarted)
	for _, path := range []struct {
		name string
		emit func(b *testing.B, s *Server, base string, n int, r *receiver)
	}{
		{"emit", func(b *testing.B, s *Server, _ string, n int, r *receiver) {
			for i := range n {
				if i%64 == 0 {
					r.await(i, sendWindow)
				}
				if _, err := s.Emit(DevSubscriptionID, event); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"admin-events", func(b *testing.B, _ *Server, base string, n int, _ *receiver) { adminEvents(b, base, event, n, 4) }},
		{"admin-burst", func(b *testing.B, _ *Server, base string, n int, _ *receiver) {
			for n > 0 {
				count := min(n, MaxBurstCount)
				body, _ := json.Marshal(map[string]any{"event": json.RawMessage(event), "count": count, "subscriptionId": DevSubscriptionID})
				post(b, http.DefaultClient, base+"/_mock/burst", body)
				n -= count
			}
		}},
	} {
		b.Run(path.name, func(b *testing.B) {
			b.ReportAllocs() // of the mock's part: the timer runs only while it delivers
			s, base := benchServer(b, Config{})
			ws := dialBench(b, base, benchToken(b, base))
			// The bare writer sends the very frame the mock sends for this event.
			if _, err := s.Emit("", event); err != nil {
				b.Fatal(err)
			}
			_, frame, err := ws.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			conns := make(chan *websocket.Conn, 1)
			bareWS := dialBench(b, bareServer(b, conns), "")
			bareWriter := <-conns

			b.ResetTimer()
			b.StopTimer()
			bareStart, bareCPU := time.Now(), cpuTime()
			r := receive(bareWS, b.N)
			for range b.N {
				if err := bareWriter.WriteMessage(websocket.TextMessage, frame); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-r.done; err != nil {
				b.Fatal(err)
			}
			bare, bareCPU := time.Since(bareStart), cpuTime()-bareCPU

			b.StartTimer()
			mockStart, mockCPU := time.Now(), cpuTime()
			r = receive(ws, b.N)
			path.emit(b, s, base, b.N, r)
			if err := <-r.done; err != nil {
				b.Fatal(err)
			}
			mock, mockCPU := time.Since(mockStart), cpuTime()-mockCPU
			b.StopTimer()

			b.ReportMetric(float64(b.N)/mock.Seconds(), "events/s")
			b.ReportMetric(float64(mockCPU)/float64(time.Microsecond)/float64(b.N), "cpu-µs/event")
			b.ReportMetric(float64(b.N)/bare.Seconds(), "bare-events/s")
			b.ReportMetric(float64(bareCPU)/float64(time.Microsecond)/float64(b.N), "bare-cpu-µs/event")
			b.ReportMetric(bare.Seconds()/mock.Seconds(), "x-bare")
		})
	}
}

// sendWindow is how many events the emit benchmark lets be on their way to the client: a quarter
// of the default send queue, so a client that reads is never mistaken for one that does not.
const sendWindow = 1024

// adminEvents posts n events to /_mock/events from senders keep-alive clients at once.
func adminEvents(b *testing.B, base string, event []byte, n, senders int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += senders {
				post(b, client, base+"/_mock/events?subscriptionId="+DevSubscriptionID, event)
			}
		}()
	}
	wg.Wait()
}

func post(b *testing.B, client *http.Client, u string, body []byte) {
	resp, err := client.Post(u, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Errorf("POST %s: %s: %s", u, resp.Status, answer)
	}
}

// BenchmarkLatency measures emit-to-receipt latency at 10,000 events per second to one client over
// loopback (the target: p99 under 1 ms), through the Go API and the admin API, with loadgen as the
// client. The baseline, in the same run, is a bare gorilla/websocket writer that builds the same
// message frame (unsigned) and writes it at the same rate to the same client. One op is one event:
// run with -benchtime=50000x for five seconds of load.
func BenchmarkLatency(b *testing.B) {
	const rate = 10_000
	for _, path := range []string{"emit", "admin"} {
		b.Run(path, func(b *testing.B) {
			duration := time.Duration(b.N) * time.Second / rate
			senders := 1
			if path == "admin" {
				senders = 4 // an HTTP round trip is longer than the 100 µs between events
			}

			conns := make(chan *websocket.Conn, 1)
			bareBase := bareServer(b, conns)
			var mu sync.Mutex
			var bareWS *websocket.Conn
			bare := runLoad(b, loadgen.Config{Target: bareBase, AccessToken: "bare", Rate: rate, Duration: duration, Senders: senders,
				Ready: func(int) { bareWS = <-conns },
				Emit: func(_ context.Context, event []byte) (int, error) {
					frame := wire.Message{Module: wire.ModuleMessage, Content: string(event), Header: wire.EventHeader{
						Authorization: DevVerificationToken, ClientID: DevClientID, TrackingID: newTrackingID()}}.Marshal()
					mu.Lock()
					defer mu.Unlock()
					return 1, bareWS.WriteMessage(websocket.TextMessage, frame)
				}})

			s, base := benchServer(b, Config{})
			cfg := loadgen.Config{Target: base, ClientID: DevClientID, ClientSecret: DevClientSecret, AccountID: DevAccountID,
				Rate: rate, Duration: duration, Senders: senders}
			if path == "emit" {
				cfg.Emit = func(_ context.Context, event []byte) (int, error) {
					res, err := s.Emit(DevSubscriptionID, event)
					return res.Delivered, err
				}
			}
			b.ResetTimer()
			mock := runLoad(b, cfg)
			b.StopTimer()

			µs := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
			b.ReportMetric(µs(mock.Latency.P50), "p50-µs")
			b.ReportMetric(µs(mock.Latency.P99), "p99-µs")
			b.ReportMetric(µs(mock.Latency.Max), "max-µs")
			b.ReportMetric(mock.SendRate, "events/s")
			b.ReportMetric(µs(bare.Latency.P99), "bare-p99-µs")
			b.ReportMetric(float64(mock.Latency.P99)/float64(bare.Latency.P99), "x-bare-p99")
		})
	}
}

// runLoad runs loadgen against one connection with the dev subscription and fails on any problem.
func runLoad(b *testing.B, cfg loadgen.Config) loadgen.Result {
	b.Helper()
	cfg.SubscriptionID = DevSubscriptionID
	res, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	if p := res.Problems(); len(p) > 0 || res.Latency.Samples == 0 {
		b.Fatalf("load against %s: %q (%d samples)", cfg.Target, p, res.Latency.Samples)
	}
	return res
}

// idleClientsEnv hands the client process of BenchmarkIdleConnections its idleClients, as JSON.
const idleClientsEnv = "ZOOMMOCK_BENCH_IDLE_CLIENTS"

// idleClients is what the client process holds: connections to Target that heartbeat.
type idleClients struct {
	Target            string
	Connections       int
	HeartbeatInterval time.Duration
	AccessToken       string // "" gets one from the mock
}

// BenchmarkIdleConnections holds 10,000 WebSockets open on the mock, each heartbeating every
// second, and measures the server's memory (heap and goroutine stacks after GC, and RSS) and
// goroutines per connection, against the same clients held on a bare gorilla/websocket server in
// the same run. The clients run in a child process (this test binary, in TestIdleClientsProcess):
// 20,000 sockets do not fit one process under a 20,000 open-file limit, and this way none of the
// clients' memory is counted as the server's. Run with -benchtime=1x: one op is one measurement.
func BenchmarkIdleConnections(b *testing.B) {
	if testing.Short() {
		b.Skip("holds 10,000 connections: not under -short")
	}
	const n = 10_000
	if _, err := loadgen.RaiseFileLimit(n + 256); err != nil {
		b.Skipf("cannot hold %d server sockets: %v", n, err)
	}
	hb := time.Second
	// The hold is long enough for the journal (2 entries per heartbeat) to reach its bound of
	// 100,000 entries, so the mock is measured in its steady state.
	hold := 8 * time.Second

	bareBase := bareServer(b, nil)
	bare := measureIdle(b, bareBase, n, hb, hold, "bare", nil)

	s, base := benchServer(b, Config{ConnectionPolicy: FanOut})
	var withoutJournal float64
	mock := measureIdle(b, base, n, hb, hold, "", func() {
		s.ClearJournal()
		withoutJournal = float64(liveBytes()) // taken with the clients still connected
	})
	withoutJournal = (withoutJournal - float64(mock.before)) / float64(n)

	b.ReportMetric(mock.perConn, "B/conn")
	b.ReportMetric(withoutJournal, "B/conn-no-journal")
	b.ReportMetric(mock.rssPerConn, "rss-B/conn")
	b.ReportMetric(mock.goroutinesPerConn, "goroutines/conn")
	b.ReportMetric(float64(mock.res.HeartbeatsAnswered)/float64(mock.res.HeartbeatsSent), "hb-answered/sent")
	b.ReportMetric(bare.perConn, "bare-B/conn")
	b.ReportMetric(bare.rssPerConn, "bare-rss-B/conn")
	b.ReportMetric(bare.goroutinesPerConn, "bare-goroutines/conn")
	b.ReportMetric(mock.perConn/bare.perConn, "x-bare")
	b.Logf("mock: %d connections held, %d of %d heartbeats answered; bare: %d held", mock.res.Connections,
		mock.res.HeartbeatsAnswered, mock.res.HeartbeatsSent, bare.res.Connections)
}

type idleMeasure struct {
	before                                 uint64
	perConn, rssPerConn, goroutinesPerConn float64
	res                                    loadgen.Result
}

// liveBytes is the memory the Go runtime holds live after a full collection: heap objects and
// goroutine stacks.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// cpuTime is the CPU time this process has used, user and system, from /proc (0 where there is
// none). Unlike wall time it barely moves when other processes compete for the cores, so it shows
// what the mock's own work costs on a busy machine.
func cpuTime() time.Duration {
	data, _ := os.ReadFile("/proc/self/stat")
	// The fields after the command name (which may hold spaces) start with the state, field 3.
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// rssBytes is this process's resident set size from /proc (0 where there is none).
func rssBytes() uint64 {
	data, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// measureIdle has a child process hold n heartbeating connections on the server at base for hold,
// and measures this process before and while they are held. after runs after the measurement,
// still with every connection held.
func measureIdle(b *testing.B, base string, n int, hb, hold time.Duration, token string, after func()) idleMeasure {
	b.Helper()
	debug.FreeOSMemory()
	m := idleMeasure{before: liveBytes()}

	rss0, g0 := rssBytes(), runtime.NumGoroutine()

	cfg, _ := json.Marshal(idleClients{Target: base, Connections: n, HeartbeatInterval: hb, AccessToken: token})
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), idleClientsEnv+"="+string(cfg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	line := func(prefix string) string {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return rest
			}
		}
		_ = cmd.Wait()
		b.Fatalf("the client process ended before %q: %s", prefix, stderr.String())
		return ""
	}
	held, _ := strconv.Atoi(line("READY "))
	if held != n {
		b.Errorf("the clients hold %d connections of %d", held, n)
	}
	time.Sleep(hold)
	live := liveBytes()
	debug.FreeOSMemory()
	rss, g := rssBytes(), runtime.NumGoroutine()
	if after != nil {
		after()
	}
	stdin.Close() // the child closes its connections and reports
	if err := json.Unmarshal([]byte(line("RESULT ")), &m.res); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("client process: %v: %s", err, stderr.String())
	}
	if p := m.res.Problems(); len(p) > 0 {
		b.Errorf("client problems: %q", p)
	}
	m.perConn = (float64(live) - float64(m.before)) / float64(n)
	m.rssPerConn = (float64(rss) - float64(rss0)) / float64(n)
	m.goroutinesPerConn = float64(g-g0) / float64(n)
	return m
}

// TestIdleClientsProcess is not a test: it is the client process of BenchmarkIdleConnections,
// holding the connections the benchmark's environment describes until its standard input closes.
func TestIdleClientsProcess(t *testing.T) {
	raw := os.Getenv(idleClientsEnv)
	if raw == "" {
		t.Skip("the client process of BenchmarkIdleConnections; runs only when it starts it")
	}
	var clients idleClients
	if err := json.Unmarshal([]byte(raw), &clients); err != nil {
		t.Fatal(err)
	}
	// Bounded in time even if the benchmark never closes standard input.
	cfg := loadgen.Config{Target: clients.Target, Connections: clients.Connections, HeartbeatInterval: clients.HeartbeatInterval,
		Duration: 2 * time.Minute, AccessToken: clients.AccessToken, ClientID: DevClientID, ClientSecret: DevClientSecret,
		AccountID: DevAccountID, SubscriptionID: DevSubscriptionID}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	cfg.Ready = func(held int) { fmt.Printf("READY %d\n", held) }
	res, err := loadgen.Run(ctx, cfg)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", out)
}
