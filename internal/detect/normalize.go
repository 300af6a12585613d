package detect

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Invisible characters, other digits and look-alike separators. A client
// shows "4111<U+200B>1111…" as a card number, and copies it with the
// zero-width space inside; an upstream, or an attacker who controls one,
// could use them to hide a value from checks that compare bytes.
// Classify, Contains and Redact look at a string as a person reads it
// (visible, one character at a time VisibleRune): default-ignorable
// characters, the control characters that render as nothing and
// combining marks dropped, Unicode spaces read as ' ', Unicode dashes and
// the minus sign as '-', a character whose NFKC form is one ASCII
// character as that character (full-width and small forms, superscripts,
// mathematical letters: compatASCII), other characters drawn like '.',
// '/', '_' or a digit as those (lookAlike), and every decimal digit of
// any script (Unicode Nd: Arabic-Indic, Devanagari, …) as the ASCII digit
// of its value. Letters of other scripts drawn like Latin ones (Cyrillic
// а, Greek Α) are read as themselves: folding them would misread the
// scripts they belong to.

// visible returns s as a person reads it (VisibleRune of each character;
// bytes that are not UTF-8 kept as they are) and whether that changed s.
// A string of plain ASCII bytes costs one scan and no allocation.
func visible(s string) (string, bool) {
	i := plainLen(s)
	if i == len(s) {
		return s, false
	}
	var b strings.Builder
	changed := false
	for j := i; j < len(s); {
		n := 1
		if c := s[j]; c < utf8.RuneSelf && !invisibleASCII(c) || plainPair(s, j) {
			// Plain ASCII, or a two-byte character from U+00C0 to
			// U+057F (accented Latin, Greek, Cyrillic, Armenian
			// letters) that plainPair keeps without decoding it.
			n += int(c >> 7)
		} else {
			var r rune
			r, n = utf8.DecodeRuneInString(s[j:])
			if v := VisibleRune(r); v != r {
				if !changed {
					b.Grow(len(s))
					b.WriteString(s[:j])
					changed = true
				}
				if v >= 0 {
					b.WriteRune(v)
				}
				j += n
				continue
			}
		}
		if changed {
			b.WriteString(s[j : j+n])
		}
		j += n
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}

// dash reports a dash a reader reads as '-' between digit groups: Unicode
// dash punctuation (Pd: hyphen, non-breaking hyphen, figure dash, en and em
// dashes, the Armenian hyphen and Hebrew maqaf, small and full-width
// hyphen-minus, …), the other characters of the Dash property (the minus
// sign, its superscript and subscript forms, the swung dash), the symbols
// confusables.txt maps to '-' (the hyphen bullet, the modifier letter and
// heavy minus signs), the horizontal box-drawing and scan lines (solid,
// dashed, mixed), the prolonged sound marks Japanese writes phone numbers
// with (03ー1234ー5678), and the full-width tilde Japanese code pages
// write the wave dash 〜 as.
func dash(r rune) bool {
	switch r {
	case 0x2043, 0x02D7, 0x2796, 0x30FC, 0xFF70, 0xFF5E,
		0x2500, 0x2501, 0x2504, 0x2505, 0x2508, 0x2509, 0x254C, 0x254D, 0x2574, 0x2576, 0x2578, 0x257A, 0x257C, 0x257E,
		0x23AF, 0x23BA, 0x23BB, 0x23BC, 0x23BD:
		return true
	}
	return unicode.Is(unicode.Pd, r) || unicode.Is(unicode.Dash, r)
}

// lookAlike is the ASCII character a reader takes r for where NFKC
// (compatASCII) does not say so, or 0: '.', '/', '_' and '+' for the
// symbols Unicode's confusables.txt maps to them or to the middle dot;
// '.' for bullets and the dot above; '_' for the low lines and the lower
// block, and for connector punctuation (Pc); ' ' for the Braille blank;
// the digit of a circled digit NFKC leaves alone (⓵, ❶, ➀, ➊, the
// negative circled zeros). Letters drawn like one (katakana NO, a Lisu
// tone letter) are read as letters.
func lookAlike(r rune) byte {
	switch r {
	case 0x00B7, 0x0387, 0x06D4, 0x0701, 0x0702, 0x16EB, 0x2022, 0x2024, 0x2027, 0x2219, 0x22C5, 0x2E31,
		0x3002, 0x30FB, 0xA60E, 0xFE52, 0xFF0E, 0xFF61, 0xFF65, 0x10101, 0x10A50,
		0x02D9, 0x25CF, 0x25E6, 0x2981:
		return '.'
	case 0x1735, 0x2041, 0x2044, 0x2215, 0x2571, 0x27CB, 0x29F8, 0x2F03, 0x31D3, 0xFF0F, 0x1D23A:
		return '/'
	case 0x02CD, 0x2017, 0x2581:
		return '_'
	case 0x16ED, 0x2795:
		return '+'
	case 0x2800:
		return ' '
	case 0x24FF, 0x1F10B, 0x1F10C:
		return '0'
	}
	switch {
	case r >= 0x24F5 && r <= 0x24FD:
		return byte('1' + r - 0x24F5)
	case r >= 0x2776 && r <= 0x277E:
		return byte('1' + r - 0x2776)
	case r >= 0x2780 && r <= 0x2788:
		return byte('1' + r - 0x2780)
	case r >= 0x278A && r <= 0x2792:
		return byte('1' + r - 0x278A)
	case r > '_' && unicode.Is(unicode.Pc, r):
		return '_'
	}
	return 0
}

// invisibleASCII reports an ASCII control character that renders as
// nothing: C0 other than the tab, line feed, vertical tab, form feed and
// carriage return (which read as space), and DEL.
func invisibleASCII(c byte) bool { return c < ' ' && (c < '\t' || c > '\r') || c == 0x7F }

// plainLen is plainPrefix of a string.
func plainLen(s string) int { return plainPrefix(unsafe.Slice(unsafe.StringData(s), len(s))) }

// plainRune reports a character that visible keeps as it is without its
// table lookups: ASCII but the invisible controls (its one space
// separator is ' '), and the ranges most other text is written in
// (Latin-1 letters to Armenian, the Hebrew letters, CJK ideographs,
// Hangul syllables), where no character is ignorable, a combining mark, a
// space separator, a dash, a look-alike or a digit, and none has an NFKC
// form of one ASCII character (TestPlainRunesAreVisible checks every one)
// but these, left out: U+017F (ſ, an s), U+037E (the Greek question mark,
// a ';'), U+0387 (the Greek ano teleia, a middle dot) and U+058A (the
// Armenian hyphen). The spacing modifier letters and combining marks
// (U+02B0 to U+036F: ʰ, ˢ, the modifier letter minus; U+0483 to U+0489)
// and the Hebrew points are not in them.
func plainRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return !invisibleASCII(byte(r))
	case r < 0xC0:
		return false
	case r < 0x600:
		return r < 0x2B0 && r != 0x17F || r >= 0x370 && r < 0x483 && r != 0x37E && r != 0x387 ||
			r >= 0x48A && r < 0x591 && r != 0x58A || r >= 0x5D0
	}
	return r >= 0x3400 && r < 0xA000 || r >= 0xAC00 && r < 0xD7A4
}

