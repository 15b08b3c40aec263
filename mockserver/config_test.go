package mockserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Parallel()
	good := `{"apps":[{"clientId":"a","clientSecret":"s","accountId":"acc","secretToken":"st","subscriptions":[{"id":"s1"},{"id":"s2"}]},
 {"clientId":"b","clientSecret":"s","accountId":"acc2","secretToken":"st","scope":"x y","subscriptions":[{"id":"s3"}]}]}`
	fc, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Apps) != 2 || fc.Apps[1].Scope != "x y" || fc.Apps[0].Subscriptions[1].ID != "s2" {
		t.Errorf("parsed %+v", fc)
	}
	tests := []struct{ name, doc, want string }{
		{"empty", ``, "the file is empty"},
		{"no apps", `{}`, `"apps" is missing or empty`},
		{"syntax", "{\"apps\": [\n  {\"clientId\": \"a\",,}\n]}", "line 2: invalid character ','"},
		{"unknown field", "{\"apps\": [\n {\"clientId\": \"a\",\n  \"clientSecrt\": \"s\",\n \"accountId\": \"x\"\n}]}", `line 3: unknown field "clientSecrt"`},
		{"unknown nested field", "{\"apps\": [{\"clientId\": \"a\",\n \"subscriptions\": [\n {\"id\": \"s\",\n \"name\": 1}\n]}]}", `line 4: unknown field "name"`},
		{"duplicate key", "{\"apps\": [\n{\"clientId\": \"a\", \"clientId\": \"b\"}]}", `line 2: key "clientId" appears twice`},
		{"wrong type", "{\"apps\": [\n {\"clientId\": 5}]}", `line 2: field "apps.clientId": want string, got a JSON number`},
		{"trailing data", `{"apps":[]} {}`, "unexpected data after the config object"},
		{"missing secret", `{"apps":[{"clientId":"a","accountId":"x","secretToken":"t","subscriptions":[{"id":"s"}]}]}`, "apps[0].clientSecret is empty"},
		{"no subscriptions", `{"apps":[{"clientId":"a","clientSecret":"s","accountId":"x","secretToken":"t"}]}`, "apps[0].subscriptions is empty"},
		{"duplicate client", `{"apps":[{"clientId":"a","clientSecret":"s","accountId":"x","secretToken":"t","subscriptions":[{"id":"s"}]},{"clientId":"a","clientSecret":"s","accountId":"x","secretToken":"t","subscriptions":[{"id":"u"}]}]}`, `apps[1].clientId "a" duplicates apps[0].clientId`},
		{"duplicate subscription", `{"apps":[{"clientId":"a","clientSecret":"s","accountId":"x","secretToken":"t","subscriptions":[{"id":"s"}]},{"clientId":"b","clientSecret":"s","accountId":"x","secretToken":"t","subscriptions":[{"id":"s"}]}]}`, `apps[1].subscriptions[0].id "s" duplicates apps[0].subscriptions[0].id`},
		{"bad subscription id", `{"apps":[{"clientId":"a","clientSecret":"s","accountId":"x","secretToken":"t","subscriptions":[{"id":"a&b"}]}]}`, "cannot contain"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.doc))
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrBadConfig saying %q", tt.name, err, tt.want)
		}
	}
}

func TestReadConfigFileNamesThePath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "apps.json")
	if err := os.WriteFile(path, []byte(`{"apps":[{"nope":1}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfigFile(path); err == nil || !strings.HasPrefix(err.Error(), path+": bad config: line 1: unknown field") {
		t.Errorf("err = %v", err)
	}
	if _, err := ReadConfigFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), "failed to read config") {
		t.Errorf("err = %v", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{ConnectionPolicy: "newest"}, "unknown connection policy"},
		{Config{LiveTokens: -1}, "LiveTokens -1"},
		{Config{TokenTTL: -time.Second}, "TokenTTL"},
		{Config{HeartbeatClose: CloseSpec{Code: 1006}}, "HeartbeatClose"},
		{Config{Apps: []App{{ClientID: "x"}}}, "apps[0]"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestParseCloseSpec(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]CloseSpec{"1008:invalid_token": {1008, "invalid_token"}, "1000": {1000, ""}, "4000:a:b": {4000, "a:b"}} {
		if got, err := ParseCloseSpec(in); err != nil || got != want {
			t.Errorf("ParseCloseSpec(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "abc", "999", "1006", "5000:x", "1000:" + strings.Repeat("r", 124)} {
		if _, err := ParseCloseSpec(in); err == nil {
			t.Errorf("ParseCloseSpec(%q) accepted", in)
		}
	}
}
