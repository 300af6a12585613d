package inventory

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/detect"
)

// Observer follows a JSON response body chunk by chunk, as the chunks pass
// on their way to the client, and records its fields into a Response. It
// keeps no chunk: its state is the nesting (at most 64 levels), the
// current path (at most MaxPathBytes), the current key (at most 65 bytes),
// the first 1 KiB of the current string and, past it, the window of a
// private-key search (keySearch) and what is classified of a long string
// (longText: its first and last KiB of visible text, whether it is one
// JWT), so a response of any size costs the same memory. A body that is not JSON, or nests deeper, is
// followed no further and marks the Response incomplete; observation never
// changes the response.
type Observer struct {
	r     *Response
	state obsState
	// stack holds, per open container, whether it is an array and the
	// length of path before its members.
	stack [maxDepth]frame
	depth int
	path  []byte
	// key is the current member name (raw, escapes kept) and whether it
	// holds an escape or was cut.
	key        []byte
	keyEscaped bool
	keyLong    bool
	// keyVal is a long key's prefix as a value's (appendKey), keyLead set
	// while it holds only padding.
	keyVal  []byte
	keyLead bool
	// curKey is the unescaped key of the value being read: a view of key,
	// or of keyBuf when it held escapes, valid until the next key starts.
	curKey string
	keyBuf []byte
	unesc  []byte // a decoded string value
	// str is the prefix of the current string or number value.
	str        []byte
	strEscaped bool
	// strLead is set while str holds nothing but padding (appendStr).
	strLead bool
	// keys searches a string longer than str for a private key past it,
	// and decodes it into text, what is classified of it (longText).
	keys keySearch
	text longText
	// num follows the value of the current number, whatever its length.
	num numberState
	lit int // bytes of a literal still expected
	// deepPath counts levels nested below a path over MaxPathBytes.
	overflow bool
}

type frame struct {
	array bool
	base  int
	// key is, for an array, the name of the member holding it (a copy:
	// curKey views a reused buffer), under which its elements are
	// classified, as the filter's Inspector sees them.
	key []byte
}

type obsState uint8

const (
	stValue obsState = iota
	stObjFirst
	stObjKey
	stKey
	stKeyEsc
	stColon
	stString
	stStringEsc
	stNumber
	stLiteral
	stAfter
	stArrFirst
	stDone
	stDead
)

// NewObserver returns an observer recording into r.
func NewObserver(r *Response) *Observer {
	return &Observer{r: r, path: make([]byte, 0, 64), key: make([]byte, 0, maxKeyBytes), str: make([]byte, 0, 64)}
}

// Reset prepares o for the next body, recording into its Response (which
// the caller resets).
func (o *Observer) Reset() {
	o.state, o.depth = stValue, 0
	o.path, o.key, o.str = o.path[:0], o.key[:0], o.str[:0]
	o.keyEscaped, o.keyLong, o.curKey, o.strEscaped, o.lit, o.overflow = false, false, "", false, 0, false
	o.keys.on = false
	if cap(o.str) > maxValueBytes*2 {
		o.str = nil
	}
}

// Response returns the response o records into.
func (o *Observer) Response() *Response { return o.r }

// Close ends the body: a body that stopped inside a value is incomplete.
func (o *Observer) Close() {
	switch o.state {
	case stDone, stDead:
	case stNumber:
		if o.depth == 0 {
			o.endScalar('0')
			return
		}
		o.r.Incomplete = true
	case stValue:
		if o.depth > 0 || len(o.r.fields) > 0 {
			o.r.Incomplete = true
		}
		// An empty body is not a JSON body; nothing to record.
	default:
		o.r.Incomplete = true
	}
}

func (o *Observer) fail() {
	o.state = stDead
	o.r.Incomplete = true
}

