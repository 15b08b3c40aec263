package loadgen

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zoommock/zoommock/mockserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startMock serves a mock on loopback until the test ends.
func startMock(t *testing.T, cfg mockserver.Config) (*mockserver.Server, string) {
	t.Helper()
	cfg.CloseGrace = 200 * time.Millisecond
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return srv, hs.URL
}

func devConfig(target string) Config {
	return Config{Target: target, ClientID: mockserver.DevClientID, ClientSecret: mockserver.DevClientSecret,
		AccountID: mockserver.DevAccountID, SubscriptionID: mockserver.DevSubscriptionID}
}

func TestRunHoldsConnectionsAndTimesEvents(t *testing.T) {
	t.Parallel()
	srv, url := startMock(t, mockserver.Config{ConnectionPolicy: mockserver.FanOut})
	cfg := devConfig(url)
	cfg.Connections = 3
	cfg.HeartbeatInterval = 10 * time.Millisecond
	cfg.Rate = 100
	cfg.Duration = 200 * time.Millisecond
	readyWith := -1
	cfg.Ready = func(held int) {
		readyWith = held
		if open := srv.Stats().OpenConnections; open != 3 {
			t.Errorf("at Ready the mock has %d open connections, want 3", open)
		}
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if readyWith != 3 || res.Connections != 3 || res.Requested != 3 {
		t.Errorf("Ready(%d), %d of %d connections; want 3 everywhere", readyWith, res.Connections, res.Requested)
	}
	if res.EventsSent != 20 || res.EventsDelivered != 60 || res.EventsReceived != 60 || res.Latency.Samples != 60 {
		t.Errorf("sent %d, delivered %d, received %d, timed %d; want 20 sent to 3 connections",
			res.EventsSent, res.EventsDelivered, res.EventsReceived, res.Latency.Samples)
	}
	if res.HeartbeatsSent == 0 || res.HeartbeatsAnswered == 0 || res.HeartbeatsAnswered > res.HeartbeatsSent {
		t.Errorf("heartbeats: %d answered of %d sent", res.HeartbeatsAnswered, res.HeartbeatsSent)
	}
	if st := srv.Stats(); int64(st.HeartbeatsReceived) != res.HeartbeatsSent {
		t.Errorf("the mock received %d heartbeats, the load generator sent %d", st.HeartbeatsReceived, res.HeartbeatsSent)
	}
	l := res.Latency
	if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if p := res.Problems(); len(p) != 0 {
		t.Errorf("problems: %q", p)
	}
	var sum strings.Builder
	res.WriteSummary(&sum)
	for _, want := range []string{"connections held:    3 of 3", "events received:     60 of 60 delivered", "latency emit→receive: p50"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	waitClosed(t, srv)
}

// waitClosed waits until the mock has seen every load-generator connection end.
func waitClosed(t *testing.T, srv *mockserver.Server) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for srv.Stats().OpenConnections != 0 {
		select {
		case <-srv.Changed():
		case <-deadline:
			t.Fatalf("the mock still has %d open connections after the run", srv.Stats().OpenConnections)
		}
	}
}

func TestRunCountsRefusedConnections(t *testing.T) {
	t.Parallel()
	_, url := startMock(t, mockserver.Config{ConnectionPolicy: mockserver.RejectNew})
	cfg := devConfig(url)
	cfg.Connections = 3
	cfg.Duration = time.Millisecond
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 1 || res.DialFailures != 2 || !strings.Contains(res.FirstDialError, "subscription already has an open connection") {
		t.Errorf("%d held, %d failed (%s); want 1 held and 2 refused by reject-new", res.Connections, res.DialFailures, res.FirstDialError)
	}
	if p := res.Problems(); len(p) != 1 || !strings.Contains(p[0], "2 of 3 connections failed to open") {
		t.Errorf("problems = %q", p)
	}
}

func TestRunWithGoEmitterAndToken(t *testing.T) {
	t.Parallel()
	srv, url := startMock(t, mockserver.Config{})
	cfg := Config{Target: url, SubscriptionID: mockserver.DevSubscriptionID, Rate: 50, Duration: 100 * time.Millisecond}
	cfg.AccessToken = "not-issued"
	if _, err := Run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "Token is invalid") {
		t.Fatalf("Run with a token the mock never issued: %v, want the build_connection failure", err)
	}

	cfg = devConfig(url)
	cfg.Rate, cfg.Duration = 50, 100*time.Millisecond
	emitted := 0
	cfg.Senders = 1 // so emitted needs no lock
	cfg.Emit = func(_ context.Context, event []byte) (int, error) {
		emitted++
		res, err := srv.Emit(mockserver.DevSubscriptionID, event)
		return res.Delivered, err
	}
	res, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if emitted != 5 || res.EventsReceived != 5 {
		t.Errorf("emitted %d, received %d; want 5", emitted, res.EventsReceived)
	}
}

