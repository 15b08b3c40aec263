package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to read while serve writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestUsageErrors(t *testing.T) {
	badConfig := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(badConfig, []byte("{\"apps\":[\n{\"clientSecrt\":\"x\"}]}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{[]string{"nosuch"}, nil, 2, `unknown command "nosuch": the commands are serve`},
		{[]string{"--bogus"}, nil, 2, "flag provided but not defined: -bogus\nRun 'zoommock --help'"},
		{[]string{"serve", "--bogus"}, nil, 2, "flag provided but not defined: -bogus\nRun 'zoommock serve --help'"},
		{[]string{"serve", "extra"}, nil, 2, `serve takes no arguments`},
		{[]string{"serve", "--connection-policy", "newest"}, nil, 2, `unknown connection policy "newest"`},
		{[]string{"serve", "--heartbeat-timeout", "soon"}, nil, 2, `invalid value "soon" for flag -heartbeat-timeout`},
		{[]string{"serve", "--heartbeat-timeout", "0s"}, nil, 2, "--heartbeat-timeout 0"},
		{[]string{"serve", "--token-ttl", "-1s"}, nil, 2, "--token-ttl -1s: must be positive"},
		{[]string{"serve", "--auth-failure-close", "1006:x"}, nil, 2, "--auth-failure-close: bad close"},
		{[]string{"serve", "--log-level", "loud"}, nil, 2, `--log-level "loud"`},
		{[]string{"serve", "--config", badConfig, "--secret-token", "x"}, nil, 2, "--config and --secret-token cannot be used together"},
		{[]string{"serve", "--config", badConfig}, nil, 2, `apps.json: bad config: line 2: unknown field "clientSecrt"`},
		{[]string{"serve", "--config", "/"}, nil, 2, "--config: failed to read config"},
		{[]string{"serve", "--client-id="}, nil, 2, "--client-id is empty"},
		{[]string{"serve", "--subscription-id", "a b"}, nil, 2, "cannot contain"},
		{[]string{"serve", "--addr", "nonsense"}, nil, 2, `--addr "nonsense": want HOST:PORT`},
		{[]string{"serve", "--read-limit", "0"}, nil, 2, "--read-limit 0"},
		{[]string{"serve", "--kick-close", "1004:x"}, nil, 2, "a code a peer accepts"},
		{[]string{"serve", "--addr", "256.0.0.1:1"}, nil, 1, "failed to listen on --addr 256.0.0.1:1"},
		{[]string{"serve"}, map[string]string{"ZOOMMOCK_HEARTBEAT_TIMEOUT": "abc"}, 2, `environment variable "ZOOMMOCK_HEARTBEAT_TIMEOUT"`},
		{[]string{"serve"}, map[string]string{"ZOOMMOCK_CONNECTION_POLICY": "all"}, 2, `unknown connection policy "all"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr lockedBuffer
			code := run(t.Context(), append([]string{"zoommock"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
			if strings.Contains(stdout.String(), "OPTIONS:") {
				t.Errorf("a usage error printed the whole help page")
			}
		})
	}
}

// serve is configured by ZOOMMOCK_* variables alone, prints how to connect, and exits 0 when its
// context ends (what SIGINT/SIGTERM do in main).
func TestServeFromEnvironment(t *testing.T) {
	t.Setenv("ZOOMMOCK_ADDR", "127.0.0.1:0")
	t.Setenv("ZOOMMOCK_CLIENT_ID", "env-client")
	t.Setenv("ZOOMMOCK_SUBSCRIPTION_ID", "envSubscription")
	t.Setenv("ZOOMMOCK_LOG_FORMAT", "json")
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"zoommock", "serve"}, &stdout, &stderr) }()
	re := regexp.MustCompile(`token URL: +(http://127\.0\.0\.1:\d+)/oauth/token`)
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("no banner: %s %s", stdout.String(), stderr.String())
	}
	for _, want := range []string{"client id:       env-client\n", "/ws?subscriptionId=envSubscription&access_token=<token>\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, stdout.String())
		}
	}
	resp, err := http.Get(base + "/_mock/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("health: %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"mock stopped"`) {
		t.Errorf("logs are not JSON: %s", stderr.String())
	}
}