// Write follows the next chunk of the body. It never fails: a body it
// cannot follow marks the Response incomplete.
func (o *Observer) Write(chunk []byte) {
	for i := 0; i < len(chunk); i++ {
		c := chunk[i]
		switch o.state {
		case stDead:
			return
		case stValue, stArrFirst:
			if isSpace(c) {
				continue
			}
			if o.state == stArrFirst && c == ']' {
				o.closeContainer(true)
				continue
			}
			o.startValue(c)
		case stObjFirst, stObjKey:
			switch {
			case isSpace(c):
			case c == '"':
				o.key, o.keyEscaped, o.keyLong, o.keyLead = o.key[:0], false, false, true
				o.state = stKey
			case c == '}' && o.state == stObjFirst:
				o.closeContainer(false)
			default:
				o.fail()
			}
		case stKey:
			// Copy the plain run at once.
			j := i + plainRun(chunk[i:])
			o.appendKey(chunk[i:j])
			if j == len(chunk) {
				i = j
				continue
			}
			i = j
			if chunk[j] == '\\' {
				o.appendKey(chunk[j : j+1])
				o.keyEscaped = true
				o.state = stKeyEsc
				continue
			}
			o.state = stColon
		case stKeyEsc:
			o.appendKey(chunk[i : i+1])
			o.state = stKey
		case stColon:
			switch {
			case isSpace(c):
			case c == ':':
				o.memberPath()
				o.state = stValue
			default:
				o.fail()
			}
		case stString:
			j := i + plainRun(chunk[i:])
			if j < len(chunk) && chunk[j] == '"' && len(o.str) == 0 {
				// The whole string is in this chunk: classify it in place,
				// and search it whole when it is longer than what is
				// classified (it holds no escape).
				var past ClassSet
				if j-i > maxValueBytes && o.searchesKeys() && detect.HoldsPrivateKey(unsafeString(chunk[i:j])) {
					past = 1 << detect.PrivateKey
				}
				o.record('"', chunk[i:j], past)
				o.afterValue()
				i = j
				continue
			}
			o.appendStr(chunk[i:j])
			if j == len(chunk) {
				i = j
				continue
			}
			i = j
			if chunk[j] == '\\' {
				o.appendStr(chunk[j : j+1])
				o.strEscaped = true
				o.state = stStringEsc
				continue
			}
			o.endScalar('"')
		case stStringEsc:
			o.appendStr(chunk[i : i+1])
			o.state = stString
		case stNumber:
			if isNumberByte(c) {
				o.appendStr(chunk[i : i+1])
				o.num.add(c)
				continue
			}
			o.endScalar('0')
			i-- // the byte after the number is read in stAfter
		case stLiteral:
			if c < 'a' || c > 'z' {
				o.fail()
				continue
			}
			if o.lit--; o.lit == 0 {
				o.endScalar(o.str[0])
			}
		case stAfter:
			o.after(c)
		case stDone:
			if !isSpace(c) {
				o.fail()
			}
		}
	}
}

// startValue begins the value whose first byte is c.
func (o *Observer) startValue(c byte) {
	switch {
	case c == '{' || c == '[':
		o.record(c, nil, 0)
		if o.depth == maxDepth {
			o.fail()
			return
		}
		f := &o.stack[o.depth]
		f.array, f.base = c == '[', len(o.path)
		if f.array {
			f.key = append(f.key[:0], o.curKey...)
		}
		o.depth++
		if c == '{' {
			o.state = stObjFirst
			return
		}
		if !o.overflow {
			if len(o.path) > 0 {
				o.path = append(o.path, '.')
			}
			o.path = append(o.path, '#')
		}
		o.curKey = unsafeString(f.key)
		o.state = stArrFirst
	case c == '"':
		o.str, o.strEscaped, o.strLead = o.str[:0], false, true
		o.state = stString
	case c == '-' || c >= '0' && c <= '9':
		o.str, o.strLead = append(o.str[:0], c), false
		o.num = numberState{}
		o.num.add(c)
		o.state = stNumber
	case c == 't' || c == 'n':
		o.str = append(o.str[:0], c)
		o.lit = 3
		o.state = stLiteral
	case c == 'f':
		o.str = append(o.str[:0], c)
		o.lit = 4
		o.state = stLiteral
	default:
		o.fail()
	}
}

// endScalar records the scalar just read and moves on.
func (o *Observer) endScalar(kind byte) {
	s := o.str
	var past ClassSet
	switch long := o.keys.on; {
	case kind == '"' && long:
		// Longer than str: its parts were kept on the way (longText).
		if o.keys.end() {
			past = 1 << detect.PrivateKey // a key past the classified part
		}
		var more ClassSet
		s, more = o.r.longParts(&o.text)
		past |= more
	case kind == '"' && o.strEscaped:
		o.unesc = unescape(o.unesc[:0], s)
		s = o.unesc
	}
	if kind == '0' && len(s) == maxValueBytes {
		// A number longer than its kept text: classified by the same
		// value in a short form (numberState).
		o.unesc = o.num.appendText(o.unesc[:0])
		s = o.unesc
	}
	o.record(kind, s, past)
	o.afterValue()
}