// mark reports a combining mark (Unicode Mn, Me): an underline, a stroke,
// an accent, a keycap or a circle drawn on the character before it, which
// a reader reads through ("4̲1̲1̲1̲" is 4111). visible drops it.
func mark(r rune) bool {
	return r >= 0x300 && (unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r))
}

// ignorable reports a character that renders as nothing: Unicode's format
// characters (Cf: zero-width space and joiners, word joiner, BOM, soft
// hyphen, bidirectional marks, invisible operators, tags), variation
// selectors, the rest of Default_Ignorable_Code_Point (the Hangul and Khmer
// fillers, and the code points Unicode reserves as ignorable, unassigned
// yet, which a renderer hides too: U+2065, U+FFF0 to U+FFF8, the rest of
// U+E0000 to U+E0FFF),
// and the control characters other than those that read as space (C0 but
// tab, line feed, vertical tab, form feed and carriage return; DEL; C1 but
// NEL, a line break).
func ignorable(r rune) bool {
	if r < 0x0600 { // Latin, Greek, Cyrillic, …: a branch, not a table search
		return r == 0x00AD || r == 0x034F || r < utf8.RuneSelf && invisibleASCII(byte(r)) || r >= 0x80 && r < 0xA0 && r != 0x85
	}
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// firstOtherDigit is the first decimal digit outside ASCII (U+0660
// ARABIC-INDIC DIGIT ZERO); plainRune holds none.
const firstOtherDigit = 0x0660

// digitValue returns the value of a decimal digit of any script (Unicode
// Nd, what unicode.IsDigit reports; strconv reads ASCII digits only).
// Unicode encodes each script's digits as one run of ten from its zero
// (its stability policy for Numeric_Type=Decimal), and unicode.Nd merges
// adjacent runs into ranges of a multiple of ten, so a digit's value is
// its distance from its range's start, mod 10.
func digitValue(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < firstOtherDigit {
		return 0, false
	}
	if r <= 0xFFFF {
		t := unicode.Nd.R16
		k := sort.Search(len(t), func(k int) bool { return rune(t[k].Hi) >= r })
		if k < len(t) && rune(t[k].Lo) <= r {
			return int(r-rune(t[k].Lo)) % 10, true
		}
		return 0, false
	}
	t := unicode.Nd.R32
	k := sort.Search(len(t), func(k int) bool { return rune(t[k].Hi) >= r })
	if k < len(t) && rune(t[k].Lo) <= r {
		return int(r-rune(t[k].Lo)) % 10, true
	}
	return 0, false
}

// spaceSeparator reports a Unicode space separator (Zs) other than ' ':
// the no-break spaces, the typographic spaces, the ideographic space.
func spaceSeparator(r rune) bool {
	return r == 0x00A0 || r >= 0x1680 && unicode.Is(unicode.Zs, r)
}

// ClassifyNumber reports the class of a JSON number (RFC 8259 §6 text) as
// a client shows it: the digits of its integer part as written, whatever
// its sign, fraction or exponent ("4111111111111111.0", "-4111111111111111"
// and "4.111111111111111e15" all print as a card number's digits; a client
// that reads numbers exactly shows them), and the digits JavaScript shows
// for it, JSON.parse's float64 printed by Number's toString: the shortest
// digits that read back as that float64 ("4111111111111110.99999" shows as
// 4111111111111111; the 19-digit id 1234567890123456789 as
// 1234567890123456800). The float64's exact binary value
// (1234567890123456768) is shown by no client, so its digits are not
// looked at: they made one 17-19 digit id in a hundred a card. Only card
// numbers are numbers; a number whose integer part is shorter than a card
// (timestamps in seconds, prices, fractions) is never one.
func ClassifyNumber(num string, set Set) (Class, bool) {
	if !set.Has(CardNumber) {
		return 0, false
	}
	var d [maxCardDigits]byte
	if n, ok := integerDigits(&d, num); ok && isCardDigits(d[:n]) {
		return CardNumber, true
	}
	if len(num) < minRoundedDigits {
		return 0, false // exact as a float64: its digits are the literal's
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || v != math.Trunc(v) {
		return 0, false
	}
	v = math.Abs(v)
	if v < 1e11 || v >= 1e19 {
		return 0, false
	}
	// The shortest digits that read back as v: what JavaScript prints
	// (Number::toString, ECMA-262 §6.1.6.1.20, for v below 1e21).
	if b := strconv.AppendFloat(d[:0], v, 'f', -1, 64); isCardDigits(b) {
		return CardNumber, true
	}
	return 0, false
}

// minRoundedDigits is the shortest number text a float64 may round to an
// integer other than its integer part: one with 16 or more significant
// digits (one of 15 or fewer reads back as itself).
const minRoundedDigits = 16

// isCardDigits reports whether the digits d are a card number's.
func isCardDigits(d []byte) bool {
	return len(d) >= minCardDigits && len(d) <= maxCardDigits && luhn(d) && inCardRange(d)
}

// numberCardAt reports whether a card number written as a JSON number
// with a sign, a fraction or an exponent ("-4111111111111111",
// "4.111111111111111e15") starts at s[i] and where it ends; plain digit
// runs are cardAt's. The number must not run on into a letter, digit or
// '.'.
func numberCardAt(s string, i int) (int, bool) {
	j := i
	if s[j] == '-' {
		j++
	}
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	notation := s[i] == '-'
	if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
		notation = true
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	if j+1 < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			notation = true
			for j = k; j < len(s) && isDigit(s[j]); j++ {
			}
		}
	}
	if !notation || j < len(s) && (isAlnum(s[j]) || s[j] == '.') {
		return 0, false
	}
	if _, ok := ClassifyNumber(s[i:j], SetOf(CardNumber)); !ok {
		return 0, false
	}
	return j, true
}