func TestRunStopsWithItsContext(t *testing.T) {
	t.Parallel()
	_, url := startMock(t, mockserver.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cfg := devConfig(url)
	cfg.Duration = time.Hour
	cfg.Ready = func(int) { cancel() }
	res, err := Run(ctx, cfg)
	if err != nil || !res.Stopped || res.Connections != 1 {
		t.Errorf("Run = %+v, %v; want a stopped run that held 1 connection", res, err)
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	ok := devConfig("http://127.0.0.1:1")
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"target", func(c *Config) { c.Target = "127.0.0.1:9876" }, "want the server's base URL"},
		{"connections", func(c *Config) { c.Connections = MaxConnections + 1 }, "connections 50001: want 1 to 50000"},
		{"rate", func(c *Config) { c.Rate = -1 }, "rate -1"},
		{"duration", func(c *Config) { c.Duration = 2 * time.Hour }, "duration 2h0m0s: want up to 1h0m0s"},
		{"credentials", func(c *Config) { c.ClientSecret = "" }, "client secret"},
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := Run(t.Context(), cfg); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrBadConfig saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := Run(t.Context(), ok); err == nil || !strings.Contains(err.Error(), "failed to get an access token") {
		t.Errorf("no server: %v, want a token failure", err)
	}
}

func TestProblemsSuggestFanOut(t *testing.T) {
	r := Result{Requested: 2, Connections: 2, ClosedByServer: 1, FirstClose: `closed with 1000 "replaced by a newer connection"`}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0], "--connection-policy fan-out") {
		t.Errorf("problems = %q", p)
	}
	r = Result{EventsDelivered: 10, EventsReceived: 7}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0], "3 of 10 deliveries") {
		t.Errorf("problems = %q", p)
	}
}

func TestRaiseFileLimit(t *testing.T) {
	if _, err := RaiseFileLimit(16); err != nil {
		t.Errorf("RaiseFileLimit(16): %v", err)
	}
	limit, err := RaiseFileLimit(1 << 40)
	if limit > 0 && (!errors.Is(err, ErrFileLimit) || !strings.Contains(err.Error(), "RLIMIT_NOFILE")) {
		t.Errorf("RaiseFileLimit(2^40) = %d, %v; want ErrFileLimit naming the limit", limit, err)
	}
}

func TestHistogram(t *testing.T) {
	t.Parallel()
	prev := -1
	for v := int64(0); v < 1<<40; v = v*9/8 + 1 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d, below the previous bucket %d", v, b, prev)
		}
		prev = b
		if got := bucketValue(b); float64(got-v) > float64(v)/32+1 || float64(v-got) > float64(v)/32+1 {
			t.Fatalf("bucketValue(bucketOf(%d)) = %d: more than 1/32 off", v, got)
		}
	}
	var h histogram
	if l := h.latency(); l != (Latency{}) {
		t.Errorf("empty histogram: %+v", l)
	}
	samples := make([]time.Duration, 1000)
	for i := range samples {
		samples[i] = time.Duration(i+1) * time.Microsecond
	}
	rand.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	for _, s := range samples {
		h.record(s)
	}
	slices.Sort(samples)
	l := h.latency()
	near := func(got, want time.Duration) bool { return got >= want*31/32 && got <= want*33/32 }
	if l.Samples != 1000 || l.Max != time.Millisecond || !near(l.P50, 500*time.Microsecond) ||
		!near(l.P90, 900*time.Microsecond) || !near(l.P99, 990*time.Microsecond) {
		t.Errorf("latency = %+v; want p50 500µs, p90 900µs, p99 990µs, max 1ms", l)
	}
}