// record records a value of kind at the current path, of the classes
// found in s and the classes past found past its classified part.
func (o *Observer) record(kind byte, s []byte, past ClassSet) {
	if o.overflow {
		// Not recorded, but classified: counted, and its policy holds.
		o.r.Dropped++
		o.r.found(o.r.classify(o.curKey, kind, s) | past)
		return
	}
	o.r.value(o.path, o.curKey, kind, s, past)
}

// afterValue moves to what follows a complete value.
func (o *Observer) afterValue() {
	if o.depth == 0 {
		o.state = stDone
		return
	}
	o.state = stAfter
}

// after reads what follows a member or an element.
func (o *Observer) after(c byte) {
	if isSpace(c) {
		return
	}
	f := o.stack[o.depth-1]
	switch {
	case c == ',' && f.array:
		o.curKey = unsafeString(f.key)
		o.state = stValue
	case c == ',':
		o.state = stObjKey
	case c == ']' && f.array, c == '}' && !f.array:
		o.closeContainer(f.array)
	default:
		o.fail()
	}
}

// closeContainer closes the innermost container.
func (o *Observer) closeContainer(array bool) {
	f := o.stack[o.depth-1]
	if f.array != array {
		o.fail()
		return
	}
	o.depth--
	o.path = o.path[:f.base]
	o.overflow = len(o.path) > MaxPathBytes
	o.afterValue()
}

// memberPath sets the path to the current object's plus the key just read.
func (o *Observer) memberPath() {
	f := o.stack[o.depth-1]
	key := o.key
	if o.keyEscaped {
		o.keyBuf = unescape(o.keyBuf[:0], key)
		key = o.keyBuf
	}
	if o.keyLong {
		// Over 96 bytes: a data key whatever the rest says.
		o.keyBuf = append(append(o.keyBuf[:0], key...), "…"...)
		key = o.keyBuf
	}
	o.curKey = unsafeString(key)
	if f.base > MaxPathBytes {
		o.overflow = true
		return
	}
	o.path = o.r.appendKey(o.path[:f.base], o.curKey)
	o.overflow = len(o.path) > MaxPathBytes
	if o.overflow {
		return
	}
	if !o.keyLong {
		o.r.key(o.path, o.curKey)
		return
	}
	// A long key is classified by its prefix past its padding, as a long
	// value is.
	kv := o.keyVal
	if len(kv) == maxValueBytes {
		kv = wholeUnits(kv)
	}
	o.unesc = unescape(o.unesc[:0], kv)
	o.r.key(o.path, unsafeString(classifiedPart(o.unesc)))
}

// appendKey adds to the current key: its first maxKeyBytes name it in the
// path; past them, the key is also kept as a value is (keyVal, its padding
// dropped), so that a long key is classified like a long value.
func (o *Observer) appendKey(b []byte) {
	if o.keyLong {
		o.keyVal, _ = appendPrefix(o.keyVal, &o.keyLead, b)
		return
	}
	if room := maxKeyBytes - len(o.key); len(b) > room {
		o.keyVal, _ = appendPrefix(append(o.keyVal[:0], o.key...), &o.keyLead, b)
		b = b[:room]
		o.keyLong = true
	}
	o.key = append(o.key, b...)
}

// appendStr adds to the prefix of the current value (appendPrefix). A
// string that runs past its prefix is searched for a private key from
// there on (keySearch), which the classified prefix cannot show.
func (o *Observer) appendStr(b []byte) {
	if o.keys.on {
		o.keys.write(b)
		return
	}
	var rest []byte
	o.str, rest = appendPrefix(o.str, &o.strLead, b)
	if len(rest) > 0 && (o.state == stString || o.state == stStringEsc) && o.r.c != nil {
		o.keys.start(o.str, o.searchesKeys(), &o.text)
		o.keys.write(rest)
	}
}

// searchesKeys reports whether private keys are classified.
func (o *Observer) searchesKeys() bool {
	return o.r.c != nil && o.r.c.builtins.Has(detect.PrivateKey)
}

