package route

import "strings"

// Byte classes, one table lookup per byte where a chain of comparisons
// would take a pass through the dispatch loop of Go's Wasm code per branch
// (README "Benchmarks"). Each class is built from the predicate it stands
// for, so the two cannot disagree.
const (
	// classPath: isPathChar's set (RFC 3986 pchar without escapes and ';').
	classPath uint8 = 1 << iota
	// classHost: what CanonicalAuthority accepts in a host name
	// (unreserved and sub-delims).
	classHost
	// classToken: an RFC 9110 tchar.
	classToken
	// classQuery: a query byte checkQuery passes without a second look
	// (not '#', '%', a control, space or non-ASCII byte).
	classQuery
	// classPlainPath: classPath without '.', which plainPath treats apart.
	classPlainPath
	// classPlainHost: a lower-case letter, a digit or '-', the bytes of a
	// host name already in canonical form, '.' apart.
	classPlainHost
)

var byteClasses = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		if isUnreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0 {
			t[i] |= classPath
			if c != '.' {
				t[i] |= classPlainPath
			}
		}
		if isUnreserved(c) || strings.IndexByte("!$&'()*+,;=", c) >= 0 {
			t[i] |= classHost
		}
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			t[i] |= classToken
		}
		if c != '#' && c != '%' && c > ' ' && c < 0x7f {
			t[i] |= classQuery
		}
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' {
			t[i] |= classPlainHost
		}
	}
	return t
}()

// plainPath reports whether p (absolute, no query) is in the canonical
// grammar by the common case alone: path characters other than escapes and
// ';', no empty segment but a final one, no dot segment. A false answer
// says nothing: checkPath then reads p in full.
func plainPath(p string) bool {
	seg := 1
	for i := 1; i < len(p); i++ {
		c := p[i]
		if byteClasses[c]&classPlainPath != 0 || c == '.' {
			continue
		}
		if c != '/' || !plainSegment(p[seg:i]) {
			return false
		}
		seg = i + 1
	}
	last := p[seg:]
	return last != "." && last != ".."
}

// plainSegment reports a segment plainPath lets through before a '/'.
func plainSegment(s string) bool {
	return s != "" && s != "." && s != ".."
}

// plainHost reports whether a is a host name already in CanonicalAuthority's
// form: lower-case letters, digits and '-' in labels separated by single
// dots, no port. A false answer says nothing.
func plainHost(a string) bool {
	if a == "" || a[0] == '.' || a[len(a)-1] == '.' {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if byteClasses[c]&classPlainHost != 0 {
			continue
		}
		if c != '.' || a[i-1] == '.' {
			return false
		}
	}
	return true
}
