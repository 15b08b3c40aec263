package replayer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
)

// VerifyConfig says where, as whom and how fast Verify plays the client half of a cassette.
type VerifyConfig struct {
	// BaseURL is where HTTP exchanges go, such as http://127.0.0.1:9876 or https://zoom.us: the
	// recorded path and query are appended.
	BaseURL string
	// WebSocketURL is where connections go, such as wss://ws.zoom.us; default: BaseURL with http
	// turned into ws.
	WebSocketURL string
	// ClientID and ClientSecret replace the recording's redacted Basic credentials; AccountID,
	// when set, replaces the recorded account_id.
	ClientID, ClientSecret, AccountID string
	// SubscriptionID, when set, replaces the recorded subscriptionId.
	SubscriptionID string
	// Speed scales the recorded timeline as WithSpeed does (default 0 here: as fast as the server
	// answers, since Verify waits for every recorded answer before the client's next move anyway).
	Speed float64
	// Grace is how long to wait for an answer or close the recording had, beyond its time
	// (default 2s). An answer that does not come within it is reported as missing.
	Grace time.Duration
	// HTTPClient makes the HTTP exchanges (default: one with a 30s timeout); Dialer opens the
	// connections (default: websocket.DefaultDialer).
	HTTPClient *http.Client
	Dialer     *websocket.Dialer
	// Logger receives a line per step; nil discards them.
	Logger *slog.Logger
}

// VerifyReport is what Verify compared and found.
type VerifyReport struct {
	// Exchanges, Connections and Answers count the HTTP exchanges, the connections and the
	// non-event server frames compared. Events counts the event frames the server sent, which are
	// not compared: what happens on a Zoom account cannot be replayed from the client side.
	Exchanges, Connections, Answers, Events int
	// Differences lists every answer that differs from the recording.
	Differences []Difference
}

// Faithful reports whether the server answered as recorded.
func (r VerifyReport) Faithful() bool { return len(r.Differences) == 0 }

// String summarizes the report, then lists the differences.
func (r VerifyReport) String() string {
	head := fmt.Sprintf("%s, %s and %s compared (%s received, not compared)",
		plural(r.Exchanges, "HTTP exchange"), plural(r.Connections, "connection"), plural(r.Answers, "answer"), plural(r.Events, "event"))
	if r.Faithful() {
		return head + ": the server answered as recorded"
	}
	return fmt.Sprintf("%s: %d differ from the recording\n%s", head, len(r.Differences), describeDifferences(r.Differences))
}

// Verify plays the client half of recs (a cassette read with cassettes.ReadAll) against the server
// that cfg names, and reports every answer that differs from the recording: the status and shape
// (key set and JSON types, not values) of successful token responses and the whole body of failed
// ones, the upgrade status, the build_connection frame, heartbeat replies and any other non-event
// frame, and how each connection ended. Tokens, timestamps, tracking ids and signatures are
// ignored, as they differ on every run.
//
// Each token the server issues takes the place of the recording's placeholder for the token of
// that exchange (REDACTED-TOKEN-2 in a later query is sent as the second token issued); a
// placeholder no exchange issued is sent as is, which a server refuses as the recorded one was.
// Before each move of the client, Verify waits (at most Grace) for the answers and closes the
// recording had before it, so that a fast replay keeps the recorded order.
//
// The error is for what stops the work (a server that cannot be reached, ctx ending), never for a
// difference.
func Verify(ctx context.Context, recs []cassettes.Record, cfg VerifyConfig) (VerifyReport, error) {
	if err := cassettes.ValidateRecords(recs); err != nil {
		return VerifyReport{}, fmt.Errorf("failed to verify: %w", err)
	}
	if cfg.Speed < 0 {
		return VerifyReport{}, fmt.Errorf("%w: speed %v: want 0 or more", ErrBadOption, cfg.Speed)
	}
	if cfg.WebSocketURL == "" {
		cfg.WebSocketURL = "ws" + strings.TrimPrefix(cfg.BaseURL, "http")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		// A transport of its own, closed at the end, so that Verify leaves no connection behind.
		transport := http.DefaultTransport.(*http.Transport).Clone()
		defer transport.CloseIdleConnections()
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: transport}
	}
	if cfg.Dialer == nil {
		cfg.Dialer = websocket.DefaultDialer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &verifier{cfg: cfg, start: time.Now(), tokens: map[string]string{}, conns: map[string]*vconn{}}
	defer v.closeAll()
	for _, r := range recs {
		if !sleepUntil(ctx, v.start.Add(v.scaled(r.Offset))) {
			return v.report, fmt.Errorf("failed to verify: %w", context.Cause(ctx))
		}
		if err := v.play(ctx, r); err != nil {
			return v.report, err
		}
	}
	v.catchUp(ctx)
	v.closeAll()
	for _, vc := range v.order {
		v.compare(vc)
	}
	return v.report, nil
}

