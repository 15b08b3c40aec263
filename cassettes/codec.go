package cassettes

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The JSON names of record fields. Readers match them exactly (case matters).
const (
	fieldAt          = "at_us"
	fieldKind        = "kind"
	fieldMethod      = "method"
	fieldPath        = "path"
	fieldQuery       = "query"
	fieldReqHeaders  = "req_headers"
	fieldForm        = "form"
	fieldReqBody     = "req_body"
	fieldStatus      = "status"
	fieldRespHeaders = "resp_headers"
	fieldBody        = "body"
	fieldConn        = "conn"
	fieldDirection   = "direction"
	fieldOpcode      = "opcode"
	fieldPayload     = "payload"
	fieldPayloadB64  = "payload_b64"
	fieldBy          = "by"
	fieldCode        = "code"
	fieldReason      = "reason"
	fieldAbrupt      = "abrupt"
)

// appendRecord appends r as one JSON line (with its newline). Fields come in
// a fixed order and maps in sorted key order, so equal records give equal
// bytes. r must have passed checkRecord.
func appendRecord(b []byte, r Record) []byte {
	b = append(b, `{"`+fieldAt+`":`...)
	b = strconv.AppendInt(b, int64(r.Offset/time.Microsecond), 10)
	b = append(b, `,"`+fieldKind+`":`...)
	b = appendString(b, string(r.Kind()))
	switch {
	case r.HTTP != nil:
		h := r.HTTP
		b = appendField(b, fieldMethod, h.Method)
		b = appendField(b, fieldPath, h.Path)
		b = appendOptional(b, fieldQuery, h.Query)
		b = appendValues(b, fieldReqHeaders, h.RequestHeader)
		b = appendValues(b, fieldForm, h.Form)
		if h.RequestBody != "" {
			b = appendText(b, fieldReqBody, h.RequestBody)
		}
		b = appendInt(b, fieldStatus, h.Status)
		b = appendValues(b, fieldRespHeaders, h.ResponseHeader)
		if h.ResponseBody != "" {
			b = appendText(b, fieldBody, h.ResponseBody)
		}
	case r.Open != nil:
		o := r.Open
		b = appendField(b, fieldConn, o.Conn)
		b = appendField(b, fieldPath, o.Path)
		b = appendOptional(b, fieldQuery, o.Query)
		b = appendInt(b, fieldStatus, o.Status)
	case r.Frame != nil:
		f := r.Frame
		b = appendField(b, fieldConn, f.Conn)
		b = appendField(b, fieldDirection, string(f.From))
		b = appendField(b, fieldOpcode, string(f.Opcode))
		if f.Opcode == Text && utf8.ValidString(f.Payload) {
			b = appendText(b, fieldPayload, f.Payload)
		} else {
			b = append(b, `,"`+fieldPayloadB64+`":"`...)
			b = base64.StdEncoding.AppendEncode(b, []byte(f.Payload))
			b = append(b, '"')
		}
	case r.Close != nil:
		c := r.Close
		b = appendField(b, fieldConn, c.Conn)
		b = appendField(b, fieldBy, string(c.By))
		if c.Abrupt {
			b = append(b, `,"`+fieldAbrupt+`":true`...)
		} else {
			b = appendInt(b, fieldCode, c.Code)
		}
		b = appendOptional(b, fieldReason, c.Reason)
	}
	return append(b, "}\n"...)
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendText writes a text that is itself a JSON object or array as that
// JSON, byte for byte, and any other text as a JSON string. Zoom frames and
// token responses are JSON: embedding them saves a layer of escaping, which
// makes lines readable (and jq-able) and faster to read.
func appendText(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if mayEmbed(v) {
		// Validate the copy in place: no conversion, no allocation.
		mark := len(b)
		b = append(b, v...)
		if embeddable(b[mark:]) {
			return b
		}
		b = b[:mark]
	}
	return appendString(b, v)
}

func appendOptional(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendField(b, name, v)
}

func appendInt(b []byte, name string, v int) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, int64(v), 10)
}

