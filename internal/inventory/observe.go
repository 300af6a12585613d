package inventory

import (
	"bytes"
	"unicode/utf8"
)

// Observer follows a JSON response body chunk by chunk, as the chunks pass
// on their way to the client, and records its fields into a Response. It
// keeps no chunk: its state is the nesting (at most 64 levels), the
// current path (at most MaxPathBytes), the current key (at most 65 bytes)
// and the first 1 KiB of the current string, so a response of any size
// costs the same memory. A body that is not JSON, or nests deeper, is
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
	// curKey is the unescaped key of the value being read: a view of key,
	// or of keyBuf when it held escapes, valid until the next key starts.
	curKey string
	keyBuf []byte
	unesc  []byte // a decoded string value
	// str is the prefix of the current string or number value.
	str        []byte
	strEscaped bool
	lit        int // bytes of a literal still expected
	// deepPath counts levels nested below a path over MaxPathBytes.
	overflow bool
}

type frame struct {
	array bool
	base  int
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
				o.key, o.keyEscaped, o.keyLong = o.key[:0], false, false
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
				// The whole string is in this chunk: classify it in place.
				o.record('"', chunk[i:j])
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
		o.record(c, nil)
		if o.depth == maxDepth {
			o.fail()
			return
		}
		o.stack[o.depth] = frame{array: c == '[', base: len(o.path)}
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
		o.curKey = ""
		o.state = stArrFirst
	case c == '"':
		o.str, o.strEscaped = o.str[:0], false
		o.state = stString
	case c == '-' || c >= '0' && c <= '9':
		o.str = append(o.str[:0], c)
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
	if kind == '"' && o.strEscaped {
		o.unesc = unescape(o.unesc[:0], s)
		s = o.unesc
	}
	o.record(kind, s)
	o.afterValue()
}

// record records a value of kind at the current path.
func (o *Observer) record(kind byte, s []byte) {
	if o.overflow {
		o.r.Dropped++
		return
	}
	o.r.value(o.path, o.curKey, kind, s)
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
		o.curKey = ""
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
		// Over 64 bytes: a data key whatever the rest says.
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
}

func (o *Observer) appendKey(b []byte) {
	if room := maxKeyBytes - len(o.key); len(b) > room {
		b = b[:room]
		o.keyLong = true
	}
	o.key = append(o.key, b...)
}

func (o *Observer) appendStr(b []byte) {
	if room := maxValueBytes - len(o.str); len(b) > room {
		b = b[:room]
	}
	o.str = append(o.str, b...)
}

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
		c := raw[i]
		if c != '\\' || i+1 >= len(raw) {
			dst = append(dst, c)
			continue
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
			if i+4 < len(raw) {
				if r, ok := hex4(raw[i+1 : i+5]); ok {
					dst = utf8.AppendRune(dst, r)
					i += 4
					continue
				}
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, raw[i])
		}
	}
	return dst
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
