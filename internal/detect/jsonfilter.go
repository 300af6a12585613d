package detect

import (
	"math"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// CanClassifyJSON is CanClassify for the string that content, a JSON
// string's content as written between its quotes (escapes undecoded, RFC
// 8259 §7), decodes to: false only when Classify must fail for it (a
// name may still make it a class: NameClassifies). It notes what
// canClassify reads of the visible form (its first bytes, its last byte,
// its length, the run of local bytes it starts with, whether it is digits
// and separators only, its runs of dashes) without writing it: most
// values from their ends and counts over the rest (below), others in
// one pass that decodes only escapes and characters outside ASCII, as
// visible reads them. An escaped or non-ASCII value of no class (a name, a
// city) is ruled out as cheaply as a plain one. Content starting
// with anything but a printable ASCII character (what canStart takes
// anyway, or padding a caller may skip), or holding a broken escape, a
// lone surrogate or bytes that are not UTF-8, is a candidate.
//
// Most values are decided here from a few bytes at either end of s and
// counts over the rest, eight bytes at a time (in Wasm every branch taken
// costs a trip through the function's dispatch loop, and a call more):
// they start with a letter no class starts with at their length, hold too
// few bytes that could make dashes for a PEM boundary, and end in a plain
// character. What that does not decide (a digit, a letter a long enough
// value of a class starts with, an escape or a character outside ASCII
// where canStart reads) is read a character at a time
// (canClassifyJSONChars).
func CanClassifyJSON(content string, set Set) bool {
	s := content
	if len(s) == 0 {
		return false
	}
	c := s[0]
	if c <= ' ' || c >= 0x7f || c == '\\' {
		return true
	}
	if quickMaxLen[c] == 0 {
		return canClassifyJSONChars(s, set) // a digit, '"', '$', '-'
	}
	// hi counts the bytes outside ASCII: visible writes at most three for
	// each (a byte that is not UTF-8), one for any other, so the visible
	// string is at most len(s)+2*hi long. dashy counts the bytes that may
	// make a dash: '-', an escape's backslash, the lead byte of a
	// character of three or four bytes, or of the two two-byte dashes
	// (every Unicode dash visible reads as '-' is one of those:
	// TestDashesAreLongCharacters).
	hi, dashy := 0, 0
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := *(*uint64)(unsafe.Pointer(unsafe.StringData(s[i:])))
		hi += bits.OnesCount64(w & msb8)
		dashy += bits.OnesCount64(dashy8(w))
	}
	for ; i < len(s); i++ {
		hi += int(s[i] >> 7)
		dashy += int(jsonUnit[s[i]] & unitDashy >> unitDashyShift)
	}
	if dashy >= len(pemDashes) && set.Has(PrivateKey) || len(s)+2*hi > quickMaxLen[c] {
		return canClassifyJSONChars(s, set)
	}
	if set.Has(IBAN) && isAlpha(c) && len(s)+2*hi >= minIBAN && len(s) > 2 && (jsonUnit[s[1]]&unitVisible == 0 && !plainPair(s, 1) || isAlpha(s[1]) && (jsonUnit[s[2]]&unitVisible == 0 || isDigit(s[2]))) {
		return canClassifyJSONChars(s, set) // the second and third bytes may be a letter and a digit
	}
	// The last character: plain ASCII, an escaped quote, backslash or
	// slash, or a two-byte plainRune (kept, outside ASCII); others are
	// read a character at a time.
	last := s[len(s)-1]
	switch {
	case last >= utf8.RuneSelf:
		if !plainPair(s, len(s)-2) {
			return canClassifyJSONChars(s, set)
		}
	case invisibleASCII(last):
		return canClassifyJSONChars(s, set) // DEL, dropped
	case len(s) >= 6 && s[len(s)-6] == '\\' && s[len(s)-5] == 'u':
		return canClassifyJSONChars(s, set) // \uXXXX, or a look-alike
	case len(s) >= 2 && s[len(s)-2] == '\\':
		k := 1 // the backslashes before last: an odd run escapes it
		for k < len(s)-1 && s[len(s)-2-k] == '\\' {
			k++
		}
		if k%2 == 1 && last != '"' && last != '\\' && last != '/' {
			return canClassifyJSONChars(s, set)
		}
	}
	if last <= ' ' || last >= 0x7f || set.Has(Email) && last == '>' {
		return true
	}
	if set.Has(Email) && isLocalByte(c) {
		// The run of local bytes c starts ends at '@' or not.
		j := 1
		for j < len(s) && jsonUnit[s[j]]&unitLocal != 0 {
			j++
		}
		switch {
		case j == len(s):
		case s[j] == '@':
			return true
		case jsonUnit[s[j]]&unitVisible == 0 && !plainPair(s, j):
			return canClassifyJSONChars(s, set)
		}
	}
	return false
}

