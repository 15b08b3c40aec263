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
	"unicode/utf8"
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

// Marshal encodes m in the wire key order, byte for byte as encoding/json does (FuzzMessageMarshal
// compares them). It writes the JSON itself because it runs once per delivered event, where
// encoding/json's reflection and copies were a tenth of the mock's work.
func (m Message) Marshal() []byte {
	h := m.Header
	b := make([]byte, 0, 160+len(m.Module)+len(m.Content)+len(m.Content)/8+len(h.Authorization)+
		len(h.ClientID)+len(h.TrackingID)+len(h.Signature)+len(h.RequestTimestamp))
	b = append(b, `{"module":`...)
	b = appendString(b, m.Module)
	b = append(b, `,"content":`...)
	b = appendString(b, m.Content)
	b = append(b, `,"header":{"Authorization":`...)
	b = appendString(b, h.Authorization)
	b = append(b, `,"clientId":`...)
	b = appendString(b, h.ClientID)
	b = append(b, `,"x-zm-trackingid":`...)
	b = appendString(b, h.TrackingID)
	b = append(b, `,"x-zm-signature":`...)
	b = appendString(b, h.Signature)
	b = append(b, `,"x-zm-request-timestamp":`...)
	b = appendString(b, h.RequestTimestamp)
	return append(b, "}}"...)
}

// appendString appends s as a JSON string exactly as encoding/json.Marshal writes it: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
