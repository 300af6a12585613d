package respfilter

import (
	"math/bits"
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
	if end := stringEnd(doc, i); end >= 0 {
		return end, false
	}
	return scanEscaped(doc, i)
}

// scanEscaped is scanString's general case.
func scanEscaped(doc []byte, i int) (int, bool) {
	escaped := false
	for {
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

// skipValue validates the value at r.pos, containers and all, without
// recursion, and moves r.pos past it. Its nesting counts from r.depth.
//
// It is the filter's hottest loop (every removed value, every value kept
// whole), and it is shaped for Go's Wasm backend, where every taken jump
// goes through the function's dispatch table and every call costs more than
// a short token: compact JSON (`{"key":value,...}`, `[value,...]`) takes
// straight paths that read up to eight bytes at a time (a key and its
// colon, a string, a run of digits, a literal as one 32-bit word), and
// whitespace, escapes, long numbers and exponents take general paths,
// mostly out of line. r.pos is not whitespace (the callers skip it).
func (r *filterRun) skipValue() {
	doc := r.doc
	i := r.pos
	depth := r.depth
	stack := r.stack[:0] // '{' or '[' per open container
	top := byte(0)       // stack's last entry, 0 when it is empty
	key := false         // a member key comes next (after '{' or ',')
value:
	for {
		if key {
			// `"key":`, a key of up to seven bytes without escapes,
			// at least eleven bytes before the document's end, is
			// read with one word (after the indentation, and with one
			// space after the colon, of indented JSON); memberValue
			// judges everything else.
			key = false
			if i < len(doc) && doc[i] <= ' ' {
				i = skipSpace(doc, i) // indented JSON
			}
			if i+11 <= len(doc) && doc[i] == '"' {
				if m := special8(load64(doc, i+1)); m != 0 {
					if q := i + 1 + bits.TrailingZeros64(m)>>3; doc[q] == '"' && doc[q+1] == ':' {
						if i = q + 2; doc[i] == ' ' {
							i++ // `"key": value`
						}
						goto scalar
					}
				}
			}
			if i = memberValue(doc, i); i < 0 {
				break
			}
		}
	scalar:
		if i >= len(doc) {
			break
		}
		switch c := doc[i]; {
		case c == '"':
			if j := stringEnd(doc, i+1); j >= 0 {
				i = j
			} else if i, _ = scanEscaped(doc, i+1); i < 0 {
				break value
			}
		case c-'0' <= 9:
			i = numberEnd(doc, i)
		case c == '{' || c == '[':
			if depth++; depth > r.maxDepth {
				r.err = errDepth
				r.stack = stack
				return
			}
			if i++; i < len(doc) && doc[i] <= ' ' {
				i = skipSpace(doc, i)
			}
			if i < len(doc) && doc[i] == c+2 { // '}' or ']'
				i++
				depth--
				break
			}
			stack = append(stack, c)
			top = c
			key = c == '{'
			continue
		case c == 't':
			if i+4 > len(doc) || load32(doc, i) != lit4("true") {
				break value
			}
			i += 4
		case c == 'f':
			if i+5 > len(doc) || load32(doc, i+1) != lit4("alse") {
				break value
			}
			i += 5
		case c == 'n':
			if i+4 > len(doc) || load32(doc, i) != lit4("null") {
				break value
			}
			i += 4
		case c == '-':
			i = scanNumber(doc, i)
		case isSpace(c) && top != 0:
			// After a colon, a comma or a '['.
			i = skipSpace(doc, i)
			continue
		default:
			break value
		}
		if i < 0 {
			break
		}
		// After a value: close containers until one continues.
		for top != 0 {
			if i >= len(doc) {
				break value
			}
			switch c := doc[i]; c {
			case ',':
				i++
				key = top == '{'
				continue value
			case top + 2:
				stack = stack[:len(stack)-1]
				if top = 0; len(stack) > 0 {
					top = stack[len(stack)-1]
				}
				depth--
				i++
			case ' ', '\t', '\n', '\r':
				i = skipSpace(doc, i)
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

// memberValue returns the index of the value of the member at doc[i]:
// `ws "key" ws : ws`, or -1 if that is not what is there. It is skipValue's
// general path, out of line so that skipValue stays small.
func memberValue(doc []byte, i int) int {
	if i = skipSpace(doc, i); i >= len(doc) || doc[i] != '"' {
		return -1
	}
	if i, _ = scanString(doc, i+1); i < 0 {
		return -1
	}
	if i = skipSpace(doc, i); i >= len(doc) || doc[i] != ':' {
		return -1
	}
	return skipSpace(doc, i+1)
}

// numberEnd returns the index after the number starting at doc[i] (a
// digit), or -1 if it is not a JSON number. An integer or a decimal
// fraction of up to seven digits each, at least sixteen bytes before the
// document's end, is read a word at a time; scanNumber judges the rest.
func numberEnd(doc []byte, i int) int {
	if i+16 > len(doc) {
		return scanNumber(doc, i)
	}
	n := 1 // a leading 0 is the whole integer part
	if doc[i] != '0' {
		if n = digits8(load64(doc, i)); n == 8 {
			return scanNumber(doc, i)
		}
	}
	j := i + n
	if doc[j] == '.' {
		if f := digits8(load64(doc, j+1)); f > 0 && f < 8 {
			j += 1 + f
		} else {
			return scanNumber(doc, i)
		}
	}
	if doc[j]|0x20 == 'e' {
		return scanNumber(doc, i)
	}
	return j
}

// digits8 returns how many of the eight bytes of v, from the lowest, are
// ASCII digits before the first that is not.
func digits8(v uint64) int {
	// Digits become 0..9; a byte that is not a digit has a bit in its high
	// nibble, or a low nibble of 10..15 that adding 6 carries into the high
	// nibble (within the byte: no borrow or carry crosses bytes).
	t := v ^ (lsb8 * '0')
	return bits.TrailingZeros64((t|(t&(lsb8*0x0f)+lsb8*0x06))&(lsb8*0xf0)) >> 3
}

// load64 reads doc[i:i+8] as a little-endian word (Wasm and the usual
// native targets are little-endian); the caller checks i+8 <= len(doc).
func load64(doc []byte, i int) uint64 { return *(*uint64)(unsafe.Pointer(&doc[i])) }

// load32 reads doc[i:i+4] as load64 does; the caller checks i+4 <= len(doc).
func load32(doc []byte, i int) uint32 { return *(*uint32)(unsafe.Pointer(&doc[i])) }

// lit4 is the word load32 reads where s (four bytes) is.
func lit4(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
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

// value filters the value at r.pos, which the allowlist n reaches at the
// position id at (-1 when the path to it varies: node).
func (r *filterRun) value(n *node, at int32) {
	if r.pos >= len(r.doc) {
		r.syntax()
		return
	}
	switch c := r.doc[r.pos]; {
	case n.keep && r.insp != nil:
		r.keepInspected(at, len(r.path), r.valueKey, true)
	case n.keep:
		start := r.pos
		if r.skipValue(); r.err == nil {
			r.out = append(r.out, r.doc[start:r.pos]...)
		}
	case c == '{':
		r.object(n, at)
	case c == '[':
		r.array(n, at)
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

func (r *filterRun) object(n *node, at int32) {
	if !r.enter() {
		return
	}
	doc := r.doc
	r.out = append(r.out, '{')
	parentLen := len(r.path)
	// pos is r.pos, kept in a local between the calls that read it.
	pos := r.pos
	if pos < len(doc) && doc[pos] == '}' {
		r.pos = pos + 1
		r.depth--
		r.out = append(r.out, '}')
		return
	}
	first := true
	for {
		if pos >= len(doc) || doc[pos] != '"' {
			r.syntax()
			return
		}
		keyStart := pos
		end, escaped := stringEnd(doc, pos+1), false
		if end < 0 {
			if end, escaped = scanEscaped(doc, pos+1); end < 0 {
				r.syntax()
				return
			}
		}
		keyRaw := doc[keyStart:end]
		pos = skipSpace(doc, end)
		if pos >= len(doc) || doc[pos] != ':' {
			r.syntax()
			return
		}
		if pos = skipSpace(doc, pos+1); pos >= len(doc) {
			r.syntax()
			return
		}
		key := memberKey(keyRaw, escaped)
		c, cat := n.memberAt(key, at)
		r.pos = pos
		switch {
		case c != nil && c.keep && r.insp != nil:
			if bit := kindQuiet[doc[pos]]; cat >= 0 && r.quieted[cat]&quietKey != 0 && r.quieted[cat]&bit != 0 {
				// A key and a kind of scalar the Inspector need not see
				// again at this position (cat >= 0: c is named, on a
				// fixed path): copied as without an Inspector, unless
				// too long to go unshown.
				if r.quietKept(cat, bit, pos) {
					out := r.sep(first)
					out = append(out, keyRaw...)
					out = append(out, ':')
					r.out = append(out, doc[pos:r.pos]...)
					first = false
					break
				}
				if r.err != nil {
					return
				}
				r.pos = pos
			} else if doc[pos] == '[' && cat >= 0 && r.quieted[cat]&(quietKey|quietArray) == quietKey|quietArray && r.quietElements(cat, pos) {
				// An array (tags, ids) whose elements are all quiet
				// at its element site: kept as a quiet scalar is.
				out := r.sep(first)
				out = append(out, keyRaw...)
				out = append(out, ':')
				r.out = append(out, doc[pos:r.pos]...)
				first = false
				break
			}
			r.out = r.sep(first)
			if !r.keyShown(cat) {
				r.out = append(r.out, keyRaw...)
			} else if !r.writeKey(keyRaw, key, parentLen, cat) {
				return
			}
			r.out = append(r.out, ':')
			first = false
			// keepInspected by hand: a call less per kept member.
			if r.setKept(cat, parentLen, key, false); doc[pos] != '{' && doc[pos] != '[' {
				r.inspectScalar()
			} else {
				r.inspectValue()
			}
			if r.err != nil {
				return
			}
			r.out = append(r.out, doc[r.copied:r.pos]...)
		case c != nil && c.keep:
			if r.skipValue(); r.err != nil {
				return
			}
			out := r.sep(first)
			out = append(out, keyRaw...)
			out = append(out, ':')
			r.out = append(out, doc[pos:r.pos]...)
			first = false
		case c == nil || (doc[pos] != '{' && doc[pos] != '['):
			if r.skipValue(); r.err != nil {
				return
			}
			if at < 0 || !r.memoized(at, key) {
				r.dropMember(at, parentLen, key)
			}
			if r.mask != nil {
				r.out = r.sep(first)
				if !r.keyShown(cat) {
					r.out = append(r.out, keyRaw...)
				} else if !r.writeKey(keyRaw, key, parentLen, cat) {
					return
				}
				r.out = append(r.out, ':')
				r.writeReplacement(r.mask)
				first = false
			}
		default:
			r.out = r.sep(first)
			if !r.keyShown(cat) {
				r.out = append(r.out, keyRaw...)
			} else if !r.writeKey(keyRaw, key, parentLen, cat) {
				return
			}
			r.out = append(r.out, ':')
			r.path = r.pushKey(parentLen, key)
			r.valueKey = key
			if r.value(c, cat); r.err != nil {
				return
			}
			first = false
		}
		// A comma right after the value (compact JSON) is taken here; next
		// judges the rest.
		if pos = r.pos; pos < len(doc) && doc[pos] == ',' {
			pos = skipSpace(doc, pos+1)
			continue
		}
		if !r.next('}', parentLen) {
			return
		}
		pos = r.pos
	}
}

func (r *filterRun) array(n *node, at int32) {
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
	c, cat := n.anyElem, n.elemAt(at)
	key := r.valueKey // the elements are judged under the array's name
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
			r.valueKey = key
			if r.value(c, cat); r.err != nil {
				return
			}
			first = false
		}
		// A comma right after the value (compact JSON) is taken here; next
		// judges the rest.
		if p := r.pos; p < len(doc) && doc[p] == ',' {
			r.pos = skipSpace(doc, p+1)
			continue
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

// stringEnd returns the index after the closing quote of the string whose
// content starts at doc[i] if it holds no escape and ends at least 8 bytes
// before the document does, else -1: scanEscaped then judges it. It tests
// eight bytes per step and finds the first special one with a count of
// trailing zeros (one instruction in Wasm), and is small enough to be
// inlined, which matters in Wasm, where a call costs more than a short key.
func stringEnd(doc []byte, i int) int {
	for i+8 <= len(doc) {
		if m := special8(*(*uint64)(unsafe.Pointer(&doc[i]))); m != 0 {
			if i += bits.TrailingZeros64(m) >> 3; doc[i] == '"' {
				return i + 1
			}
			return -1
		}
		i += 8
	}
	return -1
}

// special8 has the high bit set in the lowest byte of v that is '"', '\\'
// or below 0x20 (the "has a byte less than n" and "has a zero byte" tests of
// Bit Twiddling Hacks). Bytes above the lowest such byte may be flagged
// wrongly by the borrow; the lowest flag is exact.

func special8(v uint64) uint64 {
	quote := v ^ (lsb8 * '"')
	backslash := v ^ (lsb8 * '\\')
	return ((quote-lsb8)&^quote | (backslash-lsb8)&^backslash | (v-lsb8*0x20)&^v) & msb8
}