// plainPair reports whether s[i:i+2] is a two-byte plainRune that needs no
// decoding to be told one: U+00C0 to U+057F (lead bytes C3 to D5) but
// U+017F (ſ), the spacing modifier letters and combining marks (U+02B0 to
// U+036F, U+0483 to U+0489), U+037E and U+0387. Hebrew and the rest of
// Armenian (D6, D7), where the two dashes plainRune leaves out are, take
// the decoding path.
func plainPair(s string, i int) bool {
	if i < 0 || i+1 >= len(s) || s[i] < 0xC3 || s[i] > 0xD5 || s[i+1]&0xC0 != 0x80 {
		return false
	}
	u := uint16(s[i])<<8 | uint16(s[i+1])
	return (u < 0xCAB0 || u >= 0xCDB0) && u != 0xC5BF && u != 0xCDBE && u != 0xCE87 && (u < 0xD283 || u > 0xD289)
}

// quickMaxLen is, by first byte, the longest visible string CanClassifyJSON
// decides: one shorter than the shortest value of a class starting with
// that byte that canStart measures (a JWT, a bearer token, an API key, a
// password hash, "mailto:"); 0 where it does not decide (a digit, a
// quoted local part, a hash's '$', a dash).
var quickMaxLen = func() (t [256]int) {
	for c := range t {
		b := byte(c)
		m := math.MaxInt
		if b == 'e' {
			m = min(m, len("eyJ0000.0"))
		}
		if b == 'B' || b == 'b' {
			m = min(m, len("bearer ")+minBearerToken)
		}
		if b == 'p' || b == 'a' || b == 'b' || b == 's' {
			m = min(m, minHashLen)
		}
		if b == 'm' || b == 'M' {
			m = min(m, len("mailto:"))
		}
		if apiKeyMinLen[b] > 0 {
			m = min(m, apiKeyMinLen[b])
		}
		t[c] = m - 1
		if isDigit(b) || b == '"' || b == '$' || b == '-' {
			t[c] = 0
		}
	}
	return t
}()

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// dashy8 has the high bit set in every byte of v that is a dash, a
// backslash, the lead byte of a two-byte dash (CB: the modifier letter
// minus; D6, D7: the Armenian hyphen, the Hebrew maqaf; with CA and the
// other of each pair) or the lead byte of a character of three or four
// bytes, and maybe in a few others (the borrow of the "has a zero byte"
// test of Bit Twiddling Hacks): a count of them is never short.
func dashy8(v uint64) uint64 {
	backslash := v ^ (lsb8 * '\\')
	dash := v ^ (lsb8 * '-')
	hebrew := (v | lsb8) ^ (lsb8 * 0xD7)   // zero where v is D6 or D7
	modifier := (v | lsb8) ^ (lsb8 * 0xCB) // zero where v is CA or CB
	return ((backslash-lsb8)&^backslash | (dash-lsb8)&^dash | (hebrew-lsb8)&^hebrew | (modifier-lsb8)&^modifier | v&(v<<1)&(v<<2)) & msb8
}