// appendPrefix adds b to buf, the prefix of a value, up to maxValueBytes,
// and returns the part of b past it. While the prefix is nothing but
// padding (spaces and invisible characters, plain or escaped; *lead is
// set), a full prefix drops it: the classified part of a value starts
// after its padding (classifiedPart), however long the padding is.
func appendPrefix(buf []byte, lead *bool, b []byte) (prefix, rest []byte) {
	for {
		room := maxValueBytes - len(buf)
		if len(b) <= room {
			return append(buf, b...), nil
		}
		buf = append(buf, b[:room]...)
		b = b[room:]
		if !*lead {
			return buf, b
		}
		n := paddingUnits(buf)
		if n < len(buf)-maxEscapeBytes {
			*lead = false // the value starts at n
		}
		if n == 0 {
			return buf, b
		}
		buf = buf[:copy(buf, buf[n:])]
	}
}

// maxEscapeBytes is the longest escape (a surrogate pair, \uXXXX\uXXXX)
// or UTF-8 sequence.
const maxEscapeBytes = 12

// plainRun is the length of the run at the start of b holding no quote and
// no backslash.
func plainRun(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	if bs := bytes.IndexByte(b[:q], '\\'); bs >= 0 {
		return bs
	}
	return q
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// unescape appends the JSON string content raw with its escapes decoded
// (RFC 8259 §7). A broken or cut escape is kept as it is: the result is
// only classified, never forwarded.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		// The run up to the next backslash is copied at once.
		if j := bytes.IndexByte(raw[i:], '\\'); j != 0 {
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
		}
		if i+1 >= len(raw) {
			return append(dst, '\\')
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if r, n := uEscape(raw[i-1:]); n > 0 {
				dst = utf8.AppendRune(dst, r)
				i += n - 2
				continue
			}
			if _, ok := hex4(raw[i+1 : min(i+5, len(raw))]); ok && i+4 < len(raw) {
				// A high surrogate that ends the string: a lone one.
				dst = utf8.AppendRune(dst, utf8.RuneError)
				i += 4
				continue
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, raw[i])
		}
	}
	return dst
}

// unescapePrefix appends the classified part of the JSON string content
// raw (classifiedPart) with its escapes decoded: leading spaces and
// invisible characters, written plain or escaped, are skipped, and
// decoding stops past maxValueBytes, so a long escaped value costs no more
// memory than a short one.
func unescapePrefix(dst, raw []byte) []byte {
	if len(raw) == 0 || raw[0] <= ' ' || raw[0] >= utf8.RuneSelf || raw[0] == '\\' {
		raw = raw[paddingUnits(raw):] // most values start with plain ASCII: no call
	}
	// An escape is at most 6 bytes for at least one byte decoded.
	if len(raw) > 6*maxValueBytes {
		raw = wholeUnits(raw[:6*maxValueBytes])
	}
	return unescape(dst, raw)
}

// wholeUnits is the raw JSON string content b, cut at a length limit,
// without the escape or UTF-8 sequence the cut split: what is classified
// ends at the last whole character, so that a value followed by padding
// long enough to be cut is classified as it would be uncut.
func wholeUnits(b []byte) []byte {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		n := escapeLen(b[i:])
		if n == 0 {
			if len(b)-i < maxEscapeBytes {
				return b[:i] // cut
			}
			n = 2 // broken: kept as it is (unescape)
		}
		i += n
	}
	return wholeRunes(b)
}