type verifier struct {
	cfg       VerifyConfig
	start     time.Time
	tokens    map[string]string // recorded token placeholder → the token the server issued
	conns     map[string]*vconn
	order     []*vconn
	exchanges int
	report    VerifyReport
}

func (v *verifier) scaled(d time.Duration) time.Duration {
	if v.cfg.Speed == 0 {
		return 0
	}
	return time.Duration(float64(d) / v.cfg.Speed)
}

// play performs the client's side of one record, or notes the server's side to expect.
func (v *verifier) play(ctx context.Context, r cassettes.Record) error {
	switch {
	case r.HTTP != nil:
		v.catchUp(ctx)
		return v.exchange(ctx, r.HTTP)
	case r.Open != nil:
		v.catchUp(ctx)
		return v.open(ctx, r.Open)
	}
	vc := v.conns[r.Conn()]
	if vc == nil { // its upgrade failed, as recorded or live: nothing to play on it
		return nil
	}
	switch {
	case r.Frame != nil && r.Frame.From == cassettes.Server:
		if r.Frame.Opcode == cassettes.Text && isEvent(r.Frame.Payload) {
			return nil
		}
		vc.expect(r.Offset, answerView(r.Frame.Opcode == cassettes.Binary, r.Frame.Payload))
	case r.Frame != nil:
		v.catchUp(ctx)
		mt := websocket.TextMessage
		if r.Frame.Opcode == cassettes.Binary {
			mt = websocket.BinaryMessage
		}
		if err := vc.ws.WriteMessage(mt, []byte(r.Frame.Payload)); err != nil {
			v.cfg.Logger.Info("verify: failed to send a recorded client frame", "conn", vc.id, "err", err)
		}
	case r.Close.By == cassettes.Server:
		vc.expectClose(r.Offset, r.Close)
	default:
		v.catchUp(ctx)
		vc.recordedClose = r.Close
		vc.closeAsClient(r.Close)
	}
	return nil
}

// catchUp waits, at most Grace past the recorded time of each, for the answers and closes the
// recording had so far, so the client's next move comes after them as it did in the recording.
func (v *verifier) catchUp(ctx context.Context) {
	for _, vc := range v.order {
		vc.await(ctx, v.start.Add(v.scaled(vc.expectedAt)).Add(v.cfg.Grace))
	}
}

