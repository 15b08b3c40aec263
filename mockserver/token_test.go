package mockserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	invalidClient   = `{"reason":"Invalid client_id or client_secret","error":"invalid_client"}`
	unsupportedType = `{"reason":"unsupported grant type","error":"unsupported_grant_type"}`
	badRequest      = `{"reason":"Bad Request","error":"invalid_request"}`
)

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	id, secret := DevClientID, DevClientSecret
	okQuery := "grant_type=account_credentials&account_id=" + DevAccountID
	tests := []struct {
		name                  string
		header                string // raw Authorization header
		query, ctype, body    string
		wantStatus            int
		wantBody, wantHintHas string
	}{
		{"no auth", "", okQuery, "", "", 400, invalidClient, "no Authorization header"},
		{"wrong secret", basic(id, "nope"), okQuery, "", "", 400, invalidClient, "wrong client_secret"},
		{"unknown client", basic("who", secret), okQuery, "", "", 400, invalidClient, `unknown client_id "who"`},
		{"garbled base64", "Basic !!!not-base64", okQuery, "", "", 400, invalidClient, "not valid base64"},
		{"no colon", "Basic " + "aGVsbG8=", okQuery, "", "", 400, invalidClient, "no colon"},
		{"bearer scheme", "Bearer abc", okQuery, "", "", 400, invalidClient, `scheme is "Bearer"`},
		{"missing grant", basic(id, secret), "account_id=" + DevAccountID, "", "", 400, unsupportedType, "grant_type is missing"},
		{"unknown grant", basic(id, secret), "grant_type=password", "", "", 400, unsupportedType, `"password" is not supported`},
		{"missing account", basic(id, secret), "grant_type=account_credentials", "", "", 400, badRequest, "needs account_id"},
		{"wrong account", basic(id, secret), "grant_type=account_credentials&account_id=other", "", "", 400, badRequest, `"other" is not the account`},
		{"empty account", basic(id, secret), "grant_type=account_credentials&account_id=", "", "", 400, badRequest, "needs account_id"},
		{"conflicting duplicate", basic(id, secret), "grant_type=account_credentials&grant_type=client_credentials", "", "", 400, badRequest, "given 2 times"},
		{"form body wins over query", basic(id, secret), "grant_type=client_credentials", "application/x-www-form-urlencoded", "grant_type=bogus", 400, unsupportedType, `"bogus"`},
		{"bad form body", basic(id, secret), "", "application/x-www-form-urlencoded", "grant_type=%zz", 400, badRequest, "not valid application/x-www-form-urlencoded"},
		{"oversized body", basic(id, secret), "", "application/x-www-form-urlencoded", "grant_type=" + strings.Repeat("a", 2<<20), 400, badRequest, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth/token?"+tt.query, strings.NewReader(tt.body))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var sb bytes.Buffer
			_, _ = sb.ReadFrom(resp.Body)
			if resp.StatusCode != tt.wantStatus || sb.String() != tt.wantBody {
				t.Errorf("got %d %s\nwant %d %s", resp.StatusCode, sb.String(), tt.wantStatus, tt.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if hint := resp.Header.Get("X-Zoommock-Hint"); !strings.Contains(hint, tt.wantHintHas) {
				t.Errorf("hint %q does not say %q", hint, tt.wantHintHas)
			}
		})
	}
}

var tokenShape = regexp.MustCompile(`^\{"access_token":"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+","token_type":"bearer","expires_in":3599,"scope":"marketplace:read:list_event_subscriptions meeting:read:admin recording:read:admin user:read:admin","api_url":"https://api.zoom.us"\}$`)

