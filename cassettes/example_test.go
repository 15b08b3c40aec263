package cassettes_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zoommock/zoommock/cassettes"
)

// A recorder writes each record as it happens; every record is on disk
// before Write returns.
func ExampleWriter() {
	var buf bytes.Buffer
	w, err := cassettes.NewWriter(&buf, cassettes.Header{Recorder: "example"})
	if err != nil {
		log.Fatal(err)
	}
	records := []cassettes.Record{
		{Offset: 0, Open: &cassettes.WSOpen{Conn: "c1", Path: "/ws", Query: "subscriptionId=abc", Status: 101}},
		{Offset: 120 * time.Millisecond, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text,
			Payload: `{"module":"build_connection","success":true,"content":"connected","header":{}}`}},
		{Offset: 30 * time.Second, Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Client, Opcode: cassettes.Text,
			Payload: `{"module":"heartbeat"}`}},
		{Offset: 31 * time.Second, Close: &cassettes.WSClose{Conn: "c1", By: cassettes.Client, Code: 1000}},
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	// Cat shows the JSON lines inside the zstd stream.
	if err := cassettes.Cat(os.Stdout, &buf); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"format":"zoommock-cassette","version":"1.0","recorder":"example"}
	// {"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","query":"subscriptionId=abc","status":101}
	// {"at_us":120000,"kind":"frame","conn":"c1","direction":"server","opcode":"text","payload":{"module":"build_connection","success":true,"content":"connected","header":{}}}
	// {"at_us":30000000,"kind":"frame","conn":"c1","direction":"client","opcode":"text","payload":{"module":"heartbeat"}}
	// {"at_us":31000000,"kind":"close","conn":"c1","by":"client","code":1000}
}

// A Reader goes through a cassette record by record.
func ExampleReader() {
	r, err := cassettes.Open("testdata/session.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err) // errors.Is(err, cassettes.ErrTruncated) after a crash
		}
		if rec.Kind() != cassettes.KindFrame {
			fmt.Println(strings.TrimSpace(fmt.Sprintf("%-12v %-7s %s", rec.Offset, rec.Kind(), rec.Conn())))
		}
	}
	// Output:
	// 0s           http
	// 412ms        ws_open c1
	// 58m20s       http
	// 58m20.4s     ws_open c2
	// 1h0m0s       close   c1
	// 1h0m0.5s     close   c2
}

// A replayer finds the server frames of each connection, with their offsets.
func ExampleFrames() {
	_, recs, err := cassettes.ReadFile("testdata/session.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	first := cassettes.Connections(recs)[0]
	for _, rec := range cassettes.Frames(recs, first, cassettes.Server) {
		fmt.Println(rec.Offset, rec.Frame.Payload[:30])
	}
	// Output:
	// 530ms {"module":"build_connection","
	// 1.2s {"module":"message","content":
	// 30.45s {"module":"heartbeat","success
	// 1m0.45s {"module":"heartbeat","success
}

// Create refuses to overwrite a recording unless told to.
func ExampleCreate() {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("example-%d.cassette", os.Getpid()))
	defer os.Remove(path)
	w, err := cassettes.Create(path, cassettes.Header{})
	if err != nil {
		log.Fatal(err)
	}
	w.Close()
	_, err = cassettes.Create(path, cassettes.Header{})
	fmt.Println(errors.Is(err, cassettes.ErrExists))
	w, err = cassettes.Create(path, cassettes.Header{}, cassettes.WithForce())
	fmt.Println(err)
	w.Close()
	// Output:
	// true
	// <nil>
}

// The Redactor replaces secrets with placeholders that stay the same for the
// same secret: the token from the exchange is visibly the one the
// connection used.
func ExampleRedactor() {
	r := cassettes.NewRedactor(cassettes.WithSecrets("my-webhook-secret-token"))
	basic := base64.StdEncoding.EncodeToString([]byte("client-id:client-secret-value"))
	exchange := r.Redact(cassettes.Record{HTTP: &cassettes.HTTPExchange{
		Method: "POST", Path: "/oauth/token", Query: "grant_type=account_credentials&account_id=abc",
		RequestHeader: http.Header{"Authorization": {"Basic " + basic}},
		Status:        200,
		ResponseBody:  `{"access_token":"eyJhbGciOiJIUzUxMiJ9.secret.part","token_type":"bearer","expires_in":3599}`,
	}})
	open := r.Redact(cassettes.Record{Open: &cassettes.WSOpen{
		Conn: "c1", Path: "/ws", Query: "subscriptionId=xyz&access_token=eyJhbGciOiJIUzUxMiJ9.secret.part", Status: 101,
	}})
	frame := r.Redact(cassettes.Record{Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text,
		Payload: `{"module":"message","content":"{}","header":{"Authorization":"verification-token-value","clientId":"client-id"}}`,
	}})
	fmt.Println(exchange.HTTP.RequestHeader.Get("Authorization"))
	fmt.Println(exchange.HTTP.ResponseBody)
	fmt.Println(open.Open.Query)
	fmt.Println(frame.Frame.Payload)
	// Output:
	// Basic REDACTED-BASIC-1
	// {"access_token":"REDACTED-TOKEN-1","token_type":"bearer","expires_in":3599}
	// subscriptionId=xyz&access_token=REDACTED-TOKEN-1
	// {"module":"message","content":"{}","header":{"Authorization":"REDACTED-VERIFICATION-1","clientId":"client-id"}}
}

