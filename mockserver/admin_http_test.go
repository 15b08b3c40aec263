package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// adminCall serves one request in-process, so a test can pose as a client on any address.
func adminCall(t *testing.T, s *Server, method, path, remote, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// wantJSONError checks that an admin answer is a JSON {"error": "..."} with a message a person can act on.
func wantJSONError(t *testing.T, w *httptest.ResponseRecorder, status int, mention string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d (body %s)", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("body %s is not {\"error\":\"...\"} (%v)", w.Body, err)
	}
	if !strings.Contains(e.Error, mention) {
		t.Errorf("error %q does not mention %q", e.Error, mention)
	}
}

func TestAdminMethodAndPath(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/_mock/health", http.StatusMethodNotAllowed, "GET"},
		{"GET", "/_mock/events", http.StatusMethodNotAllowed, "POST"},
		{"PATCH", "/_mock/faults", http.StatusMethodNotAllowed, "GET, PUT, DELETE"},
		{"GET", "/_mock/connections/c1/close", http.StatusMethodNotAllowed, "POST"},
		{"OPTIONS", "/_mock/events", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/_mock/nope", http.StatusNotFound, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			w := adminCall(t, s, tc.method, tc.path, "127.0.0.1:40000", "", "")
			mention := "no admin endpoint"
			if tc.allow != "" {
				mention = "not allowed"
			}
			wantJSONError(t, w, tc.status, mention)
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestAdminNoCORS(t *testing.T) {
	t.Parallel()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodOptions, "/_mock/events", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Origin", "http://page.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	for k := range w.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("preflight answered with %s: CORS must be off, so no web page can drive the mock", k)
		}
	}
	if w.Code < 400 {
		t.Errorf("preflight status %d, want an error", w.Code)
	}
}

func TestAdminBodyTooLarge(t *testing.T) {
	t.Parallel()
	s, err := New(Config{MaxBodyBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"event":"meeting.started","payload":{"x":"` + strings.Repeat("a", 100) + `"}}`
	wantJSONError(t, adminCall(t, s, "POST", "/_mock/events", "127.0.0.1:40000", "", big), http.StatusRequestEntityTooLarge, "too large")
	wantJSONError(t, adminCall(t, s, "PUT", "/_mock/faults", "[::1]:40000", "", big), http.StatusRequestEntityTooLarge, "too large")
}

func TestAdminTokenBeyondLoopback(t *testing.T) {
	t.Parallel()
	open, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	guarded, err := New(Config{AdminToken: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		s            *Server
		path, remote string
		auth         string
		status       int
	}{
		{"loopback needs no token", guarded, "/_mock/stats", "127.0.0.1:40000", "", 200},
		{"ipv6 loopback needs no token", guarded, "/_mock/stats", "[::1]:40000", "", 200},
		{"no admin token configured", open, "/_mock/stats", "172.18.0.3:40000", "Bearer s3cret", 403},
		{"missing bearer", guarded, "/_mock/stats", "172.18.0.3:40000", "", 401},
		{"wrong bearer", guarded, "/_mock/stats", "172.18.0.3:40000", "Bearer nope", 401},
		{"basic instead of bearer", guarded, "/_mock/stats", "172.18.0.3:40000", "Basic czNjcmV0", 401},
		{"right bearer", guarded, "/_mock/stats", "172.18.0.3:40000", "Bearer s3cret", 200},
		{"scheme is case-insensitive", guarded, "/_mock/stats", "172.18.0.3:40000", "bearer s3cret", 200},
		{"health stays open for probes", guarded, "/_mock/health", "172.18.0.3:40000", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := adminCall(t, tc.s, "GET", tc.path, tc.remote, tc.auth, "")
			if tc.status == 200 {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
				}
				return
			}
			wantJSONError(t, w, tc.status, "token")
			if tc.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}
