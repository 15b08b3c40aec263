package recorder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/mockserver"
	"github.com/zoommock/zoommock/recorder"
)

// Record an application's session through a Proxy. Here the upstream is an in-process mock and
// the application a few lines of gorilla/websocket; in real use the upstream is Zoom (the
// default) and the application is yours, pointed at the proxy's address.
func ExampleProxy() {
	mock, err := mockserver.New(mockserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	zoom := httptest.NewServer(mock)
	defer zoom.Close()
	defer mock.Shutdown(context.Background())

	var cassette bytes.Buffer
	cw, err := cassettes.NewWriter(&cassette, cassettes.Header{Recorder: "example"})
	if err != nil {
		log.Fatal(err)
	}
	proxy, err := recorder.NewProxy(cw, recorder.WithOAuthUpstream(zoom.URL), recorder.WithWSUpstream(zoom.URL))
	if err != nil {
		log.Fatal(err)
	}
	front := httptest.NewServer(proxy)

	// The application: a token, a connection, a heartbeat, a close.
	app := mockserver.DevApp()
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/oauth/token?grant_type=account_credentials&account_id="+app.AccountID, nil)
	req.SetBasicAuth(app.ClientID, app.ClientSecret)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var token struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(front.URL, "http")+
		"/ws?subscriptionId="+app.Subscriptions[0].ID+"&access_token="+token.AccessToken, nil)
	if err != nil {
		log.Fatal(err)
	}
	_, _, _ = ws.ReadMessage() // build_connection
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"module":"heartbeat"}`))
	_, _, _ = ws.ReadMessage() // the heartbeat's answer
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"), time.Now().Add(time.Second))
	_, _, _ = ws.ReadMessage() // the answer to the close
	ws.Close()

	proxy.Close()
	front.Close()
	if err := cw.Close(); err != nil {
		log.Fatal(err)
	}
	_, recs, err := cassettes.ReadAll(&cassette)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		switch {
		case r.HTTP != nil:
			fmt.Println(r.Kind(), r.HTTP.Method, r.HTTP.Path, r.HTTP.Status, r.HTTP.RequestHeader.Get("Authorization"))
		case r.Open != nil:
			fmt.Println(r.Kind(), r.Open.Conn, r.Open.Query, r.Open.Status)
		case r.Frame != nil:
			fmt.Println(r.Kind(), r.Frame.From, r.Frame.Payload)
		case r.Close != nil:
			fmt.Println(r.Kind(), "by", r.Close.By, r.Close.Code, r.Close.Reason)
		}
	}
	// Output:
	// http POST /oauth/token 200 Basic REDACTED-BASIC-1
	// ws_open c1 subscriptionId=zoommockDevSubscript01&access_token=REDACTED-TOKEN-1 101
	// frame server {"module":"build_connection","success":true,"content":"connected","header":{}}
	// frame client {"module":"heartbeat"}
	// frame server {"module":"heartbeat","success":true,"content":"live","header":{}}
	// close by client 1000 done
}
