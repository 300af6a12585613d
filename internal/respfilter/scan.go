package respfilter

import (
	"unsafe"

	"github.com/tidwall/gjson"
)

// The filter reads each byte of a document once: one pass validates the
// JSON, tracks the nesting depth, decides every member against the
// allowlist, and copies what survives as whole spans of the input. Nothing
// is decoded except member keys that contain escapes (they are compared
// after unescaping, through gjson so the rules are gjson's). Values that are
// kept or removed whole are only validated, never parsed.
//
// The accepted language is exactly gjson.ValidBytes' (RFC 8259 without a
// UTF-8 check: bytes >= 0x80 are taken as they come), and the failures are
// exactly those of the gjson-based reference kept in the tests (a depth check
// of the whole text first, then validation): a depth excess found on a
// valid prefix is one the reference's depthWithin finds too, and on a syntax
// error depthWithin over the whole text decides between depth and
// malformed. FuzzFilterMatchesReference checks this.

// strPlain marks the bytes a string scan steps over: everything but the
// quote, the backslash and control characters.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// syntax records that the document is not valid JSON.
func (r *filterRun) syntax() {
	if r.err == nil {
		r.err = errMalformed
	}
}

// skipSpace moves r.pos past JSON whitespace.
func (r *filterRun) skipSpace() {
	r.pos = skipSpace(r.doc, r.pos)
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && isSpace(doc[i]) {
		i++
	}
	return i
}

