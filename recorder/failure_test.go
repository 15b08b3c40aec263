package recorder_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/recorder"
	"github.com/zoommock/zoommock/zoomtest"
)

// diskWriter is a disk that fills up on demand: once full, every write fails with ENOSPC.
type diskWriter struct {
	mu   sync.Mutex
	full bool
	n    int
}

func (d *diskWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		return 0, syscall.ENOSPC
	}
	d.n += len(p)
	return len(p), nil
}

func (d *diskWriter) fill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full = true
}

// A full disk stops the recording, not the application's session; Failed and Err say why.
func TestProxyDiskFull(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	disk := &diskWriter{}
	p, cw := proxyOn(t, disk, srv.URL)
	base := newServer(t, p)
	t.Cleanup(p.Close) // before the listener closes, as the cleanups run in reverse

	token, _ := getToken(t, base, cfg)
	disk.fill()
	ws := dial(t, base, cfg.SubscriptionID, token)
	if got := readFrame(t, ws); got != connected {
		t.Errorf("the session did not go on: %s", got)
	}
	send(t, ws, heartbeat)
	if got := readFrame(t, ws); got != heartbeatReply {
		t.Errorf("the session did not go on: %s", got)
	}
	select {
	case <-p.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("Failed was not closed")
	}
	if err := p.Err(); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "failed to write the cassette") {
		t.Errorf("Err: %v, want the cassette's write error", err)
	}
	if st := p.Stats(); st.Records != 1 || st.Exchanges != 1 {
		t.Errorf("stats %+v, want the token exchange only", st)
	}
	if err := cw.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("closing the cassette: %v", err)
	}
}

// Serve stops when the cassette cannot be written, and says why.
func TestServeStopsOnDiskFull(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	disk := &diskWriter{}
	p, _ := proxyOn(t, disk, srv.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background(), ln) }()
	disk.fill()
	getToken(t, "http://"+ln.Addr().String(), srv.Config())
	select {
	case err := <-served:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Serve: %v, want the cassette's write error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

// proxyOn is a Proxy recording onto disk, with both upstreams at base.
func proxyOn(t *testing.T, disk *diskWriter, base string) (*recorder.Proxy, *cassettes.Writer) {
	t.Helper()
	cw, err := cassettes.NewWriter(disk, cassettes.Header{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := recorder.NewProxy(cw, recorder.WithOAuthUpstream(base), recorder.WithWSUpstream(base))
	if err != nil {
		t.Fatal(err)
	}
	return p, cw
}

// A full disk ends a direct recording with the cause, after closing the connection with 1000.
func TestDirectDiskFull(t *testing.T) {
	t.Parallel()
	srv := zoomtest.NewServer(t)
	disk := &diskWriter{}
	cw, err := cassettes.NewWriter(disk, cassettes.Header{})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	d, err := recorder.NewDirect(cw, credsOf(srv.Config()), recorder.WithOAuthUpstream(srv.URL), recorder.WithWSUpstream(srv.URL),
		recorder.WithHeartbeatInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctxFor(t)) }()
	conn := srv.WaitForConnection(ctxFor(t)).ID
	disk.fill()
	if err := <-done; !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Run: %v, want the cassette's write error", err)
	}
	if e := srv.WaitForClose(ctxFor(t), conn); e.Close.By != "client" || e.Close.Code != 1000 {
		t.Errorf("the mock saw %+v, want the client's 1000", *e.Close)
	}
}
