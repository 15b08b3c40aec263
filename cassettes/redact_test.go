package cassettes

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The secrets of the raw session below.
const (
	clientID       = "Zx8pQwErTyUiOpAsDfGh1A"
	clientSecret   = "s3cr3t-Cl13nt-S3cr3t-value"
	secretToken    = "webhook+secret/token=xyz" // URL-escapes differently
	token1         = "eyJhbGciOiJIUzUxMiJ9.dG9rZW4tb25l.c2lnMQ"
	token2         = "eyJhbGciOiJIUzUxMiJ9.dG9rZW4tdHdv.c2lnMg"
	verification   = "vErIfIcAtIoN-tOkEn-1234"
	downloadToken  = "eyJhbGciOiJIUzI1NiJ9.ZG93bmxvYWQ.c2lnbmF0dXJl" // in recording.completed.json
	sessionCookie  = "zm_session=abcdef0123456789; Path=/; HttpOnly"
	refreshTokenIn = "rEfReSh-ToKeN-5678"
)

var basicCredentials = base64.StdEncoding.EncodeToString([]byte(clientID + ":" + clientSecret))

func allSecrets() []string {
	return []string{clientSecret, secretToken, token1, token2, verification, downloadToken, sessionCookie, refreshTokenIn, basicCredentials}
}

