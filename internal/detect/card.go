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
	{"4", "4", 16, 16},       // Visa: 16 and 19 digits are issued; the 13-digit
	{"4", "4", 19, 19},       // cards are long expired, and 13 and 15 digits from 4 are JAN/EAN barcodes and IMEIs
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
}

// UATP (airline) numbers, 15 digits from 1, are left out: every 15-digit
// id from 1 that passes Luhn (a tenth of social-network user ids) would be
// one.

const (
	minCardDigits = 12
	maxCardDigits = 19
)

// cardAt reports whether a card number starts at s[i] (a digit not preceded
// by a letter or digit) and where it ends: written plain or grouped by
// single spaces or hyphens, one kind throughout (spacedCardAt), or in a
// card's usual grouping by any of groupSeparators (groupedCardAt).
func cardAt(s string, i int) (int, bool) {
	if end, ok := spacedCardAt(s, i); ok {
		return end, true
	}
	return groupedCardAt(s, i)
}

// spacedCardAt reports whether a card number starts at s[i] and where it
// ends. Digits may be grouped by single spaces or hyphens, one kind
// throughout, in any grouping after a first group of four digits or more
// (every card's printed grouping starts with four; an order number
// 302-1234567-1234565 does not); the number must not run on into another
// digit or letter.
func spacedCardAt(s string, i int) (int, bool) {
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
			if sep == 0 && n < 4 {
				return 0, false // a card's printed groups start with four digits or more
			}
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

// isGroupSeparator is a character a person reads as a gap between the
// digit groups of a card number: a space (Unicode spaces read as ' ', see
// visible), a tab, '-', '.', '/', '_' or '+' (a space in a query string).
func isGroupSeparator(c byte) bool {
	return c == ' ' || c == '\t' || c == '-' || c == '.' || c == '/' || c == '_' || c == '+'
}

// maxSeparatorRun is the longest run of group separators read as one gap:
// "4111 - 1111", "4111  1111" (a dash with spaces around it, a wider gap).
const maxSeparatorRun = 3

// separatorRun is the length of the run of group separators at s[j], 0
// when there is none or it is longer than maxSeparatorRun.
func separatorRun(s string, j int) int {
	k := 0
	for j+k < len(s) && isGroupSeparator(s[j+k]) {
		if k++; k > maxSeparatorRun {
			return 0
		}
	}
	return k
}

// separatorRunBefore is the length of the run of group separators that
// ends before s[i], 0 when there is none or it is longer than
// maxSeparatorRun.
func separatorRunBefore(s string, i int) int {
	k := 0
	for i-k > 0 && isGroupSeparator(s[i-k-1]) {
		if k++; k > maxSeparatorRun {
			return 0
		}
	}
	return k
}

// groupedCardAt reports whether a card number starts at s[i] and where it
// ends, its digits grouped by runs of up to maxSeparatorRun separators of
// any kind, mixed or not (isGroupSeparator; Unicode dashes read as '-', see
// visible), in one of the groupings cards are printed in
// (cardGrouping). The whole run of separated groups is the number: one
// that runs on into another group, a letter or a digit, or continues a
// group run before s[i] ("10.4111.1111…"), is not a card, so dotted
// versions, dates and addresses are not taken for one.
func groupedCardAt(s string, i int) (int, bool) {
	if k := separatorRunBefore(s, i); k > 0 && k < i && isDigit(s[i-k-1]) {
		return 0, false
	}
	var digits [maxCardDigits]byte
	var groups [maxCardDigits]int
	n, ng := 0, 0
	j := i
	for {
		start := n
		for j < len(s) && isDigit(s[j]) {
			if n == maxCardDigits {
				return 0, false
			}
			digits[n] = s[j]
			n++
			j++
		}
		groups[ng] = n - start
		ng++
		if k := separatorRun(s, j); k > 0 && j+k < len(s) && isDigit(s[j+k]) {
			j += k
			continue
		}
		break
	}
	if j < len(s) && isAlnum(s[j]) || !cardGrouping(groups[:ng]) || !isCardDigits(digits[:n]) {
		return 0, false
	}
	return j, true
}

// cardGrouping reports whether digit groups of these lengths are a way
// cards are printed: fours with a last group of one to four (4-4-4-4,
// 4-4-4-4-3, 4-4-4), American Express's 4-6-5, Diners Club's 4-6-4 and
// UATP's 4-5-6.
func cardGrouping(g []int) bool {
	n := len(g)
	if n < 3 {
		return false
	}
	if n == 3 && g[0] == 4 && (g[1] == 6 && (g[2] == 5 || g[2] == 4) || g[1] == 5 && g[2] == 6) {
		return true
	}
	for _, l := range g[:n-1] {
		if l != 4 {
			return false
		}
	}
	return g[n-1] >= 1 && g[n-1] <= 4
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

// allDigits reports whether s is ASCII digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
