package recorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
	"github.com/zoommock/zoommock/internal/wire"
)

// Credentials are what Direct needs to act as a Zoom Server-to-Server OAuth app: the three values
// of the app's credentials page and the id of one event subscription.
type Credentials struct {
	ClientID, ClientSecret, AccountID string
	SubscriptionID                    string
}

// heartbeatFrame is what Direct sends, as Zoom's documentation says a client should.
const heartbeatFrame = `{"module":"heartbeat"}`

// Direct records a session in which zoommock itself is the client: no application under test
// is needed to capture what Zoom sends. It exchanges the credentials for a token
// (account_credentials, Basic auth), connects to the subscription, sends a heartbeat every
// interval, and records until its context ends or the server ends the connection. It does not
// reconnect: a close or a drop by the server is recorded and ends the session, since what a
// reconnect should look like is the application's business, not the recorder's.
type Direct struct {
	*core
	creds Credentials

	mu      sync.Mutex
	started bool
}

// NewDirect returns a Direct that records into cw, configured by opts (the upstreams, the
// heartbeat interval, a Redactor, a logger). The client secret is registered with the Redactor at
// once, so it never reaches the cassette. The caller keeps cw and closes it after Run.
func NewDirect(cw *cassettes.Writer, creds Credentials, opts ...Option) (*Direct, error) {
	for _, f := range []struct{ name, value string }{
		{"client id", creds.ClientID}, {"client secret", creds.ClientSecret},
		{"account id", creds.AccountID}, {"subscription id", creds.SubscriptionID},
	} {
		if f.value == "" {
			return nil, fmt.Errorf("%w: no %s in the credentials", ErrBadOption, f.name)
		}
	}
	c, err := newCore(cw, opts)
	if err != nil {
		return nil, err
	}
	c.cfg.redactor.AddSecrets(creds.ClientSecret)
	return &Direct{core: c, creds: creds}, nil
}

// Stats returns what Direct has recorded so far; it is safe to call while Run runs.
func (d *Direct) Stats() Stats { return d.snapshot() }

// Run records one session; offsets count from its start. It returns nil when the session ended
// as a recording should: ctx ended (Ctrl-C, a deadline for a fixed duration), after which Run
// closes an open connection with 1000 and records that, or the server closed or dropped the
// connection after a successful build_connection. It returns an error wrapping ErrUpstream when
// the token endpoint or the WebSocket refused (everything they answered is recorded first), or
// the error that stopped writing the cassette.
func (d *Direct) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.started {
		d.mu.Unlock()
		return fmt.Errorf("failed to run: %w", ErrClosed)
	}
	d.started = true
	d.mu.Unlock()
	d.core.mu.Lock()
	d.start = time.Now()
	d.core.mu.Unlock()
	defer d.http.CloseIdleConnections()

	token, err := d.token(ctx)
	if err != nil {
		return d.failure(ctx, err)
	}
	ws, id, err := d.connect(ctx, token)
	if err != nil {
		return d.failure(ctx, err)
	}
	err = d.session(ctx, ws, id)
	_ = ws.Close()
	return d.failure(ctx, err)
}