// canClassifyJSONChars is CanClassifyJSON read a character at a time (s
// starts with a printable ASCII character, not a backslash).
func canClassifyJSONChars(s string, set Set) bool {
	c := s[0]
	var (
		n         int     // the visible string's length
		head      [8]byte // its first bytes (nonASCII for those of a character outside ASCII, 0 past its end)
		last      byte
		dashes    int  // the run of dashes it ends with, so far
		pem       bool // it holds pemDashes
		localRun  = true
		localAt   bool // the run of local bytes it starts with ends at '@'
		digitTail = uint8(unitDigitTail)
	)
	// The first bytes canStart reads (three, seven for "mailto:", all of
	// a card number or an SSN), a character at a time.
	k := 3
	switch {
	case c == 'm' || c == 'M':
		k = len("mailto:")
	case isDigit(c):
		k = len(s)
	}
	i := 0
	for i < len(s) && n < k {
		b := s[i]
		size, width := 1, 1 // bytes of s read, bytes of the visible string written
		if jsonUnit[b]&unitVisible == 0 {
			if b, size, width = jsonCharAt(s, i); size == 0 {
				return true // broken, a lone surrogate, not UTF-8
			}
			if width == 0 {
				i += size // invisible: dropped, a run of dashes goes on
				continue
			}
		}
		i += size
		for j := n; j < min(n+width, len(head)); j++ {
			head[j] = b
		}
		if n > 0 {
			digitTail &= jsonUnit[b]
		}
		n += width
		last = b
		if b != '-' {
			dashes = 0
		} else if dashes++; dashes >= len(pemDashes) {
			pem = true
		}
		if localRun && jsonUnit[b]&unitLocal == 0 {
			localRun, localAt = false, b == '@'
		}
	}
	if localRun && set.Has(Email) && isLocalByte(c) {
		// The run of local bytes goes on past them, to the first
		// character that is not one (invisible ones aside): '@' or not.
		for j := i; j < len(s); {
			b, size := s[j], 1
			if jsonUnit[b]&unitLocal != 0 {
				j++
				continue
			}
			if jsonUnit[b]&unitVisible == 0 {
				width := 0
				if b, size, width = jsonCharAt(s, j); size == 0 {
					return true
				}
				if width == 0 || jsonUnit[b]&unitLocal != 0 {
					j += size
					continue
				}
			}
			localAt = b == '@'
			break
		}
	}
	// Past them only the length, the last byte and the dashes count: plain
	// bytes (ASCII, neither a dash nor a backslash), most of a value, are
	// skipped eight at a time, then one at a time (in Wasm every branch
	// taken costs a trip through the function's dispatch loop).
	n += len(s) - i // less what escapes and characters outside ASCII shorten
	for i < len(s) {
		j := i
		for j+8 <= len(s) {
			m := specialJSON8(*(*uint64)(unsafe.Pointer(unsafe.StringData(s[j:]))))
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		for j < len(s) && jsonUnit[s[j]]&unitPlain != 0 {
			j++
		}
		if j > i {
			last, dashes, i = s[j-1], 0, j
			if i == len(s) {
				break
			}
		}
		b := s[i]
		size, width := 1, 1
		switch {
		case b == '-':
		case plainPair(s, i):
			// A two-byte plainRune (as in visible): kept.
			b, size, width = nonASCII, 2, 2
		case b == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == '/'):
			b, size = s[i+1], 2
			n--
		default:
			if b, size, width = jsonCharAt(s, i); size == 0 {
				return true // broken, a lone surrogate, not UTF-8
			}
			n -= size - width
		}
		i += size
		if width == 0 {
			continue // invisible: dropped, a run of dashes goes on
		}
		last = b
		if b != '-' {
			dashes = 0
		} else if dashes++; dashes >= len(pemDashes) {
			pem = true
		}
	}
	// canClassify (canStart, and pemDashes anywhere) on what was noted.
	pem = pem && set.Has(PrivateKey)
	if last <= ' ' || last >= 0x7f {
		return true
	}
	if set.Has(Email) && (c == '"' || last == '>' || (c == 'm' || c == 'M') && n >= len("mailto:") && foldPrefix(head[:], 0, "mailto:")) {
		return true
	}
	if set.Has(Email) && isLocalByte(c) && localAt {
		return true
	}
	switch {
	case isDigit(c):
		return pem || (set.Has(CardNumber) || set.Has(SSN)) && n >= len("AAA-GG-SSSS") && digitTail != 0
	case c == '$':
		return pem || set.Has(PasswordHash)
	case c == '-':
		return set.Has(PrivateKey) || set.Has(CardNumber) && n > 1 && isDigit(head[1])
	case !isAlpha(c):
		return pem
	}
	return pem || c == 'e' && set.Has(JWT) && n >= len("eyJ0000.0") ||
		(c == 'B' || c == 'b') && set.Has(BearerToken) && n >= len("bearer ")+minBearerToken ||
		apiKeyMinLen[c] > 0 && set.Has(APIKey) && n >= apiKeyMinLen[c] ||
		(c == 'p' || c == 'a' || c == 'b' || c == 's') && set.Has(PasswordHash) && n >= minHashLen ||
		set.Has(IBAN) && n >= minIBAN && isAlpha(head[1]) && isDigit(head[2])
}