// appendValues writes a header or form map as an object of string arrays with
// sorted keys; an empty map is omitted.
func appendValues(b []byte, name string, m map[string][]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':', '[')
		for j, v := range m[k] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// fieldError is a problem with one field of a record.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %s", e.field, e.msg) }

// wireRecord is a record line with every field it may carry, before the kind
// decides which matter.
type wireRecord struct {
	at                                  int64
	hasAt, hasStatus, hasCode, hasB64   bool
	hasPayload                          bool
	kind                                string
	method, path, query, reqBody, body  string
	conn, direction, opcode, by, reason string
	payload                             string
	reqHeaders, form, respHeaders       map[string][]string
	status, code                        int64
	abrupt                              bool
}

// parseRecord decodes one record line. It returns a *syntaxError for
// malformed JSON and a *fieldError for a field of the wrong type; unknown
// fields are skipped. l is reused from line to line for its scratch buffer.
func parseRecord(l *lexer, line []byte) (wireRecord, error) {
	var w wireRecord
	l.b, l.i = line, 0
	err := l.object(func(key []byte) error {
		if null, err := l.isNull(); null || err != nil {
			return err
		}
		var err error
		switch string(key) {
		case fieldAt:
			w.at, err = l.intField(fieldAt)
			w.hasAt = true
		case fieldKind:
			w.kind, err = l.stringField(fieldKind)
		case fieldMethod:
			w.method, err = l.stringField(fieldMethod)
		case fieldPath:
			w.path, err = l.stringField(fieldPath)
		case fieldQuery:
			w.query, err = l.stringField(fieldQuery)
		case fieldReqHeaders:
			w.reqHeaders, err = l.valuesField(fieldReqHeaders)
		case fieldForm:
			w.form, err = l.valuesField(fieldForm)
		case fieldReqBody:
			w.reqBody, err = l.textField(fieldReqBody)
		case fieldStatus:
			w.status, err = l.intField(fieldStatus)
			w.hasStatus = true
		case fieldRespHeaders:
			w.respHeaders, err = l.valuesField(fieldRespHeaders)
		case fieldBody:
			w.body, err = l.textField(fieldBody)
		case fieldConn:
			w.conn, err = l.stringField(fieldConn)
		case fieldDirection:
			w.direction, err = l.stringField(fieldDirection)
		case fieldOpcode:
			w.opcode, err = l.stringField(fieldOpcode)
		case fieldPayload:
			w.payload, err = l.textField(fieldPayload)
			w.hasPayload = true
		case fieldPayloadB64:
			var b64 string
			b64, err = l.stringField(fieldPayloadB64)
			if err == nil {
				w.payload, err = decodeBase64(b64)
			}
			w.hasB64 = true
		case fieldBy:
			w.by, err = l.stringField(fieldBy)
		case fieldCode:
			w.code, err = l.intField(fieldCode)
			w.hasCode = true
		case fieldReason:
			w.reason, err = l.stringField(fieldReason)
		case fieldAbrupt:
			w.abrupt, err = l.boolField(fieldAbrupt)
		default:
			err = l.skipValue(1)
		}
		return err
	})
	if err == nil {
		err = l.end()
	}
	return w, err
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", &fieldError{fieldPayloadB64, "invalid base64: " + err.Error()}
	}
	return string(b), nil
}

// wrongType reports a field whose value has the wrong JSON type.
func (l *lexer) wrongType(field, want string) error {
	return &fieldError{field, "want " + want + ", got " + l.kindName()}
}

func (l *lexer) stringField(field string) (string, error) {
	switch l.next() {
	case '"':
		b, err := l.stringBytes()
		return internString(b), err
	case 0:
		return "", l.fail("")
	}
	return "", l.wrongType(field, "a string")
}

// internString returns the constants for the common enum values so that a
// large cassette does not allocate them once per record.
func internString(b []byte) string {
	switch string(b) {
	case "frame":
		return "frame"
	case "client":
		return "client"
	case "server":
		return "server"
	case "text":
		return "text"
	case "c1":
		return "c1"
	}
	return textString(b)
}

