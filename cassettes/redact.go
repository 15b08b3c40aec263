package cassettes

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Placeholder categories: the word in REDACTED-<CATEGORY>-<N>.
const (
	catSecret       = "SECRET"       // client secrets, registered secrets, unknown auth schemes
	catBasic        = "BASIC"        // the base64 blob of Basic credentials
	catToken        = "TOKEN"        // OAuth access, refresh and id tokens
	catVerification = "VERIFICATION" // the Authorization value in event frames' header
	catCookie       = "COOKIE"       // Cookie and Set-Cookie values
	catDownload     = "DOWNLOAD"     // download_token of recording events
)

// Pseudonym categories: pseudo-<category>-<N>.
const (
	pseudoEmail   = "email"
	pseudoName    = "name"
	pseudoAccount = "account"
)

// minLearned is the shortest secret the Redactor learns on its own (from
// Basic credentials and token fields) and then replaces wherever it appears.
// A shorter one (a test's "secret") would also match ordinary words; it is
// still replaced where it was found, and WithSecrets registers any length.
const minLearned = 8

// secretKeys maps JSON, query and form keys (lower case) whose values are
// credentials to their placeholder category.
var secretKeys = map[string]string{
	"access_token":   catToken,
	"refresh_token":  catToken,
	"id_token":       catToken,
	"client_secret":  catSecret,
	"password":       catSecret,
	"download_token": catDownload,
	"authorization":  catVerification,
}

// nameKeys are the payload keys whose values are people's names.
var nameKeys = map[string]bool{
	"first_name": true, "last_name": true, "display_name": true, "user_name": true,
	"host_name": true, "participant_name": true, "name": true,
}

var (
	placeholderRE = regexp.MustCompile(`^REDACTED-([A-Z]+)-([0-9]+)$`)
	pseudonymRE   = regexp.MustCompile(`^pseudo-([a-z]+)-([0-9]+)(@example\.invalid)?$`)
)

// RedactorOption configures NewRedactor.
type RedactorOption func(*Redactor)

// WithSecrets registers secrets known ahead of time (the client secret, the
// secret token used for signatures). They are replaced wherever they appear,
// raw or JSON- or URL-escaped, in every field of every record.
func WithSecrets(secrets ...string) RedactorOption {
	return func(r *Redactor) { r.addSecrets(secrets) }
}

// WithPseudonyms also replaces account ids, email addresses and people's
// names inside JSON payloads and bodies (event content included) by
// pseudonyms (pseudo-account-1,
// pseudo-email-1@example.invalid, pseudo-name-1), the same input always
// getting the same pseudonym, so that a recording of a real account can be
// shared. Full names and emails are also replaced inside free text of the
// same and later events (such as a leave_reason).
func WithPseudonyms() RedactorOption {
	return func(r *Redactor) { r.pseudonymise = true }
}

// Redactor removes credentials from records before they reach the disk, and
// optionally personal data. Use one Redactor per cassette: it numbers the
// placeholders it hands out, and the same secret always gets the same
// placeholder (REDACTED-TOKEN-1), so a reader still sees that the token from
// exchange 2 is the one connection 3 used.
//
// It replaces: the Authorization and Proxy-Authorization request headers
// (Basic credentials become "Basic REDACTED-BASIC-N", bearer tokens "Bearer
// REDACTED-TOKEN-N", and the client secret inside Basic credentials is
// learned as a secret), Cookie and Set-Cookie values, access_token,
// refresh_token, id_token, client_secret, password and download_token values
// in query strings, forms and JSON bodies and payloads (at any depth, and
// inside JSON carried in a string, such as an event's "content"), the
// Authorization value in event frames' "header" object (the verification
// token), and every registered or learned secret wherever it appears.
// Tokens are learned when first seen; a secret that appears in free text
// before it was learned is only caught if registered with WithSecrets.
//
// Redaction is idempotent: placeholders and pseudonyms are left as they are,
// and a fresh Redactor numbers new secrets after the ones it finds. A
// Redactor is safe for concurrent use.
type Redactor struct {
	mu           sync.Mutex
	pseudonymise bool
	placeholders map[string]string // secret or personal value → its replacement
	counters     map[string]int    // category → highest number handed out
	anywhere     []string          // values replaced wherever they appear
	replacer     *strings.Replacer // built from anywhere; nil when stale
	freeText     []string          // names and emails replaced inside free text
	textReplacer *strings.Replacer // built from freeText; nil when stale
}