// scanString returns the index after the closing quote of the string whose
// content starts at doc[i], and whether the string holds an escape; -1 when
// the string is invalid or unterminated.
func scanString(doc []byte, i int) (int, bool) {
	escaped := false
	for {
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character (one 64-bit load each in Wasm), then byte by byte.
		for i+8 <= len(doc) && plain8(*(*uint64)(unsafe.Pointer(&doc[i]))) {
			i += 8
		}
		for i < len(doc) && strPlain[doc[i]] {
			i++
		}
		if i >= len(doc) {
			return -1, false
		}
		switch doc[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			i++
			if i >= len(doc) {
				return -1, false
			}
			switch doc[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(doc) || !isHex(doc[i+1]) || !isHex(doc[i+2]) || !isHex(doc[i+3]) || !isHex(doc[i+4]) {
					return -1, false
				}
				i += 5
			default:
				return -1, false
			}
		default: // a control character
			return -1, false
		}
	}
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in v is '"', '\\' or below
// 0x20 (the "has a byte less than n" and "has a zero byte" tests of Bit
// Twiddling Hacks; exact as to whether such a byte exists).
func plain8(v uint64) bool {
	quote := v ^ (lsb8 * '"')
	backslash := v ^ (lsb8 * '\\')
	hit := (quote-lsb8) & ^quote | (backslash-lsb8) & ^backslash | (v-lsb8*0x20) & ^v
	return hit&msb8 == 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber returns the index after the number starting at doc[i] ('-' or a
// digit), or -1 if it is not a JSON number. What may follow is the caller's
// check.
func scanNumber(doc []byte, i int) int {
	if doc[i] == '-' {
		i++
		if i >= len(doc) || !isDigit(doc[i]) {
			return -1
		}
	}
	if doc[i] == '0' {
		i++
	} else {
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if i >= len(doc) || !isDigit(doc[i]) {
			return -1
		}
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if i >= len(doc) || !isDigit(doc[i]) {
			return -1
		}
		for i < len(doc) && isDigit(doc[i]) {
			i++
		}
	}
	return i
}

// scanLiteral returns the index after lit if doc[i:] starts with it, else -1.
func scanLiteral(doc []byte, i int, lit string) int {
	if len(doc)-i < len(lit) || string(doc[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanMemberKey checks `"key" ws : ws` at doc[i] and returns the index of
// the value, or -1.
func scanMemberKey(doc []byte, i int) int {
	if i >= len(doc) || doc[i] != '"' {
		return -1
	}
	i, _ = scanString(doc, i+1)
	if i < 0 {
		return -1
	}
	i = skipSpace(doc, i)
	if i >= len(doc) || doc[i] != ':' {
		return -1
	}
	return skipSpace(doc, i+1)
}

// skipValue validates the value at r.pos, containers and all, without
// recursion, and moves r.pos past it. Its nesting counts from r.depth.
func (r *filterRun) skipValue() {
	doc := r.doc
	i := r.pos
	depth := r.depth
	stack := r.stack[:0] // '{' or '[' per open container
value:
	for {
		if i >= len(doc) {
			break
		}
		switch doc[i] {
		case '"':
			if i, _ = scanString(doc, i+1); i < 0 {
				break value
			}
		case '{', '[':
			open := doc[i]
			if depth++; depth > r.maxDepth {
				r.err = errDepth
				r.stack = stack
				return
			}
			if i = skipSpace(doc, i+1); i < len(doc) && doc[i] == open+2 { // '}' or ']'
				i++
				depth--
				break
			}
			stack = append(stack, open)
			if open == '{' {
				if i = scanMemberKey(doc, i); i < 0 {
					break value
				}
			}
			continue
		case 't':
			i = scanLiteral(doc, i, "true")
		case 'f':
			i = scanLiteral(doc, i, "false")
		case 'n':
			i = scanLiteral(doc, i, "null")
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			i = scanNumber(doc, i)
		default:
			break value
		}
		if i < 0 {
			break
		}
		// After a value: close containers until one continues.
		for len(stack) > 0 {
			if i = skipSpace(doc, i); i >= len(doc) {
				break value
			}
			top := stack[len(stack)-1]
			switch doc[i] {
			case ',':
				i = skipSpace(doc, i+1)
				if top == '{' {
					if i = scanMemberKey(doc, i); i < 0 {
						break value
					}
				}
				continue value
			case top + 2:
				stack = stack[:len(stack)-1]
				depth--
				i++
			default:
				break value
			}
		}
		r.pos = i
		r.stack = stack
		return
	}
	r.stack = stack
	r.syntax()
}

// enter opens the container at r.pos, counting its depth.
func (r *filterRun) enter() bool {
	if r.depth++; r.depth > r.maxDepth {
		r.err = errDepth
		return false
	}
	r.pos = skipSpace(r.doc, r.pos+1)
	return true
}

// value filters the value at r.pos, which the allowlist n reaches.
func (r *filterRun) value(n *node) {
	if r.pos >= len(r.doc) {
		r.syntax()
		return
	}
	switch c := r.doc[r.pos]; {
	case n.keep:
		start := r.pos
		if r.skipValue(); r.err == nil {
			r.out = append(r.out, r.doc[start:r.pos]...)
		}
	case c == '{':
		r.object(n)
	case c == '[':
		r.array(n)
	default:
		// A scalar where the allowlist only names deeper fields (or the
		// document itself is a scalar): it is not allowed.
		if r.skipValue(); r.err != nil {
			return
		}
		r.drop()
		if r.mask != nil {
			r.writeReplacement(r.mask)
		} else {
			r.writeReplacement(nullJSON)
		}
	}
}

// memberKey returns the key of a member as the allowlist compares it: the
// raw bytes between the quotes, unescaped by gjson when they hold escapes.
// The unescaped view aliases the document.
func memberKey(raw []byte, escaped bool) string {
	if escaped {
		return gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw))).Str
	}
	return unsafe.String(unsafe.SliceData(raw[1:]), len(raw)-2)
}

func (r *filterRun) object(n *node) {
	if !r.enter() {
		return
	}
	doc := r.doc
	r.out = append(r.out, '{')
	parentLen := len(r.path)
	if r.pos < len(doc) && doc[r.pos] == '}' {
		r.pos++
		r.depth--
		r.out = append(r.out, '}')
		return
	}
	first := true
	for {
		if r.pos >= len(doc) || doc[r.pos] != '"' {
			r.syntax()
			return
		}
		keyStart := r.pos
		end, escaped := scanString(doc, r.pos+1)
		if end < 0 {
			r.syntax()
			return
		}
		keyRaw := doc[keyStart:end]
		r.pos = skipSpace(doc, end)
		if r.pos >= len(doc) || doc[r.pos] != ':' {
			r.syntax()
			return
		}
		if r.pos = skipSpace(doc, r.pos+1); r.pos >= len(doc) {
			r.syntax()
			return
		}
		key := memberKey(keyRaw, escaped)
		c := n.member(key)
		switch {
		case c != nil && c.keep:
			start := r.pos
			if r.skipValue(); r.err != nil {
				return
			}
			r.out = r.sep(first)
			r.out = append(r.out, keyRaw...)
			r.out = append(r.out, ':')
			r.out = append(r.out, doc[start:r.pos]...)
			first = false
		case c == nil || (doc[r.pos] != '{' && doc[r.pos] != '['):
			if r.skipValue(); r.err != nil {
				return
			}
			r.dropMember(n, parentLen, key)
			if r.mask != nil {
				r.out = r.sep(first)
				r.out = append(r.out, keyRaw...)
				r.out = append(r.out, ':')
				r.writeReplacement(r.mask)
				first = false
			}
		default:
			r.out = r.sep(first)
			r.out = append(r.out, keyRaw...)
			r.out = append(r.out, ':')
			r.path = r.pushKey(parentLen, key)
			if r.value(c); r.err != nil {
				return
			}
			first = false
		}
		if !r.next('}', parentLen) {
			return
		}
	}
}

func (r *filterRun) array(n *node) {
	if !r.enter() {
		return
	}
	doc := r.doc
	r.out = append(r.out, '[')
	if r.pos < len(doc) && doc[r.pos] == ']' {
		r.pos++
		r.depth--
		r.out = append(r.out, ']')
		return
	}
	parentLen := len(r.path)
	r.path = r.pushSeg(parentLen, "#")
	c := n.anyElem
	recorded := false // every element has the same path
	first := true
	for {
		if r.pos >= len(doc) {
			r.syntax()
			return
		}
		if c == nil || (!c.keep && doc[r.pos] != '{' && doc[r.pos] != '[') {
			if r.skipValue(); r.err != nil {
				return
			}
			if recorded {
				r.count()
			} else {
				r.drop()
				recorded = true
			}
			if r.mask != nil {
				r.out = r.sep(first)
				r.writeReplacement(r.mask)
				first = false
			}
		} else {
			r.out = r.sep(first)
			if r.value(c); r.err != nil {
				return
			}
			first = false
		}
		if !r.next(']', parentLen) {
			return
		}
	}
}

// next reads what follows a member or an element: a comma (true: another
// follows) or the container's close (false; the container is closed in the
// output too). Anything else is a syntax error (false).
func (r *filterRun) next(close byte, parentLen int) bool {
	doc := r.doc
	if r.pos = skipSpace(doc, r.pos); r.pos >= len(doc) {
		r.syntax()
		return false
	}
	switch doc[r.pos] {
	case ',':
		r.pos = skipSpace(doc, r.pos+1)
		return true
	case close:
		r.pos++
		r.depth--
		r.path = r.path[:parentLen]
		r.out = append(r.out, close)
		return false
	}
	r.syntax()
	return false
}
