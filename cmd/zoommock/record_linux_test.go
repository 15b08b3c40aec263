//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/zoommock/zoommock/zoomtest"
)

// On a terminal the status line is redrawn in place; log lines clear it first.
func TestRecordStatusLine(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	srv := zoomtest.NewServer(t)
	cfg := srv.Config()
	out := filepath.Join(t.TempDir(), "tty.cassette")
	read := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				read <- b.String()
				return
			}
		}
	}()
	cliMu.Lock()
	var stderr lockedBuffer
	code := run(context.Background(), []string{"zoommock", "record", "--direct", "--out", out, "--oauth-upstream", srv.URL, "--ws-upstream", srv.URL,
		"--client-id", cfg.ClientID, "--client-secret", cfg.ClientSecret, "--account-id", cfg.AccountID, "--subscription-id", cfg.SubscriptionID,
		"--heartbeat-interval", "50ms", "--duration", "700ms"}, slave, &stderr)
	cliMu.Unlock()
	slave.Close()
	tty := <-read
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	redraws := regexp.MustCompile(`\rrecording \ds \| 1 connection \(1 open\) \| 0 events \| \d+ heartbeats? \| [0-9.]+ (B|KiB) written\x1b\[K`).FindAllString(tty, -1)
	if len(redraws) < 2 {
		t.Errorf("want the status line drawn several times, got %d:\n%q", len(redraws), tty)
	}
	if !strings.Contains(stderr.String(), "connection opened") {
		t.Errorf("no log lines:\n%s", stderr.String())
	}
	if !strings.Contains(tty, "\r\x1b[K") {
		t.Errorf("log lines do not clear the status line first:\n%q", tty)
	}
}

// openPTY opens a pseudo-terminal pair: what the recorder writes to slave, the test reads from
// master.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	if err := ioctl(master, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	if err := ioctl(master, syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
