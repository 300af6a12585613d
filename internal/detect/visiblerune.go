package detect

import "unicode/utf8"

// VisibleRune is the character r as Classify reads it (see visible): -1
// for an invisible character or a combining mark, which is dropped; ' '
// for a Unicode space separator; '-' for a dash or the minus sign; '.',
// '/' or '_' for a character drawn like one (lookAlike); the ASCII digit
// of a decimal digit of any script or of a character drawn as a digit
// (compatDigit); else r. A caller that follows a long value in pieces
// (the inventory's Observer) uses it to read the value as Classify would
// read it whole, in bounded memory.
func VisibleRune(r rune) rune {
	switch {
	case plainRune(r):
		return r
	case r < utf8.RuneSelf || ignorable(r):
		return -1 // plainRune holds all of ASCII but its invisible controls
	case spaceSeparator(r):
		return ' '
	case dash(r):
		return '-'
	}
	if c := lookAlike(r); c != 0 {
		return rune(c)
	}
	if d, ok := compatDigit(r); ok {
		return rune(d)
	}
	if r >= firstOtherDigit {
		if v, ok := digitValue(r); ok {
			return '0' + rune(v)
		}
	}
	if mark(r) {
		return -1
	}
	return r
}