// Pseudonyms replace people's data in events consistently within a
// cassette.
func ExampleWithPseudonyms() {
	r := cassettes.NewRedactor(cassettes.WithPseudonyms())
	for _, name := range []string{"Ada Example", "Lin Example", "Ada Example"} {
		content := `{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{\"participant\":{\"user_name\":\"` + name + `\"}}}}`
		rec := r.Redact(cassettes.Record{Frame: &cassettes.Frame{Conn: "c1", From: cassettes.Server, Opcode: cassettes.Text,
			Payload: `{"module":"message","content":"` + content + `"}`}})
		fmt.Println(rec.Frame.Payload)
	}
	// Output:
	// {"module":"message","content":"{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{\"participant\":{\"user_name\":\"pseudo-name-1\"}}}}"}
	// {"module":"message","content":"{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{\"participant\":{\"user_name\":\"pseudo-name-2\"}}}}"}
	// {"module":"message","content":"{\"event\":\"meeting.participant_joined\",\"payload\":{\"object\":{\"participant\":{\"user_name\":\"pseudo-name-1\"}}}}"}
}

func ExampleInspect() {
	f, err := os.Open("testdata/session.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s, err := cassettes.Inspect(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(s)
	// Output:
	// format       zoommock-cassette 1.0, created 2026-12-03T14:00:00Z by zoommock record --direct
	// records      14 over 1h0m0.5s
	// http         2 exchanges, 2 token requests (0 failed)
	// connections  2
	//   c1  /ws status 101, opened at 412ms, closed at 1h0m0s by the server (1001 "going away"); 3 client and 4 server frames, 1 event
	//   c2  /ws status 101, opened at 58m20.4s, closed at 1h0m0.5s by the client without a close frame; 0 client and 1 server frames, 0 events
	// events       1
	//   meeting.started  1
	// heartbeats   2 from the client, 2 answered; every 30s (min 30s, max 30s)
}

func ExampleValidate() {
	input := strings.Join([]string{
		`{"format":"zoommock-cassette","version":"1.0"}`,
		`{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","status":101}`,
		`{"at_us":10,"kind":"frame","conn":"c2","direction":"server","opcode":"text","payload":"hi"}`,
		`{"at_us":5,"kind":"frame","conn":"c1","direction":"up","opcode":"text","payload":"hi"}`,
	}, "\n")
	fmt.Println(cassettes.Validate(strings.NewReader(input)))
	// Output:
	// cassette has 2 problems:
	// record 2 (line 3): field "conn": a frame on connection "c2", which no earlier ws_open record opened
	// record 3 (line 4): field "direction": want "client" or "server", got "up"
}

func ExampleDiff() {
	a := `{"format":"zoommock-cassette","version":"1.0"}
{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","query":"access_token=REDACTED-TOKEN-1","status":101}
{"at_us":10,"kind":"frame","conn":"c1","direction":"server","opcode":"text","payload":{"module":"message","content":"{\"event\":\"meeting.started\"}","header":{"x-zm-trackingid":"EventService_1"}}}
`
	// The same session, recorded later: other timing, other tracking id,
	// another placeholder number.
	b := `{"format":"zoommock-cassette","version":"1.0"}
{"at_us":0,"kind":"ws_open","conn":"c1","path":"/ws","query":"access_token=REDACTED-TOKEN-2","status":101}
{"at_us":17,"kind":"frame","conn":"c1","direction":"server","opcode":"text","payload":{"module":"message","content":"{\"event\":\"meeting.started\"}","header":{"x-zm-trackingid":"EventService_2"}}}
`
	diff, err := cassettes.Diff(strings.NewReader(a), strings.NewReader(b))
	fmt.Printf("%q %v\n", diff, err)
	// Output:
	// "" <nil>
}