// textField reads a text written by appendText: a JSON string, or a JSON
// object or array whose text is the value.
func (l *lexer) textField(field string) (string, error) {
	switch l.next() {
	case '{', '[':
		raw, err := l.rawValue()
		return textString(raw), err
	case 0:
		return "", l.fail("")
	}
	return l.stringField(field)
}

func (l *lexer) intField(field string) (int64, error) {
	c := l.next()
	if c != '-' && (c < '0' || c > '9') {
		if c == 0 {
			return 0, l.fail("")
		}
		return 0, l.wrongType(field, "an integer")
	}
	text, err := l.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		return 0, &fieldError{field, "want an integer, got " + string(text)}
	}
	return n, nil
}

func (l *lexer) boolField(field string) (bool, error) {
	switch l.next() {
	case 't':
		return true, l.literal("true")
	case 'f':
		return false, l.literal("false")
	case 0:
		return false, l.fail("")
	}
	return false, l.wrongType(field, "true or false")
}

// valuesField decodes an object whose values are arrays of strings (or, for
// hand-written files, single strings).
func (l *lexer) valuesField(field string) (map[string][]string, error) {
	switch l.next() {
	case '{':
	case 0:
		return nil, l.fail("")
	default:
		return nil, l.wrongType(field, "an object of string arrays")
	}
	m := map[string][]string{}
	err := l.object(func(key []byte) error {
		k := textString(key)
		switch l.next() {
		case '"':
			v, err := l.str()
			m[k] = []string{v}
			return err
		case '[':
			vs := []string{}
			err := l.array(func() error {
				if l.next() != '"' {
					if l.next() == 0 {
						return l.fail("")
					}
					return l.wrongType(field, "strings in the array of "+strconv.Quote(k))
				}
				v, err := l.str()
				vs = append(vs, v)
				return err
			})
			m[k] = vs
			return err
		case 'n':
			return l.literal("null")
		case 0:
			return l.fail("")
		}
		return l.wrongType(field, "an array of strings for "+strconv.Quote(k))
	})
	return m, err
}

// record turns a decoded line into a Record and checks it. known reports
// whether the kind is one this package knows; unknown kinds are an error
// unless the caller skips them.
func (w *wireRecord) record(l *lexer) (rec Record, known bool, err *fieldError) {
	if !w.hasAt {
		return rec, true, &fieldError{fieldAt, "missing (every record needs its offset in microseconds)"}
	}
	if w.at < 0 || w.at > math.MaxInt64/int64(time.Microsecond) {
		return rec, true, &fieldError{fieldAt, "want a non-negative number of microseconds below 2^63/1000, got " + strconv.FormatInt(w.at, 10)}
	}
	rec.Offset = time.Duration(w.at) * time.Microsecond
	switch Kind(w.kind) {
	case KindHTTP:
		rec.HTTP = &HTTPExchange{
			Method: w.method, Path: w.path, Query: w.query,
			RequestHeader: http.Header(w.reqHeaders), Form: url.Values(w.form), RequestBody: w.reqBody,
			Status: int(w.status), ResponseHeader: http.Header(w.respHeaders), ResponseBody: w.body,
		}
		if !w.hasStatus {
			return rec, true, &fieldError{fieldStatus, "missing"}
		}
	case KindOpen:
		rec.Open = &WSOpen{Conn: w.conn, Path: w.path, Query: w.query, Status: int(w.status)}
		if !w.hasStatus {
			return rec, true, &fieldError{fieldStatus, "missing"}
		}
	case KindFrame:
		rec.Frame = l.newFrame()
		*rec.Frame = Frame{Conn: w.conn, From: Side(w.direction), Opcode: Opcode(w.opcode), Payload: w.payload}
		switch {
		case w.hasPayload && w.hasB64:
			return rec, true, &fieldError{fieldPayloadB64, `a frame has "payload" or "payload_b64", not both`}
		case !w.hasPayload && !w.hasB64:
			return rec, true, &fieldError{fieldPayload, `missing (a frame needs "payload" or "payload_b64")`}
		}
	case KindClose:
		rec.Close = &WSClose{Conn: w.conn, By: Side(w.by), Code: int(w.code), Reason: w.reason, Abrupt: w.abrupt}
		if !w.hasCode && !w.abrupt {
			return rec, true, &fieldError{fieldCode, `missing (a close needs a code, or "abrupt":true)`}
		}
	case "":
		return rec, true, &fieldError{fieldKind, "missing"}
	default:
		return rec, false, &fieldError{fieldKind, fmt.Sprintf("want %q, %q, %q or %q, got %q", KindHTTP, KindOpen, KindFrame, KindClose, w.kind)}
	}
	// Guard the int conversions above (int may have 32 bits).
	if w.status != int64(int32(w.status)) {
		return rec, true, &fieldError{fieldStatus, "number out of range: " + strconv.FormatInt(w.status, 10)}
	}
	if w.code != int64(int32(w.code)) {
		return rec, true, &fieldError{fieldCode, "number out of range: " + strconv.FormatInt(w.code, 10)}
	}
	return rec, true, checkRecord(rec)
}

