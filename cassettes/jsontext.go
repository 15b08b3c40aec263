package cassettes

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON lexer and string encoder. encoding/json decodes
// record lines at about 70 MB/s, too slow to load a large cassette quickly,
// and it cannot say which field of a line is wrong; the lexer below works on
// one line in place and reports positions. It is shared by the record codec,
// the Redactor and Diff (which rewrite JSON payloads without reordering keys).

// maxDepth bounds the nesting of values the lexer will skip or rewrite, so
// that hostile input cannot exhaust the stack.
const maxDepth = 512

// syntaxError is malformed JSON at byte offset off of the text. atEnd reports
// that the text ended where more was expected, which on the last line of a
// file means it was cut.
type syntaxError struct {
	off   int
	msg   string
	atEnd bool
}

func (e *syntaxError) Error() string {
	return "malformed JSON at column " + strconv.Itoa(e.off+1) + ": " + e.msg
}

// lexer reads JSON values from b starting at i.
type lexer struct {
	b []byte
	i int
	// scratch holds the last string that had escapes, so that decoding keys
	// does not allocate.
	scratch []byte
	// frames, when slab is set, is where the record decoder allocates
	// Frames, a few hundred at a time: ReadAll keeps every record anyway,
	// and one allocation instead of hundreds spares the garbage collector.
	frames []Frame
	slab   bool
}

// newFrame returns a Frame to fill in.
func (l *lexer) newFrame() *Frame {
	if !l.slab {
		return new(Frame)
	}
	if len(l.frames) == cap(l.frames) {
		l.frames = make([]Frame, 0, 512)
	}
	l.frames = l.frames[:len(l.frames)+1]
	return &l.frames[len(l.frames)-1]
}

func (l *lexer) fail(msg string) error {
	if l.i >= len(l.b) {
		return &syntaxError{off: l.i, msg: "unexpected end of line", atEnd: true}
	}
	return &syntaxError{off: l.i, msg: msg}
}