// integerDigits writes into d the digits of the integer part of the JSON
// number num, without leading zeros, and reports their count; false when
// num is not a number or its integer part has more than len(d) digits. The
// exponent may be of any size: "0.<2000 zeros>4111111111111111e2016" is a
// card number to a client.
func integerDigits(d *[maxCardDigits]byte, num string) (int, bool) {
	s := strings.TrimPrefix(num, "-")
	mant, exp := s, 0
	if k := strings.IndexAny(s, "eE"); k >= 0 {
		mant = s[:k]
		e := strings.TrimPrefix(s[k+1:], "+")
		neg := strings.HasPrefix(e, "-")
		e = strings.TrimPrefix(e, "-")
		if e == "" {
			return 0, false
		}
		for i := 0; i < len(e); i++ {
			if !isDigit(e[i]) {
				return 0, false
			}
			if exp < maxExponent {
				exp = exp*10 + int(e[i]-'0')
			}
		}
		if neg {
			exp = -exp
		}
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" {
		return 0, false
	}
	digit := func(k int) byte {
		switch {
		case k < len(intPart):
			return intPart[k]
		case k-len(intPart) < len(frac):
			return frac[k-len(intPart)]
		}
		return '0'
	}
	first := -1 // the first significant digit of intPart+frac
	for k := 0; k < len(intPart)+len(frac); k++ {
		c := digit(k)
		if !isDigit(c) {
			return 0, false
		}
		if first < 0 && c != '0' {
			first = k
		}
	}
	point := len(intPart) + exp // the decimal point, in digits of intPart+frac
	if first < 0 || point <= first {
		return 0, true // zero, or no integer digits
	}
	if point-first > len(d) {
		return 0, false
	}
	n := 0
	for k := first; k < point; k++ {
		d[n] = digit(k)
		n++
	}
	return n, true
}

// maxExponent bounds the exponent read: no body holds the digits a larger
// one would need to make an integer part of card length.
const maxExponent = 1 << 40

// PaddingLen is the length of the run at the start of b of spaces and
// invisible characters, which Classify ignores before a value: a caller
// that classifies a bounded prefix of a long value skips it first, so that
// padding cannot push the value past the prefix.
func PaddingLen(b []byte) int {
	i := 0
	for i < len(b) {
		if c := b[i]; c < utf8.RuneSelf {
			if !isASCIISpace(c) && !invisibleASCII(c) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if !IsPadding(r) {
			return i
		}
		i += n
	}
	return i
}

// IsPadding reports a character Classify ignores around a value: a space
// (unicode.IsSpace), an invisible character or a combining mark.
func IsPadding(r rune) bool { return unicode.IsSpace(r) || ignorable(r) || mark(r) }

func isASCIISpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
