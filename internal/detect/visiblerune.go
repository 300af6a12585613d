package detect

// VisibleRune is the character r as Classify reads it (see visible): -1
// for an invisible character, which is dropped; ' ' for a Unicode space
// separator; '-' for a dash or the minus sign; the ASCII digit of a
// decimal digit of any script; else r. A caller that follows a long value
// in pieces (the inventory's Observer) uses it to read the value as
// Classify would read it whole, in bounded memory.
func VisibleRune(r rune) rune {
	switch {
	case plainRune(r):
		return r
	case ignorable(r):
		return -1
	case spaceSeparator(r):
		return ' '
	case dash(r):
		return '-'
	case r >= firstOtherDigit:
		if v, ok := digitValue(r); ok {
			return '0' + rune(v)
		}
	}
	return r
}
