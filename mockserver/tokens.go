package mockserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// token is an access token the mock issued.
type token struct {
	value   string
	ref     string // "t1", "t2", ... for the journal: never the value itself
	app     *App
	issued  time.Time
	expires time.Time
	revoked bool
}

func (t *token) validAt(now time.Time) bool { return !t.revoked && now.Before(t.expires) }

// tokenStore issues and checks tokens. Tokens look like Zoom's (a JWT, "eyJ..."), but clients must
// treat them as opaque, and the mock only ever looks them up.
type tokenStore struct {
	mu     sync.Mutex
	key    []byte
	n      int
	byVal  map[string]*token
	byApp  map[string][]*token // live tokens of each client id, oldest first
	ttl    time.Duration
	perApp int
}

func newTokenStore(ttl time.Duration, perApp int) *tokenStore {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return &tokenStore{key: key, byVal: map[string]*token{}, byApp: map[string][]*token{}, ttl: ttl, perApp: perApp}
}

// issue makes a new token for app, revoking the oldest ones when the app would hold more than the
// live-token limit.
func (s *tokenStore) issue(app *App, now time.Time) *token {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	t := &token{ref: "t" + strconv.Itoa(s.n), app: app, issued: now, expires: now.Add(s.ttl)}
	t.value = s.mint(t)
	s.byVal[t.value] = t
	live := s.byApp[app.ClientID][:0]
	for _, old := range s.byApp[app.ClientID] {
		if old.validAt(now) {
			live = append(live, old)
		}
	}
	live = append(live, t)
	if s.perApp > 0 {
		for len(live) > s.perApp {
			live[0].revoked = true
			live = live[1:]
		}
	}
	s.byApp[app.ClientID] = live
	return t
}

// mint builds a JWT-shaped value: header.claims.signature, each base64url without padding.
func (s *tokenStore) mint(t *token) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "v": "2.0", "kid": enc.EncodeToString(nonce)})
	claims, _ := json.Marshal(map[string]any{
		"aud": "https://oauth.zoom.us", "iss": "zm:cid:" + t.app.ClientID, "aid": t.app.AccountID,
		"ver": 10, "jti": t.ref + "-" + enc.EncodeToString(nonce),
		"iat": t.issued.Unix(), "exp": t.expires.Unix(),
	})
	body := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}

// lookup finds a token by value, valid or not.
func (s *tokenStore) lookup(v string) (*token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byVal[v]
	if !ok {
		return nil, false
	}
	cp := *t
	return &cp, true
}

// valid reports whether the token with value v is usable at now.
func (s *tokenStore) valid(v string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.byVal[v]
	return ok && t.validAt(now)
}

// expireAll makes every token expire at now.
func (s *tokenStore) expireAll(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.byVal {
		if t.expires.After(now) {
			t.expires = now
		}
	}
}

// revokeAll invalidates every token before its expiry.
func (s *tokenStore) revokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.byVal {
		t.revoked = true
	}
}

func (s *tokenStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// expiry returns when the token with value v expires now, following ExpireTokens.
func (s *tokenStore) expiry(v string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.byVal[v]; ok {
		return t.expires
	}
	return time.Time{}
}