func (l *lexer) skipSpace() {
	for l.i < len(l.b) {
		switch l.b[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte without consuming it, or
// 0 at the end.
func (l *lexer) next() byte {
	l.skipSpace()
	if l.i >= len(l.b) {
		return 0
	}
	return l.b[l.i]
}

// consume skips white space and consumes c, or fails.
func (l *lexer) consume(c byte) error {
	if l.next() != c {
		return l.fail("want " + strconv.QuoteRune(rune(c)) + ", got " + l.describe())
	}
	l.i++
	return nil
}

// describe names the byte at the cursor for an error message.
func (l *lexer) describe() string {
	if l.i >= len(l.b) {
		return "end of line"
	}
	return strconv.QuoteRune(rune(l.b[l.i]))
}

// kindName names the type of the value at the cursor, for "want X, got Y".
func (l *lexer) kindName() string {
	switch l.next() {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	}
	return l.describe()
}

// isNull consumes a null literal if one is at the cursor.
func (l *lexer) isNull() (bool, error) {
	if l.next() != 'n' {
		return false, nil
	}
	return true, l.literal("null")
}

func (l *lexer) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if l.i >= len(l.b) || l.b[l.i] != word[k] {
			return l.fail("invalid literal, want " + word)
		}
		l.i++
	}
	return nil
}

// stringBytes consumes a JSON string and returns its decoded bytes, valid
// until the next call: when the string has no escapes the result aliases l.b,
// otherwise it is decoded into l.scratch. Bytes that are not valid UTF-8 are
// kept as they are.
func (l *lexer) stringBytes() ([]byte, error) {
	if l.next() != '"' {
		return nil, l.fail("want a string, got " + l.describe())
	}
	l.i++
	start := l.i
	b := l.b
	i := scanPlain(b, start)
	switch {
	case i >= len(b):
		l.i = len(b)
		return nil, l.fail("")
	case b[i] == '"':
		l.i = i + 1
		return b[start:i], nil
	case b[i] == '\\':
		l.i = i
		out, err := l.unescape(append(l.scratch[:0], b[start:i]...))
		if out != nil {
			l.scratch = out
		}
		return out, err
	}
	l.i = i
	return nil, l.fail("control character in string")
}

// unescape continues a string at the cursor (inside the quotes), appending
// the decoded text to out.
func (l *lexer) unescape(out []byte) ([]byte, error) {
	b := l.b
	i := l.i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			l.i = i + 1
			return out, nil
		case c < 0x20:
			l.i = i
			return nil, l.fail("control character in string")
		case c != '\\':
			// Copy a run of plain bytes at once.
			j := scanPlain(b, i+1)
			out = append(out, b[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(b) {
			l.i = len(b)
			return nil, l.fail("")
		}
		switch b[i+1] {
		case '"', '\\', '/':
			out = append(out, b[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n, err := l.unicodeEscape(i)
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
			i += n
			continue
		default:
			l.i = i
			return nil, l.fail("invalid escape " + strconv.Quote(string(b[i:i+2])))
		}
		i += 2
	}
	l.i = len(b)
	return nil, l.fail("")
}

// unicodeEscape decodes \uXXXX at i (and a following low surrogate), returning
// the rune and the number of bytes used. Lone surrogates become U+FFFD, as in
// encoding/json.
func (l *lexer) unicodeEscape(i int) (rune, int, error) {
	r, ok := hex4(l.b, i+2)
	if !ok {
		l.i = i
		if i+6 > len(l.b) {
			l.i = len(l.b) // cut inside the escape
		}
		return 0, 0, l.fail("invalid \\u escape")
	}
	if utf16.IsSurrogate(r) {
		if i+12 <= len(l.b) && l.b[i+6] == '\\' && l.b[i+7] == 'u' {
			if r2, ok := hex4(l.b, i+8); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, 12, nil
				}
			}
		}
		return utf8.RuneError, 6, nil
	}
	return r, 6, nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// skipString consumes a JSON string, checking it, without decoding it. It
// is the inner loop of reading embedded payloads, whose "content" strings
// hold an escaped quote every few bytes, so it is written as one loop that
// looks at 8 bytes at a time and handles \" without a call.
func (l *lexer) skipString() error {
	b := l.b
	i := l.i + 1
	for i < len(b) {
		if i+8 <= len(b) {
			m := specialBytes(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else if plainStringByte[b[i]] {
			i++
			continue
		}
		switch c := b[i]; {
		case c == '"':
			l.i = i + 1
			return nil
		case c != '\\':
			l.i = i
			return l.fail("control character in string")
		case i+1 >= len(b):
			l.i = len(b)
			return l.fail("")
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, _, err := l.unicodeEscape(i); err != nil {
				return err
			}
			i += 6
		default:
			l.i = i
			return l.fail("invalid escape " + strconv.Quote(string(b[i:i+2])))
		}
	}
	l.i = len(b)
	return l.fail("")
}

// plainStringByte marks the bytes that stand for themselves inside a JSON
// string.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanPlain returns the index of the first byte from i on that does not
// stand for itself in a JSON string (a quote, a backslash or a control
// character), or len(b). It looks at 8 bytes at a time: this is the inner
// loop of reading payloads.
func scanPlain(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for i < len(b) && plainStringByte[b[i]] {
		i++
	}
	return i
}

// specialBytes sets the high bit of each byte of x that is a quote, a
// backslash or below 0x20. Bytes above the first such byte may be marked
// wrongly (a borrow); the lowest mark is always right.
func specialBytes(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20) & ^x | (q-ones)&^q | (bs-ones)&^bs) & highs
}

// rawValue consumes a JSON object or array and returns its text.
func (l *lexer) rawValue() ([]byte, error) {
	l.skipSpace()
	start := l.i
	if err := l.skipValue(1); err != nil {
		return nil, err
	}
	return l.b[start:l.i], nil
}

// mayEmbed is the cheap first test of embeddable: s looks like a JSON
// object or array on one line, without surrounding space.
func mayEmbed(s string) bool {
	return len(s) >= 2 && (s[0] == '{' || s[0] == '[') && (s[len(s)-1] == '}' || s[len(s)-1] == ']') &&
		strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0
}

// embeddable reports whether text that passed mayEmbed can be written into
// a JSON line as is (and read back as exactly itself): valid UTF-8 holding
// one JSON value.
func embeddable(b []byte) bool {
	return utf8.Valid(b) && validJSON(b)
}

// str consumes a JSON string and returns it as a new Go string.
func (l *lexer) str() (string, error) {
	b, err := l.stringBytes()
	return textString(b), err
}

// textString returns b as a string, each byte that is not valid UTF-8
// replaced by U+FFFD, as encoding/json does: JSON text is UTF-8, and the
// Writer makes the same replacement, so a record reads back as it was read.
func textString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return string(out)
}

// number consumes a JSON number and returns its text.
func (l *lexer) number() ([]byte, error) {
	l.skipSpace()
	b := l.b
	start := l.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intStart := i
	if n := digits(); n == 0 {
		l.i = i
		return nil, l.fail("invalid number")
	} else if n > 1 && b[intStart] == '0' {
		l.i = intStart + 1
		return nil, l.fail("invalid number: leading zero")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			l.i = i
			return nil, l.fail("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			l.i = i
			return nil, l.fail("invalid number")
		}
	}
	l.i = i
	return b[start:i], nil
}

// skipValue consumes any JSON value.
func (l *lexer) skipValue(depth int) error {
	if depth > maxDepth {
		return l.fail("nested too deeply")
	}
	switch c := l.next(); c {
	case '"':
		return l.skipString()
	case '{':
		return l.object(func(key []byte) error { return l.skipValue(depth + 1) })
	case '[':
		return l.array(func() error { return l.skipValue(depth + 1) })
	case 't':
		return l.literal("true")
	case 'f':
		return l.literal("false")
	case 'n':
		return l.literal("null")
	case 0:
		return l.fail("")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			_, err := l.number()
			return err
		}
		return l.fail("want a value, got " + l.describe())
	}
}

// object consumes an object, calling member with each key (valid until the
// next call) with the cursor at the value, which member must consume.
func (l *lexer) object(member func(key []byte) error) error {
	return l.items('{', '}', "object member", func() error {
		key, err := l.stringBytes()
		if err != nil {
			return err
		}
		if err := l.consume(':'); err != nil {
			return err
		}
		return member(key)
	})
}

// array consumes an array, calling elem with the cursor at each element.
func (l *lexer) array(elem func() error) error {
	return l.items('[', ']', "array element", elem)
}

// items consumes open, items separated by commas, and close.
func (l *lexer) items(open, close byte, what string, item func() error) error {
	if err := l.consume(open); err != nil {
		return err
	}
	if l.next() == close {
		l.i++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch l.next() {
		case ',':
			l.i++
		case close:
			l.i++
			return nil
		default:
			return l.fail("want ',' or " + strconv.QuoteRune(rune(close)) + " after " + what + ", got " + l.describe())
		}
	}
}

// end checks that only white space follows the value.
func (l *lexer) end() error {
	if l.next() != 0 {
		return l.fail("unexpected " + l.describe() + " after the end of the record")
	}
	return nil
}

// validJSON reports whether b holds exactly one JSON value.
func validJSON(b []byte) bool {
	l := lexer{b: b}
	return l.skipValue(0) == nil && l.end() == nil
}

// safeASCII marks the ASCII bytes that appear in a JSON string unescaped.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string. Like encoding/json it escapes
// control characters, U+2028 and U+2029, and replaces invalid UTF-8 with
// U+FFFD; unlike it, it leaves <, > and & alone so that payloads stay
// readable.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// rewriteJSON copies the JSON value src, replacing each string value for
// which fn returns ok with the JSON text fn returns. key is the name of the
// member that holds the string (for an array element, of the member that
// holds the array; "" at the top). Everything not replaced is copied byte for
// byte, so key order, spacing and escapes stay as they were. changed reports
// whether anything was replaced; if not, out is src.
func rewriteJSON(src []byte, fn func(key, val string) (repl []byte, ok bool)) (out []byte, changed bool, err error) {
	rw := rewriter{l: lexer{b: src}, fn: fn}
	if err := rw.value("", 0); err != nil {
		return src, false, err
	}
	if err := rw.l.end(); err != nil {
		return src, false, err
	}
	if rw.out == nil {
		return src, false, nil
	}
	return append(rw.out, src[rw.copied:]...), true, nil
}

type rewriter struct {
	l      lexer
	fn     func(key, val string) ([]byte, bool)
	out    []byte
	copied int // src[:copied] is in out
}

func (rw *rewriter) value(key string, depth int) error {
	l := &rw.l
	if depth > maxDepth {
		return l.fail("nested too deeply")
	}
	switch l.next() {
	case '{':
		return l.object(func(k []byte) error { return rw.value(string(k), depth+1) })
	case '[':
		return l.array(func() error { return rw.value(key, depth+1) })
	case '"':
		start := l.i
		b, err := l.stringBytes()
		if err != nil {
			return err
		}
		if repl, ok := rw.fn(key, string(b)); ok {
			rw.out = append(rw.out, l.b[rw.copied:start]...)
			rw.out = append(rw.out, repl...)
			rw.copied = l.i
		}
		return nil
	}
	return l.skipValue(depth)
}
