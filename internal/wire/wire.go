// Package wire holds the JSON shapes that travel over Zoom's event WebSocket and token endpoint, and
// the webhook signature rule, so that the mock, the recorder, the replayer and verify agree on them
// byte for byte.
//
// Field order in these structs is deliberate: encoding/json writes struct fields in declaration
// order, and the order here is the order seen on the real wire (zoom-protocol.md).
package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"sync"
)

// Module names used in the "module" key of every frame.
const (
	ModuleBuildConnection = "build_connection"
	ModuleHeartbeat       = "heartbeat"
	ModuleMessage         = "message"
)

// Reply is a frame the server sends for build_connection and heartbeat: it always carries success,
// content and an empty header object.
type Reply struct {
	Module  string   `json:"module"`
	Success bool     `json:"success"`
	Content string   `json:"content"`
	Header  struct{} `json:"header"`
}

// Marshal encodes r exactly as Zoom does, e.g.
// {"module":"heartbeat","success":true,"content":"live","header":{}}.
func (r Reply) Marshal() []byte {
	b, err := json.Marshal(r)
	if err != nil { // a struct of strings and a bool cannot fail to encode
		panic("wire: failed to encode reply: " + err.Error())
	}
	return b
}

// HeartbeatReply is the exact reply to a client heartbeat (zoom-protocol.md §3, seen).
var HeartbeatReply = Reply{Module: ModuleHeartbeat, Success: true, Content: "live"}

// EventHeader is the header object of a message frame. Its keys are those seen on the real wire.
type EventHeader struct {
	Authorization    string `json:"Authorization"`
	ClientID         string `json:"clientId"`
	TrackingID       string `json:"x-zm-trackingid"`
	Signature        string `json:"x-zm-signature"`
	RequestTimestamp string `json:"x-zm-request-timestamp"`
}

// Message is an event delivery frame. Content is the webhook body serialized as a JSON string, not
// an object, and there is no success key.
type Message struct {
	Module  string      `json:"module"`
	Content string      `json:"content"`
	Header  EventHeader `json:"header"`
}

// Marshal encodes m in the wire key order.
func (m Message) Marshal() []byte {
	b, err := json.Marshal(m)
	if err != nil { // strings only
		panic("wire: failed to encode message: " + err.Error())
	}
	return b
}

// Envelope is what a reader of any frame needs first: the module, and the rest kept raw.
type Envelope struct {
	Module  string          `json:"module"`
	Success *bool           `json:"success,omitempty"`
	Content json.RawMessage `json:"content,omitempty"`
	Header  json.RawMessage `json:"header,omitempty"`
}

// Sign computes x-zm-signature for content sent at unix time ts, with the webhook rule
// "v0=" + hex(HMAC-SHA256(secretToken, "v0:" + ts + ":" + content)).
func Sign(secretToken string, ts int64, content string) string {
	mac := hmac.New(sha256.New, []byte(secretToken))
	mac.Write([]byte("v0:"))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte(":"))
	mac.Write([]byte(content))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Signer computes Sign for one secret token, reusing its HMAC state between calls: a mock that
// signs every event with a fresh HMAC makes a kilobyte of garbage per event. It is safe for
// concurrent use.
type Signer struct {
	pool sync.Pool // of *signState
}

type signState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer for secretToken.
func NewSigner(secretToken string) *Signer {
	key := []byte(secretToken)
	s := &Signer{}
	s.pool.New = func() any { return &signState{mac: hmac.New(sha256.New, key)} }
	return s
}

// Sign returns Sign(secretToken, ts, content) for the signer's secret token.
func (s *Signer) Sign(ts int64, content string) string {
	st := s.pool.Get().(*signState)
	st.mac.Reset()
	st.buf = append(st.buf[:0], "v0:"...)
	st.buf = strconv.AppendInt(st.buf, ts, 10)
	st.buf = append(st.buf, ':')
	st.buf = append(st.buf, content...)
	st.mac.Write(st.buf)
	sum := st.mac.Sum(st.sum[:0])
	var out strings.Builder
	out.Grow(3 + hex.EncodedLen(len(sum)))
	out.WriteString("v0=")
	var digits [2 * sha256.Size]byte
	hex.Encode(digits[:], sum)
	out.Write(digits[:])
	if cap(st.buf) <= 64<<10 { // a huge event does not keep its buffer
		s.pool.Put(st)
	}
	return out.String()
}

// VerifySignature reports whether sig is the signature of content at ts under secretToken, in
// constant time.
func VerifySignature(secretToken, ts, content, sig string) bool {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(Sign(secretToken, n, content)), []byte(sig))
}

// TokenResponse is the success body of POST /oauth/token, in the real key order.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	APIURL      string `json:"api_url"`
}

// TokenError is the 400 body of POST /oauth/token; reason comes before error on the real wire.
type TokenError struct {
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// The three token errors whose exact text was seen from the real server.
var (
	ErrInvalidClient        = TokenError{Reason: "Invalid client_id or client_secret", Error: "invalid_client"}
	ErrUnsupportedGrantType = TokenError{Reason: "unsupported grant type", Error: "unsupported_grant_type"}
	ErrBadRequest           = TokenError{Reason: "Bad Request", Error: "invalid_request"}
)
