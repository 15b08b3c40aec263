package mockserver

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestRoutes checks the routing of the Zoom endpoints and of the admin API, whose routes are
// registered at its first request: several first requests at once must all be served.
func TestRoutes(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	tests := []struct {
		method, path string
		wantStatus   int
		wantBodyHas  string
	}{
		{"GET", "/_mock/health", 200, `{"status":"ok"}`},
		{"GET", "/_mock/stats", 200, `"tokensIssued":0`},
		{"GET", "/_mock/nothing", 404, "no admin endpoint GET /_mock/nothing: the admin API has GET /_mock/health"},
		{"DELETE", "/_mock/health", 405, "DELETE is not allowed on /_mock/health: use GET"},
		{"POST", "/_mock/connections/c9/close", 404, `unknown connection \"c9\"`},
		{"GET", "/elsewhere", 404, "nothing at /elsewhere"},
		{"GET", "/ws", 400, "this is Zoom's event WebSocket endpoint"},
		{"GET", "/oauth/token", 405, "Method Not Allowed"},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Go(func() {
			// Not do: it may call t.Fatalf, which only the test goroutine may.
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("%s %s: %v", tt.method, tt.path, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			status, body := resp.StatusCode, string(b)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBodyHas) {
				t.Errorf("%s %s = %d %s, want %d with %q", tt.method, tt.path, status, body, tt.wantStatus, tt.wantBodyHas)
			}
		})
	}
	wg.Wait()
}
