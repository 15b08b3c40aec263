package cassettes

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// volatileKeys are the JSON keys (lower case) whose values differ on every
// delivery of the same event, so Diff ignores them. event_ts is not among
// them: a different event time is a real difference.
var volatileKeys = map[string]bool{
	"x-zm-trackingid":        true,
	"x-zm-signature":         true,
	"x-zm-request-timestamp": true,
}

// volatileHeaders are HTTP headers that differ on every response (or are
// there in one recording and not the other); Diff leaves them out.
var volatileHeaders = []string{"Date", "X-Zm-Trackingid", "X-Zm-Signature", "X-Zm-Request-Timestamp"}

// ignored replaces volatile values in what Diff compares.
const ignored = "<ignored>"

// numberedRE matches the number of a placeholder or pseudonym, which depends
// on the order secrets were met, not on what they were.
var numberedRE = regexp.MustCompile(`(REDACTED-[A-Z]+|pseudo-[a-z]+)-[0-9]+`)

// Diff compares two cassettes and returns a go-cmp report of their
// differences, or "" when they match. It ignores what differs between two
// recordings of the same session: offsets (timing), the header's creation
// time and recorder, the numbers of redaction placeholders and pseudonyms,
// tracking ids, signatures and request timestamps (in event headers and HTTP
// headers) and the Date header. JSON payloads and bodies are compared as JSON
// (key order aside), the event documents inside "content" strings included,
// so the report points at the field that differs.
func Diff(a, b io.Reader) (string, error) {
	ha, ra, err := ReadAll(a)
	if err != nil {
		return "", fmt.Errorf("failed to read the first cassette: %w", err)
	}
	hb, rb, err := ReadAll(b)
	if err != nil {
		return "", fmt.Errorf("failed to read the second cassette: %w", err)
	}
	type cassette struct {
		Header  Header
		Records []Record
	}
	return cmp.Diff(cassette{ha, normalize(ra)}, cassette{hb, normalize(rb)},
		cmpopts.IgnoreFields(Header{}, "Format", "Version", "Created", "Recorder"),
		cmpopts.IgnoreFields(Record{}, "Offset"),
		cmpopts.EquateEmpty(),
		jsonTransformer(),
	), nil
}

// jsonTransformer makes go-cmp compare strings that hold JSON documents as
// decoded values, recursively, so that the report names the field.
func jsonTransformer() cmp.Option {
	return cmp.FilterValues(func(x, y string) bool {
		return looksLikeJSON(x) && looksLikeJSON(y) && validJSON([]byte(x)) && validJSON([]byte(y))
	}, cmp.Transformer("JSON", func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber() // exact numbers: event_ts has 13 digits
		var v any
		_ = dec.Decode(&v) // the filter checked it is valid
		return v
	}))
}

// normalize returns copies of recs with what Diff ignores blanked out.
func normalize(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		r = r.mapFields(normalizeText, func(_, v string) string { return numberedRE.ReplaceAllString(v, "$1-#") })
		if r.HTTP != nil {
			dropVolatile(r.HTTP.RequestHeader)
			dropVolatile(r.HTTP.ResponseHeader)
		}
		out[i] = r
	}
	return out
}

// normalizeText blanks volatile JSON values (inside nested JSON documents
// too) and placeholder numbers.
func normalizeText(s string) string {
	if looksLikeJSON(s) {
		if out, changed, err := rewriteJSON([]byte(s), normalizeJSONValue); err == nil && changed {
			s = string(out)
		}
	}
	return numberedRE.ReplaceAllString(s, "$1-#")
}

func normalizeJSONValue(key, val string) ([]byte, bool) {
	if volatileKeys[strings.ToLower(key)] {
		return appendString(nil, ignored), true
	}
	if looksLikeJSON(val) {
		if inner, changed, err := rewriteJSON([]byte(val), normalizeJSONValue); err == nil && changed {
			return appendString(nil, string(inner)), true
		}
	}
	return nil, false
}

// dropVolatile deletes the headers that differ on every response from h
// (a copy).
func dropVolatile(h http.Header) {
	for k := range h {
		if slices.Contains(volatileHeaders, http.CanonicalHeaderKey(k)) {
			delete(h, k)
		}
	}
}
