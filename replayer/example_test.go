package replayer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/replayer"
)

// The mock replays a cassette: each connection the client opens plays the recorded connection of
// the same rank, here as fast as the client reads. The client below stands for the code under
// test; Status then compares what it did with what the recording's client did.
func Example() {
	p, err := replayer.Open("builtin:server-drop", replayer.WithSpeed(0))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p)
	srv, err := mockserver.New(mockserver.Config{Playback: p})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	// The client: a token, then a connection, and a reconnection with the same token when the
	// first one drops, as the recording's client did.
	req, _ := http.NewRequest("POST", hs.URL+"/oauth/token?grant_type=account_credentials&account_id="+mockserver.DevAccountID, nil)
	req.SetBasicAuth(mockserver.DevClientID, mockserver.DevClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?subscriptionId=" + mockserver.DevSubscriptionID + "&access_token=" + tok.AccessToken
	for range 2 {
		ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			log.Fatal(err)
		}
		for {
			var f struct{ Module, Content string }
			if err := ws.ReadJSON(&f); err != nil {
				fmt.Println("connection ended:", err)
				break
			}
			var ev struct{ Event string }
			_ = json.Unmarshal([]byte(f.Content), &ev)
			if f.Module != "message" {
				continue
			}
			fmt.Println(ev.Event)
			if ev.Event == "meeting.ended" { // the recording's client then stopped, with 1000
				_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "consumer shutting down"))
				_, _, err := ws.ReadMessage()
				fmt.Println("closed:", err)
				break
			}
		}
		ws.Close()
	}
	_ = srv.Shutdown(context.Background()) // finishes the playback: its comparison is final
	st := p.Status()
	fmt.Println(st.State, "faithful:", st.Faithful)
	// Output:
	// builtin:server-drop: 2 connections, 4 events, 1m25s recorded (as fast as possible)
	// meeting.started
	// meeting.participant_joined
	// connection ended: websocket: close 1006 (abnormal closure): unexpected EOF
	// meeting.participant_left
	// meeting.ended
	// closed: websocket: close 1000 (normal)
	// finished faithful: true
}

// Verify plays the client half of a cassette against a server, here a mock, and reports every
// answer that differs from the recording.
func ExampleVerify() {
	srv, err := mockserver.New(mockserver.Config{InvalidTokenText: "Invalid Token"})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	r, _ := cassettes.Builtin("meeting-lifecycle")
	_, recs, err := cassettes.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	report, err := replayer.Verify(context.Background(), recs, replayer.VerifyConfig{
		BaseURL:  hs.URL,
		ClientID: mockserver.DevClientID, ClientSecret: mockserver.DevClientSecret,
		Speed: 0, // as fast as the server answers
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(report)
	// Output:
	// 1 HTTP exchange, 1 connection and 5 answers compared (0 events received, not compared): the server answered as recorded
}
