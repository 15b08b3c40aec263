package mockserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/mockserver"
)

// Serve the mock, get a token as a Zoom client does, connect, heartbeat and receive an event.
func Example() {
	srv, err := mockserver.New(mockserver.Config{}) // the development app
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background()) // closes the WebSockets, which hs.Close does not

	req, _ := http.NewRequest("POST", hs.URL+"/oauth/token?grant_type=account_credentials&account_id="+mockserver.DevAccountID, nil)
	req.SetBasicAuth(mockserver.DevClientID, mockserver.DevClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println(tok.TokenType, tok.ExpiresIn)

	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?subscriptionId=" + mockserver.DevSubscriptionID + "&access_token=" + tok.AccessToken
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	_, frame, _ := ws.ReadMessage()
	fmt.Println(string(frame))

	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`))
	_, frame, _ = ws.ReadMessage()
	fmt.Println(string(frame))

	res, _ := srv.Emit("", []byte(`{"event":"user.created","event_ts":1764770400123,"payload":{"account_id":"A1","object":{"id":"u1"}}}`))
	fmt.Println(res.Event, res.Delivered)
	_, frame, _ = ws.ReadMessage()
	var msg struct {
		Module  string `json:"module"`
		Content string `json:"content"`
	}
	_ = json.Unmarshal(frame, &msg)
	fmt.Println(msg.Module, msg.Content)
	// Output:
	// bearer 3599
	// {"module":"build_connection","success":true,"content":"connected","header":{}}
	// {"module":"heartbeat","success":true,"content":"live","header":{}}
	// user.created 1
	// message {"event":"user.created","event_ts":1764770400123,"payload":{"account_id":"A1","object":{"id":"u1"}}}
}

// Faults switch on the failures consumers must survive.
func ExampleServer_SetFaults() {
	srv, _ := mockserver.New(mockserver.Config{})
	defer srv.Shutdown(context.Background())
	srv.SetFaults(mockserver.Faults{DuplicateEvents: true, StopHeartbeatReplies: true})
	b, _ := json.Marshal(srv.Faults())
	fmt.Println(string(b))
	// Output: {"stopHeartbeatReplies":true,"duplicateEvents":true}
}

// Emit answers how many connections took an event; with none open Zoom drops it, and so does the mock.
func ExampleServer_Emit() {
	srv, _ := mockserver.New(mockserver.Config{})
	defer srv.Shutdown(context.Background())
	res, err := srv.Emit(mockserver.DevSubscriptionID, []byte(`{"event":"meeting.ended","payload":{}}`))
	fmt.Println(res.Delivered, res.Dropped, err)
	fmt.Println(srv.Stats().EventsDropped)
	// Output:
	// 0 true <nil>
	// 1
}
