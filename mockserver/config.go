package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zoommock/zoommock/replayer"
)

// Development credentials used when no app is configured. They are fixed and documented so that a
// README, a docker-compose file and a test in any language can hard-code them.
const (
	DevClientID          = "zoommock-dev-client-id"
	DevClientSecret      = "zoommock-dev-client-secret"
	DevAccountID         = "zoommock-dev-account-id"
	DevSubscriptionID    = "zoommockDevSubscript01" // 22 characters, like a real one
	DevSecretToken       = "zoommock-dev-secret-token"
	DevVerificationToken = "zoommock-dev-verification-token"
	// DefaultScope is what the token endpoint answers in "scope" unless an app sets its own.
	DefaultScope = "marketplace:read:list_event_subscriptions meeting:read:admin recording:read:admin user:read:admin"
)

// Subscription is one event subscription of an app: the id a client puts in ?subscriptionId=.
type Subscription struct {
	ID string `json:"id"`
}

// App is a Zoom Server-to-Server OAuth app: the credentials the token endpoint accepts and the
// subscriptions its tokens may connect to.
type App struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	AccountID    string `json:"accountId"`
	// SecretToken signs event frames (x-zm-signature), as the app's "secret token" does for webhooks.
	SecretToken string `json:"secretToken"`
	// VerificationToken is sent as the Authorization value in each event frame's header.
	VerificationToken string `json:"verificationToken,omitempty"`
	// Scope is the space-separated scope string of token responses; DefaultScope when empty.
	Scope         string         `json:"scope,omitempty"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// DevApp returns the app the mock serves when none is configured.
func DevApp() App {
	return App{
		ClientID:          DevClientID,
		ClientSecret:      DevClientSecret,
		AccountID:         DevAccountID,
		SecretToken:       DevSecretToken,
		VerificationToken: DevVerificationToken,
		Scope:             DefaultScope,
		Subscriptions:     []Subscription{{ID: DevSubscriptionID}},
	}
}

// Policy decides what happens when a second connection opens on a subscription that already has
// one. Zoom's behaviour is not documented (a Zoom reference claims a new connection closes the old).
type Policy string

// The connection policies.
const (
	KickOld   Policy = "kick-old"   // the new connection wins; older ones are closed with Config.KickClose
	RejectNew Policy = "reject-new" // the new connection gets a build_connection failure
	FanOut    Policy = "fan-out"    // every connection receives every event
)

// ParsePolicy reads a policy name as the --connection-policy flag spells it.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case KickOld, RejectNew, FanOut:
		return p, nil
	}
	return "", fmt.Errorf("unknown connection policy %q: use kick-old, reject-new or fan-out", s)
}

// CloseSpec is a WebSocket close code and reason the server sends in one situation.
type CloseSpec struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// ParseCloseSpec reads "CODE" or "CODE:REASON", e.g. "1008:invalid_token".
func ParseCloseSpec(s string) (CloseSpec, error) {
	codeText, reason, _ := strings.Cut(s, ":")
	code, err := strconv.Atoi(strings.TrimSpace(codeText))
	if err != nil || !SendableCloseCode(code) {
		return CloseSpec{}, fmt.Errorf("bad close %q: want CODE or CODE:REASON with a code a peer accepts: 1000-1003, 1007-1014 or 3000-4999", s)
	}
	if len(reason) > 123 {
		return CloseSpec{}, fmt.Errorf("bad close %q: a close reason may be at most 123 bytes", s)
	}
	return CloseSpec{Code: code, Reason: reason}, nil
}

// SendableCloseCode reports whether a close frame may carry code (RFC 6455 §7.4 and the IANA
// registry): a client receives any other code, such as 1004, 1005, 1006, 1015 or 2000, as a
// protocol error and reports 1006 instead, so the mock refuses to send them.
func SendableCloseCode(code int) bool {
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
}

// String gives the CODE:REASON form ParseCloseSpec reads.
func (c CloseSpec) String() string { return strconv.Itoa(c.Code) + ":" + c.Reason }

// Config is every setting of the mock. The zero value of each field means its documented default,
// so Config{} is a working mock with the development app. Every behaviour zoom-protocol.md marks as
// a guess is a field here, so a user who learns the real behaviour can switch to it.
type Config struct {
	// Apps are the OAuth apps and their subscriptions; DevApp() when empty.
	Apps []App

	// TokenTTL is how long an access token lives (default 1h). expires_in in the token response is
	// the TTL in whole seconds minus one, as recent real responses say 3599 for an hour.
	TokenTTL time.Duration
	// LiveTokens is how many tokens an app may hold at once: 0 is unlimited (today's Zoom); 1 makes a
	// new token invalidate the older ones (Zoom in 2022-2023).
	LiveTokens int
	// APIURL is the api_url of token responses (default https://api.zoom.us).
	APIURL string
	// StrictTokenRequest answers "unsupported grant type" to a JSON body, as the real server did once;
	// by default a JSON body is ignored and the query string is used.
	StrictTokenRequest bool

	// HeartbeatTimeout closes a connection that sent no heartbeat for this long (default 90s; a
	// negative value disables enforcement).
	HeartbeatTimeout time.Duration
	// AnyFrameResetsHeartbeat lets any client frame, not only {"module":"heartbeat"}, reset the timer.
	AnyFrameResetsHeartbeat bool
	// HeartbeatClose is sent when the timeout strikes (default 1000 "heartbeat timeout").
	HeartbeatClose CloseSpec

	// EmptyTokenText is the build_connection content when access_token is missing (default
	// "token is empty", seen).
	EmptyTokenText string
	// InvalidTokenText is the content for a wrong or expired token (default "Token is invalid", Zoom
	// since 2025; "Invalid Token" before).
	InvalidTokenText string
	// UnknownSubscriptionText is the content for a subscription id the mock does not know (default
	// "Invalid subscriptionId", a guess).
	UnknownSubscriptionText string
	// ConnectedText is the content of the successful build_connection (default "connected", a guess).
	ConnectedText string
	// AuthFailureClose follows a token failure (default 1008 "invalid_token").
	AuthFailureClose CloseSpec
	// SubscriptionFailureClose follows an unknown subscription (default 1008 "invalid_subscription").
	SubscriptionFailureClose CloseSpec

	// ConnectionPolicy decides about a second connection on one subscription (default kick-old).
	ConnectionPolicy Policy
	// KickClose closes connections displaced under kick-old (default 1000 "replaced by a newer connection").
	KickClose CloseSpec
	// RejectNewText is the build_connection content under reject-new (default
	// "subscription already has an open connection").
	RejectNewText string
	// RejectNewClose follows a reject-new failure (default 1008 "connection_limit").
	RejectNewClose CloseSpec

	// CloseOnTokenExpiry closes a connection when its token expires (default: the token is checked
	// only at connect, and the connection lives on).
	CloseOnTokenExpiry bool
	// TokenExpiryClose is sent then (default 1008 "invalid_token").
	TokenExpiryClose CloseSpec
	// BufferEvents keeps events emitted while a subscription has no connection and delivers them to
	// the next one. Zoom never does this; it is off by default and exists for tests that want it.
	BufferEvents bool

	// ReadLimit is the largest client frame accepted, in bytes (default 64 KiB); a larger one is
	// closed with 1009.
	ReadLimit int64
	// WriteTimeout bounds one frame write to a client (default 10s); a client that does not read is
	// closed when it passes, so it cannot hold up anyone else.
	WriteTimeout time.Duration
	// SendQueue is how many frames may wait for a slow client before it is dropped (default 4096).
	SendQueue int
	// CloseGrace is how long the server waits for the client's close reply before dropping the TCP
	// connection (default 1s).
	CloseGrace time.Duration
	// MaxBodyBytes limits token and admin request bodies (default 1 MiB).
	MaxBodyBytes int64
	// JournalLimit is how many journal entries are kept; older ones are discarded (default 100000).
	JournalLimit int
	// JournalMaxBytes bounds the payloads and notes the journal holds (default 64 MiB), so a test
	// that pushes large events for a long time does not grow the mock without bound; older entries
	// are discarded first, and Stats.JournalDropped counts them.
	JournalMaxBytes int64

	// AdminToken, when set, is the bearer token the admin API requires from non-loopback clients.
	// Without it the admin API answers only loopback clients.
	AdminToken string

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger

	// Playback, when set, replays a cassette: each connection the client opens plays the
	// recording's connection of the same rank (see package replayer). LoadPlayback changes it at
	// run time; Reset comes back to this one, rewound.
	Playback *replayer.Playback
}

// withDefaults returns c with every zero field replaced by its default.
func (c Config) withDefaults() Config {
	if len(c.Apps) == 0 {
		c.Apps = []App{DevApp()}
	}
	for i := range c.Apps {
		if c.Apps[i].Scope == "" {
			c.Apps[i].Scope = DefaultScope
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defStr := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defClose := func(cs *CloseSpec, code int, reason string) {
		if cs.Code == 0 {
			*cs = CloseSpec{Code: code, Reason: reason}
		}
	}
	def(&c.TokenTTL, time.Hour)
	def(&c.HeartbeatTimeout, 90*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CloseGrace, time.Second)
	defStr(&c.APIURL, "https://api.zoom.us")
	defStr(&c.EmptyTokenText, "token is empty")
	defStr(&c.InvalidTokenText, "Token is invalid")
	defStr(&c.UnknownSubscriptionText, "Invalid subscriptionId")
	defStr(&c.ConnectedText, "connected")
	defStr(&c.RejectNewText, "subscription already has an open connection")
	defClose(&c.HeartbeatClose, 1000, "heartbeat timeout")
	defClose(&c.AuthFailureClose, 1008, "invalid_token")
	defClose(&c.SubscriptionFailureClose, 1008, "invalid_subscription")
	defClose(&c.KickClose, 1000, "replaced by a newer connection")
	defClose(&c.RejectNewClose, 1008, "connection_limit")
	defClose(&c.TokenExpiryClose, 1008, "invalid_token")
	if c.ConnectionPolicy == "" {
		c.ConnectionPolicy = KickOld
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = 64 << 10
	}
	if c.SendQueue == 0 {
		c.SendQueue = 4096
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.JournalLimit == 0 {
		c.JournalLimit = 100000
	}
	if c.JournalMaxBytes == 0 {
		c.JournalMaxBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first setting that cannot work, naming it.
func (c Config) validate() error {
	if _, err := ParsePolicy(string(c.ConnectionPolicy)); err != nil {
		return fmt.Errorf("ConnectionPolicy: %w", err)
	}
	if c.TokenTTL < 0 {
		return fmt.Errorf("TokenTTL %v: must be positive", c.TokenTTL)
	}
	if c.LiveTokens < 0 {
		return fmt.Errorf("LiveTokens %d: must be 0 (unlimited) or more", c.LiveTokens)
	}
	for _, f := range []struct {
		name string
		cs   CloseSpec
	}{
		{"HeartbeatClose", c.HeartbeatClose}, {"AuthFailureClose", c.AuthFailureClose},
		{"SubscriptionFailureClose", c.SubscriptionFailureClose}, {"KickClose", c.KickClose},
		{"RejectNewClose", c.RejectNewClose}, {"TokenExpiryClose", c.TokenExpiryClose},
	} {
		if _, err := ParseCloseSpec(f.cs.String()); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return validateApps(c.Apps)
}

// validateApps refuses apps that would make the mock ambiguous: missing credentials, duplicate
// client ids or subscription ids. Errors name the field as apps[i].field.
func validateApps(apps []App) error {
	clients := map[string]int{}
	subs := map[string]string{}
	for i, a := range apps {
		field := func(name string) string { return fmt.Sprintf("apps[%d].%s", i, name) }
		for _, f := range []struct{ name, value string }{
			{"clientId", a.ClientID}, {"clientSecret", a.ClientSecret}, {"accountId", a.AccountID}, {"secretToken", a.SecretToken},
		} {
			if f.value == "" {
				return fmt.Errorf("%s is empty: every app needs clientId, clientSecret, accountId and secretToken", field(f.name))
			}
		}
		if j, dup := clients[a.ClientID]; dup {
			return fmt.Errorf("%s %q duplicates apps[%d].clientId: client ids must be unique", field("clientId"), a.ClientID, j)
		}
		clients[a.ClientID] = i
		if len(a.Subscriptions) == 0 {
			return fmt.Errorf("%s is empty: an app needs at least one subscription to connect to", field("subscriptions"))
		}
		for k, s := range a.Subscriptions {
			where := fmt.Sprintf("apps[%d].subscriptions[%d].id", i, k)
			if s.ID == "" {
				return fmt.Errorf("%s is empty", where)
			}
			if strings.ContainsAny(s.ID, "&?#/ ") {
				return fmt.Errorf("%s %q: a subscription id cannot contain &, ?, #, / or spaces", where, s.ID)
			}
			if prev, dup := subs[s.ID]; dup {
				return fmt.Errorf("%s %q duplicates %s: subscription ids must be unique", where, s.ID, prev)
			}
			subs[s.ID] = where
		}
	}
	return nil
}

// FileConfig is the JSON the --config flag reads: several apps and their subscriptions.
//
//	{"apps": [{"clientId": "...", "clientSecret": "...", "accountId": "...", "secretToken": "...",
//	           "verificationToken": "...", "scope": "...", "subscriptions": [{"id": "..."}]}]}
type FileConfig struct {
	Apps []App `json:"apps"`
}

// ErrBadConfig is wrapped by every error that comes from the contents of a config file.
var ErrBadConfig = errors.New("bad config")

// ReadConfigFile reads a FileConfig from path. Unknown fields, trailing data and duplicate ids are
// refused with an error naming the line and field, so a typo never silently changes the mock.
func ReadConfigFile(path string) (FileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return FileConfig{}, fmt.Errorf("failed to read config: %w", err)
	}
	fc, err := ParseConfig(data)
	if err != nil {
		return FileConfig{}, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// ParseConfig decodes and validates a FileConfig document.
func ParseConfig(data []byte) (FileConfig, error) {
	var fc FileConfig
	if err := checkDuplicateKeys(data); err != nil {
		return fc, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		line := lineAt(data, dec.InputOffset())
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			// The decoder reports the end of the enclosing object; point at the key itself.
			if i := keyOffset(data, strings.Trim(field, `"`)); i >= 0 {
				line = lineAt(data, int64(i))
			}
			return fc, fmt.Errorf("%w: line %d: unknown field %s: the fields are clientId, clientSecret, accountId, secretToken, verificationToken, scope and subscriptions (with id)", ErrBadConfig, line, field)
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line = lineAt(data, se.Offset)
		case errors.As(err, &te):
			line = lineAt(data, te.Offset)
			return fc, fmt.Errorf("%w: line %d: field %q: want %s, got a JSON %s", ErrBadConfig, line, te.Field, te.Type, te.Value)
		case errors.Is(err, io.EOF):
			return fc, fmt.Errorf("%w: the file is empty: want {\"apps\": [...]}", ErrBadConfig)
		}
		return fc, fmt.Errorf("%w: line %d: %s", ErrBadConfig, line, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fc, fmt.Errorf("%w: line %d: unexpected data after the config object", ErrBadConfig, lineAt(data, dec.InputOffset()))
	}
	if len(fc.Apps) == 0 {
		return fc, fmt.Errorf("%w: \"apps\" is missing or empty: declare at least one app", ErrBadConfig)
	}
	if err := validateApps(fc.Apps); err != nil {
		return fc, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return fc, nil
}

// keyOffset finds "key" used as an object key (followed by a colon) in data, or -1.
func keyOffset(data []byte, key string) int {
	quoted, _ := json.Marshal(key)
	for from := 0; ; {
		i := bytes.Index(data[from:], quoted)
		if i < 0 {
			return -1
		}
		at := from + i
		rest := bytes.TrimLeft(data[at+len(quoted):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return at
		}
		from = at + len(quoted)
	}
}

// checkDuplicateKeys refuses an object with the same key twice: encoding/json would silently keep
// the last one, and a config that says two things should say which it means.
func checkDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		want   bool // the next string token in an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // syntax errors are reported by the decoder with their line
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.want {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return fmt.Errorf("%w: line %d: key %q appears twice in one object", ErrBadConfig, lineAt(data, dec.InputOffset()), key)
				}
				top.keys[key] = true
				top.want = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, want: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].want = stack[len(stack)-1].object
			}
			continue
		}
		if top != nil && top.object && tok != json.Delim('{') && tok != json.Delim('[') {
			top.want = true // a scalar value ended; the next token is a key
		}
	}
}

// lineAt is the 1-based line holding byte offset off of data.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