// NewRedactor returns a Redactor configured by opts.
func NewRedactor(opts ...RedactorOption) *Redactor {
	r := &Redactor{placeholders: map[string]string{}, counters: map[string]int{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// AddSecrets registers more secrets, as WithSecrets, for secrets learned
// after the recording started.
func (r *Redactor) AddSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addSecrets(secrets)
}

func (r *Redactor) addSecrets(secrets []string) {
	for _, s := range secrets {
		if s != "" {
			r.learn(catSecret, s, 1)
		}
	}
}

// learn returns the placeholder of value, handing out the next one of
// category cat the first time. Values at least minLen long are then replaced
// wherever they appear. Placeholders map to themselves.
func (r *Redactor) learn(cat, value string, minLen int) string {
	if value == "" {
		return ""
	}
	if p, ok := r.placeholders[value]; ok {
		return p
	}
	if m := placeholderRE.FindStringSubmatch(value); m != nil {
		r.bump(m[1], m[2])
		return value
	}
	r.counters[cat]++
	p := "REDACTED-" + cat + "-" + strconv.Itoa(r.counters[cat])
	r.placeholders[value] = p
	if len(value) >= minLen {
		r.anywhere = append(r.anywhere, value)
		r.replacer = nil
	}
	return p
}

// bump makes sure later placeholders of cat are numbered after n.
func (r *Redactor) bump(cat, n string) {
	if v, err := strconv.Atoi(n); err == nil && v > r.counters[cat] {
		r.counters[cat] = v
	}
}

// Redact returns a copy of rec with secrets replaced; rec is not modified.
func (r *Redactor) Redact(rec Record) Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	// First the structural pass, which learns new secrets (a token in a
	// response body), then every field is scrubbed of every known secret,
	// fields before the place a secret was learned included.
	switch {
	case rec.HTTP != nil:
		h := *rec.HTTP
		h.Query = r.query(h.Query)
		h.RequestHeader = mapValues(h.RequestHeader, r.header)
		h.Form = mapValues(h.Form, r.form)
		h.RequestBody = r.text(h.RequestBody)
		h.ResponseHeader = mapValues(h.ResponseHeader, r.header)
		h.ResponseBody = r.text(h.ResponseBody)
		rec.HTTP = &h
	case rec.Open != nil:
		o := *rec.Open
		o.Query = r.query(o.Query)
		rec.Open = &o
	case rec.Frame != nil && rec.Frame.Opcode == Text:
		f := *rec.Frame
		f.Payload = r.text(f.Payload)
		rec.Frame = &f
	}
	if len(r.anywhere) == 0 {
		return rec
	}
	return rec.mapFields(r.scrub, func(_, v string) string { return r.scrub(v) })
}

// RedactHeader returns a copy of h with every known secret replaced in the
// recorder name and the meta values: a command line or a note may quote the
// client secret. The Writer applies it when given WithRedactor.
func (r *Redactor) RedactHeader(h Header) Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	h.Recorder = r.scrub(h.Recorder)
	if h.Meta != nil {
		meta := make(map[string]string, len(h.Meta))
		for k, v := range h.Meta {
			meta[k] = r.scrub(v)
		}
		h.Meta = meta
	}
	return h
}

// scrub replaces every known secret in s.
func (r *Redactor) scrub(s string) string {
	if len(r.anywhere) == 0 || s == "" {
		return s
	}
	if r.replacer == nil {
		r.replacer = r.buildReplacer()
	}
	return r.replacer.Replace(s)
}