// exchange replays one HTTP exchange and compares the answer.
func (v *verifier) exchange(ctx context.Context, h *cassettes.HTTPExchange) error {
	v.exchanges++
	v.report.Exchanges++
	query := replaceParam(h.Query, "account_id", v.cfg.AccountID)
	target := strings.TrimRight(v.cfg.BaseURL, "/") + h.Path
	if query != "" {
		target += "?" + query
	}
	var body io.Reader
	form := h.Form
	switch {
	case len(form) > 0:
		if v.cfg.AccountID != "" && form.Has("account_id") {
			form = cloneValues(form)
			form.Set("account_id", v.cfg.AccountID)
		}
		body = strings.NewReader(form.Encode())
	case h.RequestBody != "":
		body = strings.NewReader(h.RequestBody)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, target, body)
	if err != nil {
		return fmt.Errorf("failed to build HTTP exchange %d (%s %s): %w", v.exchanges, h.Method, h.Path, err)
	}
	for k, vs := range h.RequestHeader {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Content-Length", "Host", "Cookie":
		default:
			req.Header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	if len(form) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	switch auth := h.RequestHeader.Get("Authorization"); {
	case strings.HasPrefix(strings.ToLower(auth), "basic "):
		req.SetBasicAuth(v.cfg.ClientID, v.cfg.ClientSecret)
	case strings.HasPrefix(strings.ToLower(auth), "bearer "):
		req.Header.Set("Authorization", "Bearer "+v.liveToken(strings.TrimSpace(auth[len("bearer "):])))
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("failed to send HTTP exchange %d (%s %s): %w", v.exchanges, h.Method, target, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("failed to read the answer to HTTP exchange %d (%s %s): %w", v.exchanges, h.Method, target, err)
	}
	v.cfg.Logger.Info("verify: HTTP exchange", "n", v.exchanges, "path", h.Path, "status", resp.StatusCode)
	v.learnToken(h.ResponseBody, string(got))
	recorded := exchangeView(h.Status, h.ResponseHeader.Get("Content-Type"), h.ResponseBody, h.ResponseHeader.Get("Content-Type") != "")
	live := exchangeView(resp.StatusCode, resp.Header.Get("Content-Type"), string(got), h.ResponseHeader.Get("Content-Type") != "")
	what := fmt.Sprintf("HTTP exchange %d (%s %s)", v.exchanges, h.Method, h.Path)
	if strings.HasSuffix(h.Path, "/oauth/token") {
		what = fmt.Sprintf("token exchange %d", v.exchanges)
	}
	if d, ok := diffOf("", "", what, recorded, live); ok {
		v.report.Differences = append(v.report.Differences, d)
	}
	return nil
}

// exchange is an HTTP answer as Verify compares it: the status, the media type when the recording
// kept it, and the body: its shape (key → JSON type) for a success, all of it for a failure.
type exchange struct {
	Status      int
	ContentType string
	Body        any
}

func exchangeView(status int, contentType, body string, withType bool) exchange {
	e := exchange{Status: status}
	if withType {
		e.ContentType, _, _ = mime.ParseMediaType(contentType)
	}
	v, isJSON := decodeJSON(body)
	switch {
	case !isJSON:
		e.Body = body
	case status/100 == 2:
		e.Body = shape(v)
	default:
		e.Body = v
	}
	return e
}

// shape is the key set and JSON types of a document's top level: the part of a token response
// that does not change from one token to the next.
func shape(v any) any {
	obj, ok := v.(map[string]any)
	if !ok {
		return jsonType(v)
	}
	out := map[string]string{}
	for k, x := range obj {
		out[k] = jsonType(x)
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "null"
}

// learnToken maps the access_token placeholder of a recorded token response to the token the
// server issued in its place.
func (v *verifier) learnToken(recorded, live string) {
	var r, l struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal([]byte(recorded), &r) == nil && json.Unmarshal([]byte(live), &l) == nil && r.AccessToken != "" && l.AccessToken != "" {
		v.tokens[r.AccessToken] = l.AccessToken
	}
}

// liveToken is the token to send where the recording has placeholder: the one issued in its
// place, or the placeholder itself, which the server refuses as it refused the recorded one.
func (v *verifier) liveToken(placeholder string) string {
	if t, ok := v.tokens[placeholder]; ok {
		return t
	}
	return placeholder
}

// open dials a recorded connection and starts reading its answers.
func (v *verifier) open(ctx context.Context, o *cassettes.WSOpen) error {
	query := replaceParam(o.Query, "subscriptionId", v.cfg.SubscriptionID)
	query = replaceParamFunc(query, "access_token", v.liveToken)
	target := strings.TrimRight(v.cfg.WebSocketURL, "/") + o.Path
	if query != "" {
		target += "?" + query
	}
	ws, resp, err := v.cfg.Dialer.DialContext(ctx, target, nil)
	v.report.Connections++
	status := 101
	if err != nil {
		if resp == nil {
			return fmt.Errorf("failed to open connection %s at %s: %w", o.Conn, strings.SplitN(target, "?", 2)[0], err)
		}
		status = resp.StatusCode
		resp.Body.Close()
	}
	v.cfg.Logger.Info("verify: connection", "conn", o.Conn, "status", status)
	if d, ok := diffOf(o.Conn, "", "upgrade", struct{ Status int }{o.Status}, struct{ Status int }{status}); ok {
		v.report.Differences = append(v.report.Differences, d)
	}
	if ws == nil {
		return nil
	}
	vc := &vconn{id: o.Conn, ws: ws, signal: make(chan struct{}, 1), done: make(chan struct{})}
	v.conns[o.Conn] = vc
	v.order = append(v.order, vc)
	go vc.read()
	return nil
}

// closeAll ends every connection still open (with 1000, as a client that stops does) and waits
// for their readers.
func (v *verifier) closeAll() {
	for _, vc := range v.order {
		vc.mu.Lock()
		open := vc.live == nil && vc.sent == nil
		vc.stillOpen = vc.stillOpen || open // the comparison sees it as the recording's end found it
		vc.mu.Unlock()
		if open {
			vc.closeAsClient(&cassettes.WSClose{By: cassettes.Client, Code: websocket.CloseNormalClosure})
		}
	}
	for _, vc := range v.order {
		select {
		case <-vc.done:
		case <-time.After(v.cfg.Grace):
			_ = vc.ws.NetConn().Close()
			<-vc.done
		}
	}
}

// compare adds the differences of one connection to the report.
func (v *verifier) compare(vc *vconn) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	v.report.Answers += len(vc.answers)
	v.report.Events += vc.events
	if d, ok := diffOf(vc.id, "", "answers", vc.expected, vc.answers); ok {
		v.report.Differences = append(v.report.Differences, d)
	}
	live := vc.live
	if vc.stillOpen {
		live = nil
	}
	if d, ok := diffOf(vc.id, "", "close", endOf(vc.recordedClose), endOf(live)); ok {
		v.report.Differences = append(v.report.Differences, d)
	}
}

// vconn is one connection Verify opened.
type vconn struct {
	id     string
	ws     *websocket.Conn
	signal chan struct{} // a value after each answer and at the end
	done   chan struct{} // closed when the reader has returned

	mu            sync.Mutex
	expected      []any // the recorded answers so far
	expectedAt    time.Duration
	recordedClose *cassettes.WSClose
	closeExpected bool // the recording's server closed it: await waits for the live close
	answers       []any
	events        int
	live          *cassettes.WSClose // how it ended live
	sent          *cassettes.WSClose // the close the client sent, if any
	stillOpen     bool               // open until Verify closed it at the end
	gaveUpAt      int                // expectations count when await last gave up
}

func (vc *vconn) expect(at time.Duration, answer any) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.expected = append(vc.expected, answer)
	vc.expectedAt = at
}

func (vc *vconn) expectClose(at time.Duration, c *cassettes.WSClose) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	vc.recordedClose, vc.closeExpected, vc.expectedAt = c, true, at
}

