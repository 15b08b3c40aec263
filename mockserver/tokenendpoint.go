package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zoommock/zoommock/internal/wire"
)

// handleToken serves POST /oauth/token like Zoom's S2S OAuth endpoint. The wire answers are Zoom's
// exact bodies; the precise diagnosis goes to the X-Zoommock-Hint header, the journal and the log,
// so a faithful answer never hides what the client did wrong.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	entry := &TokenEntry{}
	fail := func(status int, body wire.TokenError, hint string) {
		entry.Status, entry.Error = status, body.Error
		s.journal.add(Entry{Kind: KindTokenRequest, Token: entry, Note: hint})
		s.log.Info("token request refused", "client", entry.ClientID, "error", body.Error, "hint", hint)
		w.Header().Set("X-Zoommock-Hint", hint)
		writeJSON(w, status, body)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, wire.TokenError{Reason: "Method Not Allowed", Error: "invalid_request"},
			r.Method+" is not allowed: request a token with POST")
		return
	}

	var unread string // why a body was ignored, prefixed to the grant_type hint
	params, hint := s.tokenParams(w, r, &unread)
	if hint != "" {
		fail(http.StatusBadRequest, wire.ErrBadRequest, hint)
		return
	}
	app, hint := s.authenticateClient(r, entry)
	if app == nil {
		fail(http.StatusBadRequest, wire.ErrInvalidClient, hint)
		return
	}
	entry.GrantType, entry.AccountID = params.Get("grant_type"), params.Get("account_id")
	if s.cfg.StrictTokenRequest && isJSON(r) {
		fail(http.StatusBadRequest, wire.ErrUnsupportedGrantType,
			"strict mode: a JSON body is refused as Zoom once did; send grant_type in the query string or a form body")
		return
	}
	switch entry.GrantType {
	case "account_credentials":
		if entry.AccountID == "" {
			fail(http.StatusBadRequest, wire.ErrBadRequest, "grant_type=account_credentials needs account_id")
			return
		}
		if entry.AccountID != app.AccountID {
			fail(http.StatusBadRequest, wire.ErrBadRequest, fmt.Sprintf("account_id %q is not the account of client %s", entry.AccountID, app.ClientID))
			return
		}
	case "client_credentials":
	case "":
		fail(http.StatusBadRequest, wire.ErrUnsupportedGrantType, unread+"grant_type is missing: use account_credentials or client_credentials")
		return
	default:
		fail(http.StatusBadRequest, wire.ErrUnsupportedGrantType,
			fmt.Sprintf("grant_type %q is not supported: use account_credentials or client_credentials", entry.GrantType))
		return
	}

	s.mu.Lock()
	tok := s.tokens.issue(app, time.Now())
	s.mu.Unlock()
	entry.Status, entry.TokenRef = http.StatusOK, tok.ref
	s.journal.add(Entry{Kind: KindTokenRequest, Token: entry})
	s.log.Info("token issued", "client", app.ClientID, "grant", entry.GrantType, "token", tok.ref)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, wire.TokenResponse{
		AccessToken: tok.value,
		TokenType:   "bearer",
		ExpiresIn:   expiresIn(s.cfg.TokenTTL),
		Scope:       app.Scope,
		APIURL:      s.cfg.APIURL,
	})
}

// expiresIn is the expires_in value for a TTL: whole seconds minus one, never negative, as recent
// Zoom responses answer 3599 for an hour.
func expiresIn(ttl time.Duration) int64 {
	return max(int64(ttl/time.Second)-1, 0)
}

// tokenParams merges grant_type, account_id and index from the query string and, for a form body,
// the body (the body wins). It returns a hint when a parameter is given twice in one place or the
// body cannot be read.
func (s *Server) tokenParams(w http.ResponseWriter, r *http.Request, unread *string) (url.Values, string) {
	params := url.Values{}
	merge := func(from url.Values, where string) string {
		for _, k := range []string{"grant_type", "account_id", "index"} {
			switch vs := from[k]; {
			case len(vs) > 1 && vs[0] != vs[1]:
				return fmt.Sprintf("%s is given %d times with different values in the %s", k, len(vs), where)
			case len(vs) > 0:
				params.Set(k, vs[0])
			}
		}
		return ""
	}
	if hint := merge(r.URL.Query(), "query string"); hint != "" {
		return nil, hint
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		if r.ContentLength != 0 && params.Get("grant_type") == "" {
			// Not an error of its own (Zoom reads only forms), but the reason grant_type is missing.
			*unread = fmt.Sprintf("the %s body was not read (only application/x-www-form-urlencoded bodies are): ", orNone(ct))
		}
		return params, ""
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Sprintf("the form body is larger than %d bytes", s.cfg.MaxBodyBytes)
		}
		return nil, "failed to read the form body: " + err.Error()
	}
	form, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, "the form body is not valid application/x-www-form-urlencoded: " + err.Error()
	}
	return params, merge(form, "form body")
}

// authenticateClient checks HTTP Basic credentials and returns the app, or nil and a hint.
func (s *Server) authenticateClient(r *http.Request, entry *TokenEntry) (*App, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, "no Authorization header: send Basic base64(client_id:client_secret)"
	}
	scheme, creds, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return nil, fmt.Sprintf("the Authorization scheme is %q: the token endpoint wants Basic base64(client_id:client_secret)", scheme)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(creds))
	if err != nil {
		return nil, "the Basic credentials are not valid base64 (standard alphabet, with padding)"
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, "the Basic credentials have no colon: want base64(client_id:client_secret)"
	}
	entry.ClientID = id
	s.mu.Lock()
	app := s.apps[id]
	s.mu.Unlock()
	if app == nil {
		return nil, fmt.Sprintf("unknown client_id %q", id)
	}
	if secret != app.ClientSecret {
		return nil, fmt.Sprintf("wrong client_secret for client_id %q", id)
	}
	return app, ""
}

func isJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

// writeJSON writes v with status. Bodies are compact, as Zoom's are, without a trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"failed to encode the answer"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func orNone(ct string) string {
	if ct == "" {
		return "untyped"
	}
	return ct
}
