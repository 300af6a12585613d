package detect

// Payment card numbers. The issuer ranges and their lengths follow the
// ISO/IEC 7812 issuer identification numbers that the card schemes publish,
// as summarised in Wikipedia's "Payment card number" (section "Issuer
// identification number"). A number must fall in a range, have one of its
// lengths and pass the Luhn check, so an order id or a phone number rarely
// qualifies.

// cardRange is an IIN range: numbers whose first len(lo) digits, read as a
// number, lie in [lo, hi], with a length in [minLen, maxLen].
type cardRange struct {
	lo, hi         string
	minLen, maxLen int
}

var cardRanges = []cardRange{
	{"4", "4", 13, 19},       // Visa (13, 16 and 19 are issued)
	{"51", "55", 16, 16},     // Mastercard
	{"2221", "2720", 16, 16}, // Mastercard 2-series
	{"34", "34", 15, 15},     // American Express
	{"37", "37", 15, 15},     // American Express
	{"6011", "6011", 16, 19}, // Discover
	{"644", "649", 16, 19},   // Discover
	{"65", "65", 16, 19},     // Discover
	{"3528", "3589", 16, 19}, // JCB
	{"36", "36", 14, 19},     // Diners Club International
	{"300", "305", 16, 19},   // Diners Club
	{"38", "39", 16, 19},     // Diners Club
	{"62", "62", 16, 19},     // UnionPay
	{"5018", "5018", 12, 19}, // Maestro
	{"5020", "5020", 12, 19}, // Maestro
	{"5038", "5038", 12, 19}, // Maestro
	{"5893", "5893", 12, 19}, // Maestro
	{"6304", "6304", 12, 19}, // Maestro
	{"6759", "6759", 12, 19}, // Maestro
	{"6761", "6763", 12, 19}, // Maestro
	{"2200", "2204", 16, 19}, // Mir
	{"9792", "9792", 16, 16}, // Troy
	{"5019", "5019", 16, 16}, // Dankort
	{"1", "1", 15, 15},       // UATP
}

const (
	minCardDigits = 12
	maxCardDigits = 19
)

// cardAt reports whether a card number starts at s[i] (a digit not preceded
// by a letter or digit) and where it ends. Digits may be grouped by single
// spaces or hyphens, one kind throughout; the number must not run on into
// another digit or letter.
func cardAt(s string, i int) (int, bool) {
	var digits [maxCardDigits]byte
	n := 0
	var sep byte
	j := i
	end := i
	for j < len(s) {
		c := s[j]
		if isDigit(c) {
			if n == maxCardDigits {
				return 0, false // a longer digit run is not a card number
			}
			digits[n] = c
			n++
			j++
			end = j
			continue
		}
		if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && (sep == 0 || sep == c) && isDigit(s[j-1]) {
			sep = c
			j++
			continue
		}
		break
	}
	if end < len(s) && isAlnum(s[end]) {
		return 0, false
	}
	if n < minCardDigits || !luhn(digits[:n]) || !inCardRange(digits[:n]) {
		return 0, false
	}
	return end, true
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func inCardRange(d []byte) bool {
	for _, r := range cardRanges {
		if len(d) < r.minLen || len(d) > r.maxLen || len(d) < len(r.lo) {
			continue
		}
		p := string(d[:len(r.lo)])
		if p >= r.lo && p <= r.hi {
			return true
		}
	}
	return false
}