// wholeRunes is b, cut at a length limit, without the invalid or partial
// UTF-8 sequence the cut may have left at its end.
func wholeRunes(b []byte) []byte {
	for range utf8.UTFMax - 1 {
		if r, n := utf8.DecodeLastRune(b); r != utf8.RuneError || n != 1 {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

// uEscape decodes the \u escape at the start of b and reports its length,
// 0 when b does not start with a complete one. A UTF-16 surrogate pair
// ("\ud834\udd73") is one character, as JSON decoders read it, so that an
// invisible character outside the BMP (U+E0020 TAG SPACE) is seen as the
// one it is; a lone surrogate is U+FFFD. A high surrogate whose pair may
// be cut at the end of b is not complete.
func uEscape(b []byte) (rune, int) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, 0
	}
	r, ok := hex4(b[2:6])
	switch {
	case !ok:
		return 0, 0
	case !utf16.IsSurrogate(r):
		return r, 6
	case r >= 0xDC00: // a low surrogate first
		return utf8.RuneError, 6
	case len(b) < 12 && (len(b) == 6 || b[6] == '\\' && (len(b) == 7 || b[7] == 'u')):
		return 0, 0 // its pair may follow
	case len(b) >= 12 && b[6] == '\\' && b[7] == 'u':
		if lo, ok := hex4(b[8:12]); ok && lo >= 0xDC00 && lo < 0xE000 {
			return utf16.DecodeRune(r, lo), 12
		}
	}
	return utf8.RuneError, 6
}

// escapeLen is the length of the escape sequence at the start of b (a
// surrogate pair is one), 0 when b does not start with a complete one.
func escapeLen(b []byte) int {
	if len(b) < 2 || b[0] != '\\' {
		return 0
	}
	if b[1] != 'u' {
		return 2
	}
	_, n := uEscape(b)
	return n
}

// paddingUnits is the length of the run at the start of the raw JSON
// string content b of spaces and invisible characters (detect.IsPadding),
// plain or escaped, counting only whole characters and escapes.
func paddingUnits(b []byte) int {
	i := 0
	for i < len(b) {
		if b[i] == '\\' {
			n := escapeLen(b[i:])
			if n == 0 {
				return i
			}
			var r rune
			switch b[i+1] {
			case 'n':
				r = '\n'
			case 't':
				r = '\t'
			case 'r':
				r = '\r'
			case 'f':
				r = '\f'
			case 'b':
				r = '\b' // invisible
			case 'u':
				r, _ = uEscape(b[i:])
			default:
				return i
			}
			if !detect.IsPadding(r) {
				return i
			}
			i += n
			continue
		}
		if b[i] < utf8.RuneSelf || utf8.FullRune(b[i:]) {
			if n := detect.PaddingLen(b[i:]); n > 0 {
				i += n
				continue
			}
		}
		return i
	}
	return i
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}

// numberState follows a JSON number byte by byte in bounded space: its
// first significant digits and where the decimal point falls relative to
// them. A number written over more than maxValueBytes (thousands of zeros
// before an exponent) still reads as the same value to a client; its
// short form, "0.<digits>e<point>", is what is classified then.
type numberState struct {
	sig      [maxSignificant]byte
	nsig     int
	point    int // digits before the decimal point, less the leading zeros
	exp      int
	frac     bool // past the '.'
	inExp    bool
	expNeg   bool
	expDigit bool
	dropped  bool // a significant digit past maxSignificant is not 0
}

// maxSignificant bounds the significant digits kept: more than a card
// number's before the point make a number no card can be, and past 30 no
// digit changes which integer a card-length number rounds to as a float64
// (the halfway points between float64 values from 1e11 on have at most
// 29), but whether any was dropped (dropped) may.
const maxSignificant = 30

// maxExponent bounds the exponent followed; no body can hold the zeros a
// larger one would need to bring digits back to the integer part.
const maxExponent = 1 << 40

func (n *numberState) add(c byte) {
	switch {
	case c == '.':
		n.frac = true
	case c == 'e' || c == 'E':
		n.inExp = true
	case c == '-' && n.inExp:
		n.expNeg = true
	case c < '0' || c > '9':
	case n.inExp:
		if n.exp < maxExponent {
			n.exp = n.exp*10 + int(c-'0')
		}
		n.expDigit = true
	case n.nsig == 0 && c == '0':
		if n.frac {
			n.point-- // a zero after the point before any significant digit
		}
	default:
		if n.nsig < maxSignificant {
			n.sig[n.nsig] = c
			n.nsig++
		} else if c != '0' {
			n.dropped = true
		}
		if !n.frac {
			n.point++
		}
	}
}

// appendText appends the number in the form "0.<digits>e<point>", or "0"
// when it has no significant digit.
func (n *numberState) appendText(dst []byte) []byte {
	if n.nsig == 0 {
		return append(dst, '0')
	}
	exp := n.exp
	if n.expNeg {
		exp = -exp
	}
	dst = append(dst, "0."...)
	dst = append(dst, n.sig[:n.nsig]...)
	if n.dropped {
		dst = append(dst, '1') // rounds as the digits dropped do
	}
	dst = append(dst, 'e')
	return strconv.AppendInt(dst, int64(n.point+exp), 10)
}