// checkRecord checks the fields of one record on their own (the order of
// records is the validator's business).
func checkRecord(r Record) *fieldError {
	if r.Offset < 0 {
		return &fieldError{fieldAt, "negative offset " + r.Offset.String()}
	}
	switch r.Kind() {
	case KindHTTP:
		h := r.HTTP
		if h.Method == "" {
			return &fieldError{fieldMethod, "missing"}
		}
		if h.Path == "" {
			return &fieldError{fieldPath, "missing"}
		}
		if h.Status < 100 || h.Status > 599 {
			return &fieldError{fieldStatus, "want an HTTP status from 100 to 599, got " + strconv.Itoa(h.Status)}
		}
	case KindOpen:
		o := r.Open
		if err := checkConn(o.Conn); err != nil {
			return err
		}
		if o.Path == "" {
			return &fieldError{fieldPath, "missing"}
		}
		if o.Status < 100 || o.Status > 599 {
			return &fieldError{fieldStatus, "want an HTTP status from 100 to 599 (101 for a successful upgrade), got " + strconv.Itoa(o.Status)}
		}
	case KindFrame:
		f := r.Frame
		if err := checkConn(f.Conn); err != nil {
			return err
		}
		if err := checkSide(fieldDirection, f.From); err != nil {
			return err
		}
		if f.Opcode != Text && f.Opcode != Binary {
			return &fieldError{fieldOpcode, fmt.Sprintf("want %q or %q, got %q", Text, Binary, f.Opcode)}
		}
	case KindClose:
		c := r.Close
		if err := checkConn(c.Conn); err != nil {
			return err
		}
		if err := checkSide(fieldBy, c.By); err != nil {
			return err
		}
		if c.Abrupt && c.Code != 0 {
			return &fieldError{fieldCode, "an abrupt close (no close frame) has no code, got " + strconv.Itoa(c.Code)}
		}
		if !c.Abrupt && (c.Code < 1000 || c.Code > 4999) {
			return &fieldError{fieldCode, "want a close code from 1000 to 4999, got " + strconv.Itoa(c.Code)}
		}
	default:
		return &fieldError{fieldKind, "a record needs exactly one of HTTP, Open, Frame or Close"}
	}
	return nil
}

func checkConn(conn string) *fieldError {
	if conn == "" {
		return &fieldError{fieldConn, "missing (a connection id such as \"c1\")"}
	}
	return nil
}

func checkSide(field string, s Side) *fieldError {
	if s != Client && s != Server {
		return &fieldError{field, fmt.Sprintf("want %q or %q, got %q", Client, Server, s)}
	}
	return nil
}

