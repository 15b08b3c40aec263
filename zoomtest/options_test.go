package zoomtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/zoomtest"
)

// TestOptions checks that each option reaches the wire.
func TestOptions(t *testing.T) {
	t.Parallel()
	// refused dials with a token and returns the build_connection content and the close.
	refused := func(t *testing.T, srv *zoomtest.Server, token string) (string, int, string) {
		t.Helper()
		u := srv.WebSocketURL()
		if token != "" {
			u += "&access_token=" + token
		}
		ws := dial(t, u, nil)
		f := readFrame(t, ws)
		if f.Success {
			t.Fatalf("build_connection succeeded with token %q", token)
		}
		code, reason := readClose(t, ws)
		return f.Content, code, reason
	}
	tests := []struct {
		name  string
		opts  []zoomtest.Option
		check func(t *testing.T, srv *zoomtest.Server)
	}{
		{"invalid token text and close", []zoomtest.Option{zoomtest.WithInvalidTokenText("Invalid Token"), zoomtest.WithAuthFailureClose(4001, "bad token")},
			func(t *testing.T, srv *zoomtest.Server) {
				if content, code, reason := refused(t, srv, "forged"); content != "Invalid Token" || code != 4001 || reason != "bad token" {
					t.Errorf("refusal = %q, %d %q", content, code, reason)
				}
			}},
		{"empty token text", []zoomtest.Option{zoomtest.WithEmptyTokenText("no token!")},
			func(t *testing.T, srv *zoomtest.Server) {
				if content, _, _ := refused(t, srv, ""); content != "no token!" {
					t.Errorf("content = %q", content)
				}
			}},
		{"connected text", []zoomtest.Option{zoomtest.WithConnectedText("welcome")},
			func(t *testing.T, srv *zoomtest.Server) {
				ws := dial(t, srv.WebSocketURL()+"&access_token="+getToken(t, srv.Config()), nil)
				if f := readFrame(t, ws); !f.Success || f.Content != "welcome" {
					t.Errorf("build_connection = %+v", f)
				}
			}},
		{"heartbeat timeout and close", []zoomtest.Option{zoomtest.WithHeartbeatTimeout(50 * time.Millisecond), zoomtest.WithHeartbeatClose(4000, "idle")},
			func(t *testing.T, srv *zoomtest.Server) {
				if code, reason := readClose(t, connect(t, srv)); code != 4000 || reason != "idle" {
					t.Errorf("close = %d %q", code, reason)
				}
			}},
		{"any frame resets heartbeat", []zoomtest.Option{zoomtest.WithHeartbeatTimeout(30 * time.Millisecond), zoomtest.WithAnyFrameResetsHeartbeat()},
			func(t *testing.T, srv *zoomtest.Server) {
				readClose(t, connect(t, srv))
				if e := srv.WaitForClose(ctxFor(t), "c1"); !strings.HasPrefix(e.Note, "no frame for ") {
					t.Errorf("close note %q, want no frame for ... (any frame counts)", e.Note)
				}
			}},
		{"token TTL", []zoomtest.Option{zoomtest.WithTokenTTL(10 * time.Second)},
			func(t *testing.T, srv *zoomtest.Server) {
				if got := tokenResponse(t, srv)["expires_in"]; got != 9.0 {
					t.Errorf("expires_in = %v, want 9", got)
				}
			}},
		{"api url", []zoomtest.Option{zoomtest.WithAPIURL("http://api.example")},
			func(t *testing.T, srv *zoomtest.Server) {
				if got := tokenResponse(t, srv)["api_url"]; got != "http://api.example" {
					t.Errorf("api_url = %v", got)
				}
			}},
		{"live tokens", []zoomtest.Option{zoomtest.WithLiveTokens(1), zoomtest.WithInvalidTokenText("Invalid Token")},
			func(t *testing.T, srv *zoomtest.Server) {
				first := getToken(t, srv.Config())
				getToken(t, srv.Config())
				if content, _, _ := refused(t, srv, first); content != "Invalid Token" {
					t.Errorf("first token after a second = %q, want Invalid Token", content)
				}
			}},
		{"reject new", []zoomtest.Option{zoomtest.WithConnectionPolicy(mockserver.RejectNew), zoomtest.WithRejectNewText("busy"), zoomtest.WithRejectNewClose(4002, "one is enough")},
			func(t *testing.T, srv *zoomtest.Server) {
				connect(t, srv)
				if content, code, reason := refused(t, srv, getToken(t, srv.Config())); content != "busy" || code != 4002 || reason != "one is enough" {
					t.Errorf("second connection = %q, %d %q", content, code, reason)
				}
			}},
		{"kick old", []zoomtest.Option{zoomtest.WithKickClose(4003, "newer")},
			func(t *testing.T, srv *zoomtest.Server) {
				old := connect(t, srv)
				connect(t, srv)
				if code, reason := readClose(t, old); code != 4003 || reason != "newer" {
					t.Errorf("older connection closed with %d %q", code, reason)
				}
			}},
		{"close on token expiry", []zoomtest.Option{zoomtest.WithCloseOnTokenExpiry(), zoomtest.WithTokenExpiryClose(4004, "expired")},
			func(t *testing.T, srv *zoomtest.Server) {
				ws := connect(t, srv)
				srv.ExpireTokens()
				if code, reason := readClose(t, ws); code != 4004 || reason != "expired" {
					t.Errorf("close = %d %q", code, reason)
				}
			}},
		{"subscriptions", []zoomtest.Option{zoomtest.WithSubscriptions("subA", "subB"), zoomtest.WithUnknownSubscriptionText("who?"), zoomtest.WithSubscriptionFailureClose(4005, "unknown")},
			func(t *testing.T, srv *zoomtest.Server) {
				b := srv.ConfigFor("subB")
				if srv.Config().SubscriptionID != "subA" || b.SubscriptionID != "subB" || !strings.HasSuffix(b.WebSocketURL, "?subscriptionId=subB") {
					t.Errorf("Config = %+v, ConfigFor(subB) = %+v", srv.Config(), b)
				}
				ws := dial(t, strings.Replace(b.WebSocketURL, "subB", "subC", 1)+"&access_token="+getToken(t, b), nil)
				if f := readFrame(t, ws); f.Content != "who?" {
					t.Errorf("unknown subscription = %+v", f)
				}
				if code, _ := readClose(t, ws); code != 4005 {
					t.Errorf("close = %d", code)
				}
			}},
		{"apps", []zoomtest.Option{zoomtest.WithApps(mockserver.App{ClientID: "cid", ClientSecret: "cs", AccountID: "acc", SecretToken: "st", Subscriptions: []mockserver.Subscription{{ID: "s1"}}})},
			func(t *testing.T, srv *zoomtest.Server) {
				cfg := srv.Config()
				if cfg.ClientID != "cid" || cfg.SubscriptionID != "s1" || cfg.SecretToken != "st" {
					t.Errorf("Config = %+v", cfg)
				}
				connect(t, srv)
			}},
		{"buffer events", []zoomtest.Option{zoomtest.WithBufferEvents()},
			func(t *testing.T, srv *zoomtest.Server) {
				if res := srv.Emit(zoomtest.UserCreated()); res.Buffered != 1 {
					t.Errorf("Emit with no connection = %+v, want buffered", res)
				}
				if f := readFrame(t, connect(t, srv)); f.Module != "message" {
					t.Errorf("first frame after build_connection = %+v, want the buffered event", f)
				}
			}},
		{"read limit", []zoomtest.Option{zoomtest.WithReadLimit(64)},
			func(t *testing.T, srv *zoomtest.Server) {
				ws := connect(t, srv)
				send(t, ws, `{"module":"heartbeat","padding":"`+strings.Repeat("x", 100)+`"}`)
				if code, _ := readClose(t, ws); code != websocket.CloseMessageTooBig {
					t.Errorf("close = %d, want 1009", code)
				}
			}},
		{"strict token request", []zoomtest.Option{zoomtest.WithStrictTokenRequest()},
			func(t *testing.T, srv *zoomtest.Server) {
				cfg := srv.Config()
				req, _ := http.NewRequest(http.MethodPost, cfg.TokenURL+"?grant_type=client_credentials", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
				if status, body := doRequest(t, req); status != 400 || !strings.Contains(body, "unsupported_grant_type") {
					t.Errorf("JSON token request = %d %s", status, body)
				}
			}},
		{"the rest", []zoomtest.Option{zoomtest.WithWriteTimeout(3 * time.Second), zoomtest.WithSendQueue(7), zoomtest.WithCloseGrace(time.Second),
			zoomtest.WithMaxBodyBytes(99), zoomtest.WithJournalLimit(50), zoomtest.WithLogger(nil),
			zoomtest.WithConfig(func(c *mockserver.Config) { c.AdminToken = "admin" })},
			func(t *testing.T, srv *zoomtest.Server) {
				c := srv.Mock().Config()
				if c.WriteTimeout != 3*time.Second || c.SendQueue != 7 || c.CloseGrace != time.Second || c.MaxBodyBytes != 99 || c.JournalLimit != 50 || c.AdminToken != "admin" {
					t.Errorf("config = %+v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, zoomtest.NewServer(t, tt.opts...))
		})
	}
}

// TestBadOptionsFailTheTest checks that a setting that cannot work fails NewServer with its name.
func TestBadOptionsFailTheTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  zoomtest.Option
		want string
	}{
		{"policy", zoomtest.WithConnectionPolicy("sideways"), `ConnectionPolicy: unknown connection policy "sideways"`},
		{"token ttl", zoomtest.WithTokenTTL(-time.Second), "TokenTTL -1s: must be positive"},
		{"live tokens", zoomtest.WithLiveTokens(-1), "LiveTokens -1"},
		{"close code", zoomtest.WithHeartbeatClose(1006, "x"), "HeartbeatClose: bad close"},
		{"app", zoomtest.WithApps(mockserver.App{ClientID: "x", ClientSecret: "y", AccountID: "z"}), "apps[0].secretToken is empty"},
		{"duplicate subscription", zoomtest.WithSubscriptions("a", "a"), "duplicates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeTB(t)
			got := fake.run(func() { zoomtest.NewServer(fake, tt.opt) })
			if !strings.HasPrefix(got, "zoomtest: NewServer: ") || !strings.Contains(got, tt.want) {
				t.Errorf("NewServer failed with %q, want it to name %q", got, tt.want)
			}
		})
	}
}

func tokenResponse(t *testing.T, srv *zoomtest.Server) map[string]any {
	t.Helper()
	cfg := srv.Config()
	req, _ := http.NewRequest(http.MethodPost, cfg.TokenURL+"?grant_type=account_credentials&account_id="+url.QueryEscape(cfg.AccountID), nil)
	req.SetBasicAuth(cfg.ClientID, cfg.ClientSecret)
	status, body := doRequest(t, req)
	var m map[string]any
	if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("token response %d %s", status, body)
	}
	return m
}

func doRequest(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