// await waits until the live connection has caught up with what is expected of it, or deadline.
func (vc *vconn) await(ctx context.Context, deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		vc.mu.Lock()
		want := len(vc.expected) + btoi(vc.closeExpected)
		caughtUp := vc.live != nil || (len(vc.answers) >= len(vc.expected) && !vc.closeExpected)
		if caughtUp || vc.gaveUpAt == want {
			vc.mu.Unlock()
			return
		}
		vc.mu.Unlock()
		select {
		case <-vc.signal:
		case <-vc.done:
		case <-timer.C:
			vc.mu.Lock()
			vc.gaveUpAt = want
			vc.mu.Unlock()
			return
		case <-ctx.Done():
			return
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// closeAsClient ends the connection as the recording's client did.
func (vc *vconn) closeAsClient(c *cassettes.WSClose) {
	vc.mu.Lock()
	if vc.live != nil || vc.sent != nil {
		vc.mu.Unlock()
		return
	}
	vc.sent = c
	vc.mu.Unlock()
	if c.Abrupt || !sendable(c.Code) {
		_ = vc.ws.NetConn().Close()
		return
	}
	msg := websocket.FormatCloseMessage(c.Code, c.Reason)
	_ = vc.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
}

// read collects the server's frames until the connection ends, and how it ended.
func (vc *vconn) read() {
	defer close(vc.done)
	for {
		mt, data, err := vc.ws.ReadMessage()
		if err != nil {
			vc.ended(err)
			return
		}
		vc.mu.Lock()
		if mt == websocket.TextMessage && isEvent(string(data)) {
			vc.events++
		} else {
			vc.answers = append(vc.answers, answerView(mt == websocket.BinaryMessage, string(data)))
		}
		vc.mu.Unlock()
		vc.poke()
	}
}

// ended records how the connection ended from the error that ended the reader: the client's own
// close when it sent one first, else the server's close frame, else an abrupt end by the server.
func (vc *vconn) ended(err error) {
	vc.mu.Lock()
	defer vc.poke()
	defer vc.mu.Unlock()
	var ce *websocket.CloseError
	switch {
	case vc.sent != nil:
		sent := *vc.sent
		vc.live = &sent
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		vc.live = &cassettes.WSClose{By: cassettes.Server, Code: ce.Code, Reason: ce.Text}
	default:
		vc.live = &cassettes.WSClose{By: cassettes.Server, Abrupt: true}
	}
	_ = vc.ws.Close()
}

func (vc *vconn) poke() {
	select {
	case vc.signal <- struct{}{}:
	default:
	}
}

// volatileKeys are the keys whose values differ on every run; answers are compared without them.
var volatileKeys = map[string]bool{"x-zm-trackingid": true, "x-zm-signature": true, "x-zm-request-timestamp": true}

// answerView is a server frame as Verify compares it: decoded JSON without volatile values, or
// the text.
func answerView(binary bool, payload string) any {
	if binary {
		return frameText(true, payload)
	}
	v, ok := decodeJSON(payload)
	if !ok {
		return payload
	}
	return withoutVolatile(v)
}

func withoutVolatile(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if volatileKeys[strings.ToLower(k)] {
				x[k] = "<ignored>"
			} else {
				x[k] = withoutVolatile(val)
			}
		}
	case []any:
		for i := range x {
			x[i] = withoutVolatile(x[i])
		}
	}
	return v
}

// decodeJSON decodes one JSON document with exact numbers.
func decodeJSON(s string) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	return v, true
}

// replaceParam sets key's value in a raw query string, leaving every other byte as recorded
// (clients append tokens unescaped, and the server must see what they sent). An empty value
// leaves the query as it is.
func replaceParam(raw, key, value string) string {
	if value == "" {
		return raw
	}
	return replaceParamFunc(raw, key, func(string) string { return url.QueryEscape(value) })
}

// replaceParamFunc replaces every value of key in a raw query string by f(value).
func replaceParamFunc(raw, key string, f func(string) string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		if k, val, ok := strings.Cut(p, "="); ok && k == key {
			parts[i] = k + "=" + f(val)
		}
	}
	return strings.Join(parts, "&")
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = append([]string(nil), v[k]...)
	}
	return out
}