// wireHeader is the JSON form of Header.
type wireHeader struct {
	Format   string            `json:"format"`
	Version  string            `json:"version"`
	Created  string            `json:"created,omitempty"`
	Recorder string            `json:"recorder,omitempty"`
	Meta     map[string]string `json:"meta,omitempty"`
}

// appendHeader appends h as the first line. encoding/json sorts Meta keys.
func appendHeader(b []byte, h Header) ([]byte, error) {
	w := wireHeader{Format: FormatName, Version: Version, Recorder: h.Recorder, Meta: h.Meta}
	if !h.Created.IsZero() {
		w.Created = h.Created.Format(time.RFC3339Nano)
	}
	line, err := json.Marshal(w)
	if err != nil {
		return b, fmt.Errorf("failed to encode the header: %w", err)
	}
	b = append(b, line...)
	return append(b, '\n'), nil
}

// parseVersion splits "MAJOR.MINOR".
func parseVersion(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	return major, minor, err1 == nil && err2 == nil && major >= 0 && minor >= 0
}

// parseHeader decodes and checks the first line. newerMinor reports a file of
// this major version with a higher minor, whose unknown record kinds are
// skipped rather than refused.
func parseHeader(line []byte) (h Header, newerMinor bool, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: line 1: %s", ErrNotCassette, fmt.Sprintf(format, args...))
	}
	if !validJSON(line) || len(line) == 0 || firstNonSpace(line) != '{' {
		return h, false, bad("want a JSON header like {\"format\":%q,\"version\":%q,...}, got %s", FormatName, Version, preview(line))
	}
	// Read format and version first: a newer major may reshape the rest.
	var id struct {
		Format  any `json:"format"`
		Version any `json:"version"`
	}
	if err := json.Unmarshal(line, &id); err != nil {
		return h, false, bad("%v", err)
	}
	format, _ := id.Format.(string)
	if format != FormatName {
		return h, false, bad("field \"format\": want %q, got %s", FormatName, jsonPreview(id.Format))
	}
	version, _ := id.Version.(string)
	major, minor, ok := parseVersion(version)
	if !ok {
		return h, false, &RecordError{Line: 1, Field: "version", Msg: fmt.Sprintf("want \"MAJOR.MINOR\" such as %q, got %s", Version, jsonPreview(id.Version))}
	}
	ourMajor, ourMinor, _ := parseVersion(Version)
	if major > ourMajor {
		return h, false, fmt.Errorf("cassette format version %s is newer than version %s that this zoommock reads; upgrade zoommock to read it: %w", version, Version, ErrNewerVersion)
	}
	if major < ourMajor {
		return h, false, &RecordError{Line: 1, Field: "version", Msg: fmt.Sprintf("version %s predates the first format version", version)}
	}
	var w wireHeader
	if err := json.Unmarshal(line, &w); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return h, false, &RecordError{Line: 1, Msg: err.Error()}
		}
		if field, _, _ := strings.Cut(te.Field, "."); field == "meta" {
			return h, false, &RecordError{Line: 1, Field: field, Msg: "want an object of strings, got a " + te.Value + " in it"}
		}
		return h, false, &RecordError{Line: 1, Field: te.Field, Msg: "want a string, got a " + te.Value}
	}
	h = Header{Format: w.Format, Version: w.Version, Recorder: w.Recorder, Meta: w.Meta}
	if w.Created != "" {
		if h.Created, err = time.Parse(time.RFC3339Nano, w.Created); err != nil {
			return h, false, &RecordError{Line: 1, Field: "created", Msg: "want an RFC 3339 time, got " + strconv.Quote(w.Created)}
		}
	}
	return h, minor > ourMinor, nil
}

func firstNonSpace(b []byte) byte {
	l := lexer{b: b}
	return l.next()
}

// preview shows the start of a bad line, escaped so that binary garbage
// prints safely.
func preview(b []byte) string {
	const n = 40
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}

func jsonPreview(v any) string {
	if v == nil {
		return "nothing"
	}
	b, _ := json.Marshal(v)
	return preview(b)
}
