package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zoommock/zoommock/cassettes"
)

// Limits on what an HTTP exchange may carry. A token request and its answer are a few hundred
// bytes; anything near these limits is not Zoom.
const (
	maxRequestBody  = 1 << 20
	maxResponseBody = 4 << 20
	httpTimeout     = 30 * time.Second
)

// keptRequestHeaders and keptResponseHeaders are the headers an HTTP record keeps: those that
// change what the token endpoint answers or how a client reads it. The rest (User-Agent, Date,
// caching, CDN cookies) is passed on but not recorded. Authorization is redacted.
var (
	keptRequestHeaders  = []string{"Authorization", "Content-Type"}
	keptResponseHeaders = []string{"Content-Type", "Retry-After", "Www-Authenticate", "X-Zm-Trackingid"}
)

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1), which a proxy does not pass on,
// plus those Go's HTTP stack computes itself.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "Content-Length", "Host"}

// newHTTPClient is the client for upstream HTTP: no redirects followed (the application must see
// them as they are), proxies from the environment, no idle connections left behind.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true,
			TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       httpTimeout,
	}
}

// upstreamURL is base with path and the raw query, byte for byte.
func upstreamURL(base *url.URL, path, rawQuery string) *url.URL {
	u := *base
	u.Path = path
	u.RawQuery = rawQuery
	return &u
}

// roundTrip sends an HTTP request upstream, reads the whole answer and records the exchange.
// target names the upstream in errors (without the query, which may hold credentials). An error
// means the upstream could not be reached or did not answer; nothing is recorded then.
func (c *core) roundTrip(ctx context.Context, method string, u *url.URL, header http.Header, body []byte) (*http.Response, []byte, error) {
	target := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("failed to build the request to %s: %w", target, err)
	}
	req.URL.RawQuery = u.RawQuery // NewRequest re-parses; keep the client's bytes
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header = header
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its message repeats the URL, query and all
			err = ue.Err
		}
		return nil, nil, upstreamErrorf("failed to reach %s: %v", target, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err == nil && len(respBody) > maxResponseBody {
		err = fmt.Errorf("the answer is larger than %d bytes", maxResponseBody)
	}
	if err != nil {
		return nil, nil, upstreamErrorf("failed to read the answer of %s to %s %s: %v", target, method, u.Path, err)
	}
	c.exchange(exchangeRecord(method, u, header, body, resp, respBody))
	return resp, respBody, nil
}

// exchangeRecord builds the record of one exchange: the headers worth keeping, a form body as
// form fields and any other body as text.
func exchangeRecord(method string, u *url.URL, header http.Header, body []byte, resp *http.Response, respBody []byte) *cassettes.HTTPExchange {
	h := &cassettes.HTTPExchange{
		Method: method, Path: u.Path, Query: u.RawQuery,
		RequestHeader: keep(header, keptRequestHeaders),
		Status:        resp.StatusCode, ResponseHeader: keep(resp.Header, keptResponseHeaders),
		ResponseBody: string(respBody),
	}
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
		form, err := url.ParseQuery(string(body))
		if mt == "application/x-www-form-urlencoded" && err == nil {
			h.Form = form
		} else {
			h.RequestBody = string(body)
		}
	}
	return h
}

// keep returns the headers of h named in names, or nil when there are none.
func keep(h http.Header, names []string) http.Header {
	var out http.Header
	for _, name := range names {
		if vs := h.Values(name); len(vs) > 0 {
			if out == nil {
				out = http.Header{}
			}
			out[http.CanonicalHeaderKey(name)] = append([]string(nil), vs...)
		}
	}
	return out
}

// withoutHop copies h without hop-by-hop headers, those named in Connection, and extra.
func withoutHop(h http.Header, extra ...string) http.Header {
	out := h.Clone()
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range append(hopHeaders, extra...) {
		out.Del(name)
	}
	return out
}

// dial opens a WebSocket to the WebSocket upstream at path with the raw query, byte for byte.
// When the upstream answered but refused the upgrade, the error comes with its answer; when it
// could not be reached, the error names it and the answer is nil.
func (c *core) dial(ctx context.Context, path, rawQuery string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ws, resp, err := c.dialer.DialContext(ctx, upstreamURL(c.cfg.ws, path, rawQuery).String(), header)
	if err != nil && resp == nil {
		err = upstreamErrorf("failed to reach the WebSocket upstream %s: %v", c.cfg.ws.Redacted(), err)
	}
	return ws, resp, err
}

// forward passes the request r to base and its answer back to w, recording the exchange. When the
// upstream cannot be reached, the client gets 502 with a text body naming it, and nothing is
// recorded: nothing answered.
func (c *core) forward(w http.ResponseWriter, r *http.Request, base *url.URL) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		http.Error(w, fmt.Sprintf("zoommock record: failed to read the request body (at most %d bytes)", maxRequestBody), http.StatusBadRequest)
		return
	}
	// Go's transport asks for gzip itself and unpacks it, so the record holds readable text.
	header := withoutHop(r.Header, "Accept-Encoding")
	resp, respBody, err := c.roundTrip(r.Context(), r.Method, upstreamURL(base, r.URL.Path, r.URL.RawQuery), header, body)
	if err != nil {
		c.log.Error("upstream unreachable", "path", r.URL.Path, "err", err)
		http.Error(w, "zoommock record: "+err.Error(), http.StatusBadGateway)
		return
	}
	for k, vs := range withoutHop(resp.Header) {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(respBody)
}
