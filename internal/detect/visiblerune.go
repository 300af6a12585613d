package detect

import (
	"sort"
	"unicode/utf8"
)

//go:generate go run gen_compat.go

// VisibleRune is the character r as Classify reads it (see visible): -1
// for an invisible character or a combining mark, which is dropped; ' '
// for a Unicode space separator; '-' for a dash or the minus sign; the
// ASCII character of a character whose NFKC form is one (compatASCII) or
// that is drawn like one (lookAlike); the ASCII digit of a decimal digit
// of any script; else r. A caller that follows a long value in pieces
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
	if c := compatASCII(r); c != 0 {
		return rune(c)
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

// compatSpan is a run of compatSpans.
type compatSpan struct {
	lo, hi rune
	out    byte
	step   uint8
}

// compatASCII is the ASCII character r's NFKC form is, or 0
// (compatSpans).
func compatASCII(r rune) byte {
	if r < 0xA0 || r > compatSpans[len(compatSpans)-1].hi {
		return 0
	}
	k := sort.Search(len(compatSpans), func(k int) bool { return compatSpans[k].hi >= r })
	if s := &compatSpans[k]; s.lo <= r {
		return s.out + byte(r-s.lo)*s.step
	}
	return 0
}