func TestTokenSuccess(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	id, secret := DevClientID, DevClientSecret
	tests := []struct{ name, query, ctype, body string }{
		{"account_credentials in query", "grant_type=account_credentials&account_id=" + DevAccountID, "", ""},
		{"client_credentials in query", "grant_type=client_credentials", "", ""},
		{"form body", "", "application/x-www-form-urlencoded", "grant_type=account_credentials&account_id=" + DevAccountID},
		{"form body with charset", "", "application/x-www-form-urlencoded; charset=utf-8", "grant_type=client_credentials"},
		{"JSON body ignored, query used", "grant_type=client_credentials", "application/json", `{"grant_type":"nonsense"}`},
		{"index accepted", "grant_type=client_credentials&index=2", "", ""},
		{"same duplicate is fine", "grant_type=client_credentials&grant_type=client_credentials", "", ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		status, body := ts.tokenRequest(t, id, secret, tt.query, tt.ctype, tt.body)
		if status != 200 || !tokenShape.MatchString(body) {
			t.Errorf("%s: got %d %s", tt.name, status, body)
			continue
		}
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal([]byte(body), &tr)
		if seen[tr.AccessToken] {
			t.Errorf("%s: token reused", tt.name)
		}
		seen[tr.AccessToken] = true
	}
	// The types Zoom's Node SDK insists on.
	_, body := ts.tokenRequest(t, id, secret, "grant_type=client_credentials", "", "")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["access_token"].(string); !ok {
		t.Error("access_token is not a string")
	}
	if _, ok := m["expires_in"].(float64); !ok {
		t.Error("expires_in is not a number")
	}
	if _, ok := m["scope"].(string); !ok {
		t.Error("scope is not a string")
	}
	if _, has := m["refresh_token"]; has {
		t.Error("S2S responses have no refresh_token")
	}
}

func TestTokenMethodAndStrictMode(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{StrictTokenRequest: true, TokenTTL: 2 * time.Hour})
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/oauth/token", nil)
	if status, body := do(t, req); status != 405 || body != `{"reason":"Method Not Allowed","error":"invalid_request"}` {
		t.Errorf("GET: %d %s", status, body)
	}
	status, body := ts.tokenRequest(t, DevClientID, DevClientSecret, "grant_type=client_credentials", "application/json", `{}`)
	if status != 400 || body != unsupportedType {
		t.Errorf("strict JSON body: %d %s", status, body)
	}
	status, body = ts.tokenRequest(t, DevClientID, DevClientSecret, "grant_type=client_credentials", "", "")
	if status != 200 || !strings.Contains(body, `"expires_in":7199,`) {
		t.Errorf("strict query: %d %s", status, body)
	}
}

func TestExpiresIn(t *testing.T) {
	t.Parallel()
	for ttl, want := range map[time.Duration]int64{time.Hour: 3599, 2 * time.Second: 1, 500 * time.Millisecond: 0, 90 * time.Minute: 5399} {
		if got := expiresIn(ttl); got != want {
			t.Errorf("expiresIn(%v) = %d, want %d", ttl, got, want)
		}
	}
}

func TestLiveTokensLimit(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{LiveTokens: 1})
	first := ts.token(t, DevApp())
	second := ts.token(t, DevApp())
	old := dial(t, ts.wsURL(DevSubscriptionID, first))
	if got := readText(t, old); got != `{"module":"build_connection","success":false,"content":"Token is invalid","header":{}}` {
		t.Errorf("old token: %s", got)
	}
	if ce := readClose(t, old); ce.Code != 1008 || ce.Text != "invalid_token" {
		t.Errorf("old token close = %v", ce)
	}
	fresh := dial(t, ts.wsURL(DevSubscriptionID, second))
	if got := readText(t, fresh); !strings.Contains(got, `"success":true`) {
		t.Errorf("new token: %s", got)
	}
}

func TestTokenJournalMasksSecrets(t *testing.T) {
	t.Parallel()
	ts := start(t, Config{})
	tok := ts.token(t, DevApp())
	ts.tokenRequest(t, DevClientID, "wrong", "grant_type=client_credentials", "", "")
	b, _ := json.Marshal(ts.Journal())
	for _, secret := range []string{DevClientSecret, tok} {
		if strings.Contains(string(b), secret) {
			t.Errorf("journal contains a secret: %s", b)
		}
	}
	j := ts.Journal()
	if len(j) != 2 || j[0].Token.TokenRef != "t1" || j[0].Token.Status != 200 || j[1].Token.Error != "invalid_client" ||
		!strings.Contains(j[1].Note, "wrong client_secret") {
		t.Errorf("journal = %s", b)
	}
}
