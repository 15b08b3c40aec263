package mockserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	call := func(method, path, body string) (int, string) {
		t.Helper()
		return do(t, mustRequest(t, method, ts.URL+path, body))
	}
	if status, body := call("GET", "/_mock/health", ""); status != 200 || body != `{"status":"ok"}` {
		t.Errorf("health: %d %s", status, body)
	}
	status, body := call("POST", "/_mock/events", meetingStarted)
	if status != 200 || body != `{"event":"meeting.started","delivered":0,"dropped":true,"trackingIds":[`+strings.Split(strings.Split(body, `"trackingIds":[`)[1], "]")[0]+`]}` {
		t.Errorf("emit without connection: %d %s", status, body)
	}
	ws := ts.connect(t)
	status, body = call("POST", "/_mock/events?subscriptionId="+DevSubscriptionID, meetingStarted)
	var res EmitResult
	if err := json.Unmarshal([]byte(body), &res); err != nil || status != 200 || res.Delivered != 1 || res.Dropped {
		t.Errorf("emit: %d %s", status, body)
	}
	if content, tid := decodeMessage(t, readText(t, ws)); content != meetingStarted || tid != res.TrackingIDs[0] {
		t.Errorf("received %s %s", content, tid)
	}
	status, body = call("GET", "/_mock/connections", "")
	var conns []ConnectionInfo
	if err := json.Unmarshal([]byte(body), &conns); err != nil || status != 200 || len(conns) != 1 || conns[0].ID != "c1" || conns[0].FramesSent != 2 {
		t.Errorf("connections: %d %s", status, body)
	}
	if status, body := call("PUT", "/_mock/faults", `{"duplicateEvents":true,"delayEvents":"0s"}`); status != 200 || body != `{"duplicateEvents":true}` {
		t.Errorf("faults: %d %s", status, body)
	}
	if status, body := call("GET", "/_mock/stats", ""); status != 200 || !strings.Contains(body, `"eventsDropped":1`) {
		t.Errorf("stats: %d %s", status, body)
	}
	if status, body := call("POST", "/_mock/connections/c1/close", `{"code":1011,"reason":"boom"}`); status != 200 || body != `{"closed":"c1"}` {
		t.Errorf("close: %d %s", status, body)
	}
	if ce := readClose(t, ws); ce.Code != 1011 || ce.Text != "boom" {
		t.Errorf("close = %v", ce)
	}
	status, body = call("GET", "/_mock/journal", "")
	var j []Entry
	if err := json.Unmarshal([]byte(body), &j); err != nil || status != 200 || len(j) < 5 {
		t.Errorf("journal: %d %s", status, body)
	}
	if status, body := call("DELETE", "/_mock/journal", ""); status != 200 || body != `{"cleared":true}` {
		t.Errorf("clear journal: %d %s", status, body)
	}
	if status, body := call("POST", "/_mock/reset", ""); status != 200 || body != `{"reset":true}` {
		t.Errorf("reset: %d %s", status, body)
	}
	if status, body := call("GET", "/_mock/faults", ""); status != 200 || body != `{}` {
		t.Errorf("faults after reset: %d %s", status, body)
	}
	for _, p := range []string{"/_mock/tokens/expire", "/_mock/tokens/invalidate", "/_mock/connections/close"} {
		if status, body := call("POST", p, ""); status != 200 {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	tests := []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/_mock/events", `{"payload":{}}`, 400, `missing \"event\"`},
		{"POST", "/_mock/events", `nope`, 400, "want a JSON object"},
		{"POST", "/_mock/events?subscriptionId=zzz", meetingStarted, 404, `unknown subscription \"zzz\"`},
		{"PUT", "/_mock/faults", `{"duplicate":true}`, 400, `unknown field \"duplicate\"`},
		{"PUT", "/_mock/faults", `{"delayEvents":5}`, 400, "duration string"},
		{"PUT", "/_mock/faults", `{"delayEvents":"-1s"}`, 400, "must not be negative"},
		{"PUT", "/_mock/faults", `{} {}`, 400, "unexpected data"},
		{"POST", "/_mock/connections/c9/close", `{}`, 404, `unknown connection \"c9\"`},
		{"POST", "/_mock/connections/close", `{"code":1006}`, 400, "1000-1003, 1007-1014 or 3000-4999"},
		{"POST", "/_mock/connections/close", `{"code":1004}`, 400, "a code a peer accepts"},
		{"POST", "/_mock/connections/close", `{"code":2000}`, 400, "a code a peer accepts"},
		{"POST", "/_mock/events?subscription=nope", meetingStarted, 400, `unknown query parameter \"subscription\"`},
		{"POST", "/_mock/events?subscriptionId=", meetingStarted, 400, "subscriptionId must be given once and not empty"},
		{"POST", "/_mock/connections/close", `{"code":"x"}`, 400, `field \"code\": want a JSON number, got a JSON string`},
		{"GET", "/_mock/nothing", "", 404, "no admin endpoint GET /_mock/nothing"},
		{"POST", "/_mock/health", "", 405, "GET"},
	}
	for _, tt := range tests {
		status, body := do(t, mustRequest(t, tt.method, ts.URL+tt.path, tt.body))
		if status != tt.status || !strings.HasPrefix(body, `{"error":"`) || !strings.Contains(body, tt.msg) {
			t.Errorf("%s %s %s: %d %s, want %d saying %s", tt.method, tt.path, tt.body, status, body, tt.status, tt.msg)
		}
	}
}

// The admin API is open to loopback clients only, unless a bearer token is configured.
func TestAdminAccessControl(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, adminToken, remote, auth string
		status                         int
	}{
		{"loopback v4", "", "127.0.0.1:5000", "", 200},
		{"loopback v6", "", "[::1]:5000", "", 200},
		{"remote without configured token", "", "10.1.2.3:5000", "", 403},
		{"remote without bearer", "s3cret", "10.1.2.3:5000", "", 401},
		{"remote wrong bearer", "s3cret", "10.1.2.3:5000", "Bearer nope", 401},
		{"remote right bearer", "s3cret", "10.1.2.3:5000", "Bearer s3cret", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{AdminToken: tt.adminToken})
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/_mock/stats", "/_mock/health"} {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr = tt.remote
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				want := tt.status
				if path == "/_mock/health" {
					want = 200 // the health endpoint serves container health checks from anywhere
				}
				if rec.Code != want {
					t.Errorf("%s: %d %s, want %d", path, rec.Code, rec.Body, want)
				}
				if h := rec.Header().Get("Access-Control-Allow-Origin"); h != "" {
					t.Errorf("CORS header %q set", h)
				}
			}
		})
	}
}

func TestUnknownPath(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	status, body := do(t, mustRequest(t, "GET", ts.URL+"/v2/users", ""))
	if status != http.StatusNotFound || !strings.Contains(body, "POST /oauth/token, GET /ws") {
		t.Errorf("%d %s", status, body)
	}
}