// buildReplacer maps every known secret, in each form it may take inside a
// JSON line, to its placeholder; longer secrets first, so that a secret that
// contains another is replaced whole.
func (r *Redactor) buildReplacer() *strings.Replacer {
	type pair struct{ from, to string }
	var pairs []pair
	for _, s := range r.anywhere {
		for _, f := range secretForms(s) {
			pairs = append(pairs, pair{f, r.placeholders[s]})
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(len(b.from), len(a.from)) })
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.from, p.to)
	}
	return strings.NewReplacer(args...)
}

// secretForms returns s and the forms it takes once or twice JSON-escaped
// (with and without HTML escaping) and URL-escaped, without duplicates.
func secretForms(s string) []string {
	forms := []string{s}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	quote := func(s string, html bool) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(s) // a string always encodes
		q := strings.TrimSuffix(buf.String(), "\n")
		return q[1 : len(q)-1]
	}
	for _, html := range []bool{false, true} {
		once := quote(s, html)
		add(once)
		add(quote(once, html))
	}
	add(url.QueryEscape(s))
	add(url.PathEscape(s))
	return forms
}

// header redacts the credentials of HTTP header key.
func (r *Redactor) header(key, v string) string {
	switch http.CanonicalHeaderKey(key) {
	case "Authorization", "Proxy-Authorization":
		return r.authorization(v)
	case "Cookie", "Set-Cookie":
		return r.learn(catCookie, v, minLearned)
	}
	return v
}

// authorization redacts the value of an Authorization header.
func (r *Redactor) authorization(v string) string {
	scheme, cred, _ := strings.Cut(v, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Basic") && cred != "":
		if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
			if _, secret, ok := strings.Cut(string(raw), ":"); ok {
				r.learn(catSecret, secret, minLearned)
			}
		}
		return scheme + " " + r.learn(catBasic, cred, minLearned)
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		return scheme + " " + r.learn(catToken, cred, minLearned)
	}
	return r.learn(catSecret, v, minLearned)
}

// form redacts the value of form field key if it is a secret.
func (r *Redactor) form(key, v string) string {
	if cat, ok := secretKeys[strings.ToLower(key)]; ok {
		return r.learn(cat, v, minLearned)
	}
	return v
}

// query redacts the values of secret parameters in a raw query string,
// keeping everything else byte for byte (order, escaping).
func (r *Redactor) query(q string) string {
	if !strings.Contains(q, "=") {
		return q
	}
	parts := strings.Split(q, "&")
	for i, part := range parts {
		rawKey, rawVal, found := strings.Cut(part, "=")
		if !found || rawVal == "" {
			continue
		}
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		cat, ok := secretKeys[strings.ToLower(key)]
		if !ok {
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			val = rawVal
		}
		parts[i] = rawKey + "=" + r.learn(cat, val, minLearned)
	}
	return strings.Join(parts, "&")
}

// text redacts a body or a text payload: JSON structurally, a form-encoded
// body by its keys.
func (r *Redactor) text(s string) string {
	trimmed := strings.TrimSpace(s)
	switch {
	case trimmed == "":
		return s
	case trimmed[0] == '{' || trimmed[0] == '[':
		if out, ok := r.json(s); ok {
			return out
		}
	case !strings.ContainsAny(trimmed, " \n\t"):
		return r.query(s)
	}
	return s
}

// json redacts a JSON document; ok is false when s is not JSON.
func (r *Redactor) json(s string) (string, bool) {
	src := []byte(s)
	if r.pseudonymise {
		// First learn every name in the document, so that free text
		// before the name field is cleaned too.
		if _, _, err := rewriteJSON(src, r.learnNames); err != nil {
			return s, false
		}
	}
	out, changed, err := rewriteJSON(src, r.jsonValue)
	if err != nil {
		return s, false
	}
	if !changed {
		return s, true
	}
	return string(out), true
}