// failure prefers the error that stopped the recording, which explains every later one, and
// forgives a failure caused by ctx ending (Ctrl-C while connecting): the cassette then simply
// holds what happened before.
func (d *Direct) failure(ctx context.Context, err error) error {
	if werr := d.writeErr(); werr != nil {
		return werr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// token asks the OAuth upstream for an access token, as an S2S app does.
func (d *Direct) token(ctx context.Context) (string, error) {
	q := url.Values{"grant_type": {"account_credentials"}, "account_id": {d.creds.AccountID}}
	u := upstreamURL(d.cfg.oauth, "/oauth/token", q.Encode())
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(d.creds.ClientID, d.creds.ClientSecret)
	resp, body, err := d.roundTrip(ctx, http.MethodPost, u, req.Header, nil)
	if err != nil {
		return "", err
	}
	var tr wire.TokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		return "", upstreamErrorf("the token endpoint %s answered %s: %s (check the client id, client secret and account id)",
			d.cfg.oauth.Redacted(), resp.Status, clip(body))
	}
	return tr.AccessToken, nil
}

// connect opens the event WebSocket and records the upgrade.
func (d *Direct) connect(ctx context.Context, token string) (*websocket.Conn, string, error) {
	query := "subscriptionId=" + url.QueryEscape(d.creds.SubscriptionID) + "&access_token=" + url.QueryEscape(token)
	ws, resp, err := d.dial(ctx, "/ws", query, nil)
	if err != nil && resp == nil {
		return nil, "", err
	}
	id := d.openConn("/ws", query, resp.StatusCode)
	if err != nil {
		return nil, "", upstreamErrorf("the WebSocket upstream %s refused the upgrade: %s", d.cfg.ws.Redacted(), resp.Status)
	}
	ws.SetReadLimit(maxFrame)
	return ws, id, nil
}

// session sends heartbeats and records until ctx ends or the server ends the connection.
func (d *Direct) session(ctx context.Context, ws *websocket.Conn, id string) error {
	refused := make(chan string, 1) // the content of a build_connection failure
	readErr := make(chan error, 1)
	go func() { readErr <- d.read(ws, id, refused) }()
	ticker := time.NewTicker(d.cfg.heartbeat)
	defer ticker.Stop()
	for {
		select {
		case err := <-readErr:
			return d.ended(id, err, refused)
		case <-ticker.C:
			d.frame(id, cassettes.Client, websocket.TextMessage, []byte(heartbeatFrame))
			_ = ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := ws.WriteMessage(websocket.TextMessage, []byte(heartbeatFrame)); err != nil {
				d.log.Warn("failed to send a heartbeat", "conn", id, "err", err)
			}
		case <-ctx.Done():
			d.closeConn(cassettes.WSClose{Conn: id, By: cassettes.Client, Code: websocket.CloseNormalClosure})
			d.hangUp(ws, readErr)
			return nil
		case <-d.failed: // the cassette cannot be written: recording on is pointless
			d.hangUp(ws, readErr)
			return d.writeErr()
		}
	}
}

// hangUp closes the connection as a client going about its business does, with 1000, and waits
// for the server's answer (or closeTimeout) and the end of the reader.
func (d *Direct) hangUp(ws *websocket.Conn, readErr <-chan error) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(writeTimeout))
	_ = ws.SetReadDeadline(time.Now().Add(closeTimeout))
	<-readErr
}

// read records every server frame until the connection ends, then records how it ended if the
// client had not closed first. It reports a build_connection failure on refused.
func (d *Direct) read(ws *websocket.Conn, id string, refused chan<- string) error {
	for first := true; ; first = false {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
				d.closeConn(cassettes.WSClose{Conn: id, By: cassettes.Server, Code: ce.Code, Reason: ce.Text})
			} else {
				d.closeConn(cassettes.WSClose{Conn: id, By: cassettes.Server, Abrupt: true})
			}
			return err
		}
		d.frame(id, cassettes.Server, mt, data)
		var reply wire.Reply
		if first && json.Unmarshal(data, &reply) == nil && reply.Module == wire.ModuleBuildConnection && !reply.Success {
			refused <- reply.Content
		}
	}
}

// ended explains why the server ended the session: nil after a successful build_connection.
func (d *Direct) ended(id string, err error, refused <-chan string) error {
	select {
	case content := <-refused:
		return upstreamErrorf("the WebSocket upstream %s refused the connection: build_connection failed with %q (check the subscription id)",
			d.cfg.ws.Redacted(), content)
	default:
	}
	d.log.Info("the server ended the connection; direct mode does not reconnect", "conn", id, "err", err)
	return nil
}

// clip shortens an answer for an error message.
func clip(b []byte) string {
	const limit = 300
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	if len(b) == 0 {
		return "(an empty body)"
	}
	return string(b)
}