// Bits of jsonUnit: what a byte of the visible string is to canStart.
const (
	unitLocal     = 1 << iota // isLocalByte
	unitDigitTail             // a digit, a group separator, 'e', 'E' or '+' (canStart's card or SSN)
	unitPlain                 // plain ASCII (not an invisible control), neither a dash nor a backslash: the visible byte is itself and ends a run of dashes
	unitDashy                 // a dash, a backslash, a lead byte CA, CB, D6 or D7, or the lead byte of a character of three or four bytes (dashy8)
	unitVisible               // plain ASCII, not a backslash: the visible byte is itself
)

const unitDashyShift = 3

var jsonUnit = func() (t [256]uint8) {
	for c := range t {
		b := byte(c)
		if isLocalByte(b) {
			t[c] |= unitLocal
		}
		if isDigit(b) || isGroupSeparator(b) || b == 'e' || b == 'E' || b == '+' {
			t[c] |= unitDigitTail
		}
		if b < utf8.RuneSelf && !invisibleASCII(b) && b != '\\' {
			t[c] |= unitVisible
			if b != '-' {
				t[c] |= unitPlain
			}
		}
		if b == '-' || b == '\\' || b == 0xCA || b == 0xCB || b == 0xD6 || b == 0xD7 || b >= 0xE0 {
			t[c] |= unitDashy
		}
	}
	return t
}()

// nonASCII stands for a byte of a character outside ASCII in the visible
// string: canStart reads none of them as anything it looks for.
const nonASCII = 0x80

// jsonCharAt reads the escape, the character outside ASCII or the
// invisible control character at s[i] and returns what visible makes of
// it: the byte it reads as (nonASCII for a character it keeps outside
// ASCII), the bytes of s read (0: an escape that is broken or a lone
// surrogate, or a byte that is not UTF-8) and the bytes it writes (0: an
// invisible character, dropped).
func jsonCharAt(s string, i int) (b byte, size, width int) {
	var r rune
	switch c := s[i]; {
	case c == '\\':
		if i+1 >= len(s) {
			return 0, 0, 0
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			return e, 2, 1
		case 'b':
			return 0, 2, 0 // a backspace: invisible
		case 'f':
			return '\f', 2, 1
		case 'n':
			return '\n', 2, 1
		case 'r':
			return '\r', 2, 1
		case 't':
			return '\t', 2, 1
		case 'u':
		default:
			return 0, 0, 0
		}
		var ok bool
		if r, ok = hex4At(s, i+2); !ok {
			return 0, 0, 0
		}
		size = 6
		if r >= 0xD800 && r < 0xE000 {
			lo, ok := rune(0), false
			if r < 0xDC00 && i+7 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				lo, ok = hex4At(s, i+8)
			}
			if !ok || lo < 0xDC00 || lo >= 0xE000 {
				return 0, 0, 0 // a lone surrogate
			}
			r, size = 0x10000+(r-0xD800)<<10+(lo-0xDC00), 12
		}
	case c < utf8.RuneSelf:
		r, size = rune(c), 1
	case plainPair(s, i):
		return nonASCII, 2, 2 // a plainRune (as in visible)
	default:
		r, size = utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, 0, 0
		}
	}
	switch v := VisibleRune(r); {
	case v < 0:
		return 0, size, 0
	case v < utf8.RuneSelf:
		return byte(v), size, 1
	default:
		return nonASCII, size, utf8.RuneLen(v)
	}
}

// hex4At reads the four hexadecimal digits at s[i].
func hex4At(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// specialJSON8 has the high bit set in the lowest byte of v that is a
// backslash, a dash, outside ASCII, a control character or DEL (the "has
// a zero byte" and "has a byte less than n" tests of Bit Twiddling Hacks,
// as respfilter's special8); bytes above it may be flagged wrongly by a
// borrow or a carry.
func specialJSON8(v uint64) uint64 {
	backslash := v ^ (lsb8 * '\\')
	dash := v ^ (lsb8 * '-')
	return ((backslash-lsb8)&^backslash | (dash-lsb8)&^dash | v | (v + lsb8) | (v-lsb8*' ')&^v) & msb8
}