// rawSession is a recording before redaction: two token exchanges and
// three connections, the third reusing the second token, with secrets in
// every place they turn up.
func rawSession(t testing.TB) []Record {
	t.Helper()
	event := func(name string) string {
		b, err := os.ReadFile("testdata/events/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.TrimSpace(b))
	}
	exchange := func(at time.Duration, token string) Record {
		return Record{Offset: at, HTTP: &HTTPExchange{Method: "POST", Path: "/oauth/token",
			Query:          "grant_type=account_credentials&account_id=Q2k9mXr4TzWv8aLpN3bYcA",
			RequestHeader:  http.Header{"Authorization": {"Basic " + basicCredentials}, "Cookie": {sessionCookie}},
			Form:           url.Values{"client_secret": {clientSecret}, "grant_type": {"account_credentials"}},
			Status:         200,
			ResponseHeader: http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {sessionCookie}},
			ResponseBody:   `{"access_token":"` + token + `","token_type":"bearer","refresh_token":"` + refreshTokenIn + `","expires_in":3599,"scope":"s"}`}}
	}
	frame := func(at time.Duration, conn string, from Side, payload string) Record {
		return Record{Offset: at, Frame: &Frame{Conn: conn, From: from, Opcode: Text, Payload: payload}}
	}
	ev := func(at time.Duration, conn, name string) Record {
		return frame(at, conn, Server, envelopeFrame(event(name), verification, "EventService_0123", "v0=abc", 1764770400))
	}
	return []Record{
		exchange(0, token1),
		{Offset: time.Second, Open: &WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=sub1&access_token=" + token1, Status: 101}},
		frame(time.Second, "c1", Server, buildConnection),
		ev(2*time.Second, "c1", "meeting.participant_joined"),
		ev(3*time.Second, "c1", "meeting.participant_left"),
		frame(4*time.Second, "c1", Client, `{"module":"heartbeat","debug":"signed with `+secretToken+`"}`),
		{Offset: 5 * time.Second, Close: &WSClose{Conn: "c1", By: Server, Code: 1008, Reason: "invalid_token " + token1}},
		exchange(6*time.Second, token2),
		{Offset: 7 * time.Second, Open: &WSOpen{Conn: "c2", Path: "/ws", Query: "subscriptionId=sub1&access_token=" + url.QueryEscape(token2), Status: 101}},
		ev(8*time.Second, "c2", "recording.completed"),
		ev(9*time.Second, "c2", "user.created"),
		{Offset: 10 * time.Second, Close: &WSClose{Conn: "c2", By: Client, Abrupt: true}},
		{Offset: 11 * time.Second, Open: &WSOpen{Conn: "c3", Path: "/ws", Query: "access_token=" + token2 + "&subscriptionId=sub1", Status: 101}},
		{Offset: 12 * time.Second, HTTP: &HTTPExchange{Method: "GET", Path: "/v2/users/me", RequestHeader: http.Header{"Authorization": {"Bearer " + token2}}, Status: 200,
			ResponseBody: "token=" + token2 + "&other=1"}},
	}
}

// TestRedactionLeavesNoSecret writes the raw session through a Redactor and
// checks that no secret, in any form, is in the decompressed file, and that
// the placeholders tell which token was used where.
func TestRedactionLeavesNoSecret(t *testing.T) {
	t.Parallel()
	raw := rawSession(t)
	r := NewRedactor(WithSecrets(secretToken, clientSecret))
	h := Header{Recorder: "zoommock record --client-secret " + clientSecret, Meta: map[string]string{"note": "token " + secretToken}}
	data := encode(t, h, raw, WithRedactor(r))

	// The test's own tool must see the secrets in an unredacted file.
	unredacted := encode(t, testHeader, raw)
	if found, err := ContainsAny(unredacted, allSecrets()...); err != nil || len(found) != len(allSecrets()) {
		t.Fatalf("ContainsAny on the raw session found %d of %d secrets (%v): %v", len(found), len(allSecrets()), found, err)
	}
	if found, err := ContainsAny(data, allSecrets()...); err != nil || len(found) != 0 {
		t.Fatalf("secrets left in the cassette: %q (%v)", found, err)
	}

	gotH, got := readAll(t, data)
	if gotH.Recorder != "zoommock record --client-secret REDACTED-SECRET-2" || gotH.Meta["note"] != "token REDACTED-SECRET-1" {
		t.Errorf("header = %+v", gotH)
	}
	checks := []struct {
		name, got, want string
	}{
		{"Basic credentials", got[0].HTTP.RequestHeader.Get("Authorization"), "Basic REDACTED-BASIC-1"},
		{"the same Basic credentials later", got[7].HTTP.RequestHeader.Get("Authorization"), "Basic REDACTED-BASIC-1"},
		{"cookie", got[0].HTTP.RequestHeader.Get("Cookie"), "REDACTED-COOKIE-1"},
		{"set-cookie", got[0].HTTP.ResponseHeader.Get("Set-Cookie"), "REDACTED-COOKIE-1"},
		{"client_secret form field", got[0].HTTP.Form.Get("client_secret"), "REDACTED-SECRET-2"},
		{"token 1 in its exchange", got[0].HTTP.ResponseBody, `{"access_token":"REDACTED-TOKEN-1","token_type":"bearer","refresh_token":"REDACTED-TOKEN-2","expires_in":3599,"scope":"s"}`},
		{"token 1 in connection 1", got[1].Open.Query, "subscriptionId=sub1&access_token=REDACTED-TOKEN-1"},
		{"token 1 in a close reason", got[6].Close.Reason, "invalid_token REDACTED-TOKEN-1"},
		{"registered secret in a client frame", got[5].Frame.Payload, `{"module":"heartbeat","debug":"signed with REDACTED-SECRET-1"}`},
		{"token 2 in its exchange", got[7].HTTP.ResponseBody[:35], `{"access_token":"REDACTED-TOKEN-3",`},
		{"token 2, URL-escaped, in connection 2", got[8].Open.Query, "subscriptionId=sub1&access_token=REDACTED-TOKEN-3"},
		{"token 2 in connection 3", got[12].Open.Query, "access_token=REDACTED-TOKEN-3&subscriptionId=sub1"},
		{"token 2 as a bearer token", got[13].HTTP.RequestHeader.Get("Authorization"), "Bearer REDACTED-TOKEN-3"},
		{"token 2 in a form-encoded body", got[13].HTTP.ResponseBody, "token=REDACTED-TOKEN-3&other=1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	// The verification token in every event header, the download token in
	// the content; the rest of the event untouched.
	var env struct {
		Content string            `json:"content"`
		Header  map[string]string `json:"header"`
	}
	if err := json.Unmarshal([]byte(got[9].Frame.Payload), &env); err != nil {
		t.Fatal(err)
	}
	if env.Header["Authorization"] != "REDACTED-VERIFICATION-1" || env.Header["clientId"] != clientID {
		t.Errorf("event header = %v", env.Header)
	}
	if !strings.Contains(env.Content, `"download_token":"REDACTED-DOWNLOAD-1"`) || !strings.Contains(env.Content, `"host_email":"host@example.com"`) {
		t.Errorf("event content = %s", env.Content)
	}
	if err := ValidateRecords(got); err != nil {
		t.Errorf("redacted records are invalid: %v", err)
	}
}

func TestRedactionIsIdempotent(t *testing.T) {
	t.Parallel()
	raw := rawSession(t)
	r := NewRedactor(WithSecrets(secretToken), WithPseudonyms())
	once := make([]Record, len(raw))
	for i, rec := range raw {
		once[i] = r.Redact(rec)
	}
	fresh := NewRedactor(WithPseudonyms())
	for i, rec := range once {
		if diff := cmp.Diff(rec, r.Redact(rec), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("record %d redacted twice by the same Redactor (-once +twice):\n%s", i+1, diff)
		}
		if diff := cmp.Diff(rec, fresh.Redact(rec), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("record %d redacted again by a fresh Redactor (-once +twice):\n%s", i+1, diff)
		}
	}
	// Redact does not modify its input.
	if diff := cmp.Diff(rawSession(t), raw, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Redact modified its input:\n%s", diff)
	}
}

func TestRedactorNumbersAfterExistingPlaceholders(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	r.Redact(Record{Open: &WSOpen{Conn: "c1", Path: "/ws", Query: "access_token=REDACTED-TOKEN-5"}})
	got := r.Redact(Record{Open: &WSOpen{Conn: "c2", Path: "/ws", Query: "access_token=a-new-token-value"}})
	if got.Open.Query != "access_token=REDACTED-TOKEN-6" {
		t.Errorf("query = %q, want the next free number", got.Open.Query)
	}
}

func TestRedactorShortSecrets(t *testing.T) {
	t.Parallel()
	// A short learned secret is replaced where it was found (with the same
	// placeholder), not inside every word that contains it.
	r := NewRedactor()
	creds := base64.StdEncoding.EncodeToString([]byte("id:pw"))
	got := r.Redact(Record{HTTP: &HTTPExchange{Method: "POST", Path: "/oauth/token", Status: 200,
		RequestHeader: http.Header{"Authorization": {"Basic " + creds}}, Form: url.Values{"password": {"pw"}}, ResponseBody: "pwned"}})
	if got.HTTP.Form.Get("password") != "REDACTED-SECRET-1" || got.HTTP.ResponseBody != "pwned" {
		t.Errorf("got form %v, body %q", got.HTTP.Form, got.HTTP.ResponseBody)
	}
	// A registered secret is replaced everywhere, whatever its length.
	r = NewRedactor(WithSecrets("pw"))
	got = r.Redact(Record{Close: &WSClose{Conn: "c1", By: Client, Code: 1000, Reason: "pwned"}})
	if got.Close.Reason != "REDACTED-SECRET-1ned" {
		t.Errorf("reason = %q", got.Close.Reason)
	}
	r.AddSecrets("ned", "")
	if got := r.Redact(got); got.Close.Reason != "REDACTED-SECRET-1REDACTED-SECRET-2" {
		t.Errorf("after AddSecrets: reason = %q", got.Close.Reason)
	}
}

func TestPseudonyms(t *testing.T) {
	t.Parallel()
	raw := rawSession(t)
	r := NewRedactor(WithPseudonyms())
	data := encode(t, testHeader, raw, WithRedactor(r))
	personal := []string{"Ada Example", "ada@example.com", "Q2k9mXr4TzWv8aLpN3bYcA", "host@example.com", "lin@example.com", "Lin Example", "admin@example.com"}
	text, _ := decompressAll(data)
	if found, _ := ContainsAny(data, personal...); len(found) > 0 {
		// The account id stays in the token request's query string: it is
		// not in an event payload.
		if len(found) != 1 || found[0] != "Q2k9mXr4TzWv8aLpN3bYcA" || bytes.Count(text, []byte("Q2k9mXr4TzWv8aLpN3bYcA")) != 2 {
			t.Errorf("personal data left: %q", found)
		}
	}
	_, got := readAll(t, data)
	content := func(i int) map[string]any {
		var env struct{ Content string }
		if err := json.Unmarshal([]byte(got[i].Frame.Payload), &env); err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(env.Content), &ev); err != nil {
			t.Fatalf("content of record %d is no longer JSON: %v", i+1, err)
		}
		return ev
	}
	participant := func(i int) map[string]any {
		return content(i)["payload"].(map[string]any)["object"].(map[string]any)["participant"].(map[string]any)
	}
	joined, left := participant(3), participant(4)
	for _, key := range []string{"user_name", "email"} {
		if joined[key] != left[key] {
			t.Errorf("%s: %v when joining, %v when leaving; want the same pseudonym", key, joined[key], left[key])
		}
	}
	if joined["user_name"] != "pseudo-name-1" || joined["email"] != "pseudo-email-1@example.invalid" {
		t.Errorf("participant = %v", joined)
	}
	if reason := left["leave_reason"]; reason != "pseudo-name-1 left the meeting.<br>Reason: left the meeting" {
		t.Errorf("leave_reason = %q", reason)
	}
	if acct := content(3)["payload"].(map[string]any)["account_id"]; acct != "pseudo-account-1" {
		t.Errorf("account_id = %v", acct)
	}
	// Ids that are not personal data stay; the key order of the content
	// stays as Zoom sent it.
	var env struct{ Content string }
	json.Unmarshal([]byte(got[3].Frame.Payload), &env)
	if !strings.HasPrefix(env.Content, `{"event":"meeting.participant_joined","event_ts":1764770460789,"payload":{"account_id":"pseudo-account-1","object":{"id":"84512093377"`) {
		t.Errorf("content = %s", env.Content)
	}
	user := content(10)["payload"].(map[string]any)
	obj := user["object"].(map[string]any)
	if obj["first_name"] != "pseudo-name-2" || obj["display_name"] != "pseudo-name-4" || user["operator"] != "pseudo-email-3@example.invalid" {
		t.Errorf("user.created payload = %v", user)
	}
}

func TestRedactorConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRedactor()
	var wg sync.WaitGroup
	results := make([][]string, 8)
	for g := range results {
		wg.Go(func() {
			for i := range 20 {
				q := r.Redact(Record{Open: &WSOpen{Conn: "c", Path: "/ws", Query: "access_token=token-number-" + string(rune('a'+i))}}).Open.Query
				results[g] = append(results[g], q)
			}
		})
	}
	wg.Wait()
	for g := range results {
		if diff := cmp.Diff(results[0], results[g]); diff != "" {
			t.Errorf("goroutine %d saw other placeholders:\n%s", g, diff)
		}
	}
}

func TestContainsAnyFindsEscapedForms(t *testing.T) {
	t.Parallel()
	secret := `a"b\c/d<e>&`
	recs := []Record{
		{Open: &WSOpen{Conn: "c1", Path: "/ws", Status: 101}},
		{Frame: &Frame{Conn: "c1", From: Server, Opcode: Text, Payload: envelopeFrame(`{"x":`+jsonString(secret)+`}`, "v", "t", "s", 1)}},
	}
	for name, data := range map[string][]byte{"compressed": encode(t, Header{}, recs), "plain": plain(t, Header{}, recs)} {
		if found, err := ContainsAny(data, secret, "absent"); err != nil || !cmp.Equal(found, []string{secret}) {
			t.Errorf("%s: found %q, %v", name, found, err)
		}
		redacted := encode(t, Header{}, recs, WithRedactor(NewRedactor(WithSecrets(secret))))
		if found, _ := ContainsAny(redacted, secret); len(found) > 0 {
			t.Errorf("%s: the doubly escaped secret survived redaction", name)
		}
	}
}