// jsonValue is the rewriteJSON callback: it replaces secrets and personal
// data, and descends into JSON documents carried in strings.
func (r *Redactor) jsonValue(key, val string) ([]byte, bool) {
	if val == "" {
		return nil, false
	}
	lk := strings.ToLower(key)
	if cat, ok := secretKeys[lk]; ok {
		return replaced(val, r.learn(cat, val, minLearned))
	}
	if r.pseudonymise {
		if p := r.pseudonym(lk, val); p != "" {
			return replaced(val, p)
		}
	}
	if looksLikeJSON(val) {
		if inner, changed, err := rewriteJSON([]byte(val), r.jsonValue); err == nil && changed {
			return appendString(nil, string(inner)), true
		}
		return nil, false
	}
	if r.pseudonymise && len(r.freeText) > 0 {
		if r.textReplacer == nil {
			args := make([]string, 0, 2*len(r.freeText))
			for _, t := range r.freeText {
				args = append(args, t, r.placeholders[t])
			}
			r.textReplacer = strings.NewReplacer(args...)
		}
		return replaced(val, r.textReplacer.Replace(val))
	}
	return nil, false
}

// learnNames is a rewriteJSON callback that only learns pseudonyms.
func (r *Redactor) learnNames(key, val string) ([]byte, bool) {
	if r.pseudonym(strings.ToLower(key), val) == "" && looksLikeJSON(val) {
		_, _, _ = rewriteJSON([]byte(val), r.learnNames) // not JSON after all: nothing to learn
	}
	return nil, false
}

func replaced(old, repl string) ([]byte, bool) {
	if repl == old {
		return nil, false
	}
	return appendString(nil, repl), true
}

func looksLikeJSON(s string) bool {
	return len(s) > 1 && (s[0] == '{' || s[0] == '[')
}

// pseudonym returns the pseudonym for the value of key lk, or "" when the
// key holds nothing personal.
func (r *Redactor) pseudonym(lk, val string) string {
	var cat string
	switch {
	case lk == "email" || strings.HasSuffix(lk, "_email") || (lk == "operator" && strings.Contains(val, "@")):
		cat = pseudoEmail
	case nameKeys[lk]:
		cat = pseudoName
	case lk == "account_id":
		cat = pseudoAccount
	default:
		return ""
	}
	if p, ok := r.placeholders[val]; ok {
		return p
	}
	if m := pseudonymRE.FindStringSubmatch(val); m != nil {
		r.bump("pseudo-"+m[1], m[2])
		return val
	}
	r.counters["pseudo-"+cat]++
	p := "pseudo-" + cat + "-" + strconv.Itoa(r.counters["pseudo-"+cat])
	if cat == pseudoEmail {
		p += "@example.invalid"
	}
	r.placeholders[val] = p
	if cat != pseudoAccount && len(val) >= 6 && strings.ContainsAny(val, " @") {
		r.freeText = append(r.freeText, val)
		slices.SortStableFunc(r.freeText, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
		r.textReplacer = nil
	}
	return p
}

// ContainsAny reports which of secrets appear in a cassette's decompressed
// text, in any of the forms a JSON line may hold them (raw, JSON-escaped once
// or twice, URL-escaped). Tests use it to prove that a recording leaks
// nothing; a truncated cassette is searched as far as it goes.
func ContainsAny(cassette []byte, secrets ...string) ([]string, error) {
	text, err := decompressAll(cassette)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if bytes.Contains(text, []byte(f)) {
				found = append(found, s)
				break
			}
		}
	}
	return found, nil
}

// decompressAll returns the decompressed text of a cassette (or the input
// itself when it is plain), as far as it can be decoded.
func decompressAll(cassette []byte) ([]byte, error) {
	if !bytes.HasPrefix(cassette, zstdMagic) {
		return cassette, nil
	}
	dec, err := zstd.NewReader(bytes.NewReader(cassette), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
	if err != nil {
		return nil, fmt.Errorf("failed to start decompression: %w", err)
	}
	defer dec.Close()
	text, err := io.ReadAll(dec)
	if err != nil && len(text) == 0 {
		return nil, fmt.Errorf("failed to decompress cassette: %w", err)
	}
	return text, nil
}
