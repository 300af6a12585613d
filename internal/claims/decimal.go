package claims

// decimal is a JSON number reduced to sign, significant digits and
// exponent, so numbers compare by exact value without big-number
// arithmetic (which a claim like 1e1000000000 could make expensive).
// The value is 0.DIGITS × 10^exp; zero has no digits and is never negative.
type decimal struct {
	neg    bool
	mant   string // the mantissa as written, digits and at most one '.'
	first  int    // index in mant of the first significant digit
	last   int    // index in mant of the last significant digit
	exp    int64
	isZero bool
}

// maxExp keeps exponent arithmetic far from int64 overflow. Numbers with
// larger exponents are treated as invalid and never compare equal.
const maxExp = 1 << 40

// parseDecimal parses JSON number syntax: -?digits(.digits)?([eE][+-]?digits)?
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	intDigits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		intDigits++
	}
	if intDigits == 0 {
		return d, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		frac := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			frac++
		}
		if frac == 0 {
			return d, false
		}
	}
	d.mant = s[start:i]
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		if i >= len(s) {
			return d, false
		}
		var e int64
		for i < len(s) && isDigit(s[i]) {
			e = e*10 + int64(s[i]-'0')
			if e > maxExp {
				return d, false // not a value any claim rule could mean
			}
			i++
		}
		if eneg {
			e = -e
		}
		d.exp = e
	}
	if i != len(s) {
		return d, false
	}
	// Locate significant digits and the decimal point.
	d.first, d.last = -1, -1
	point := len(d.mant)
	for k := 0; k < len(d.mant); k++ {
		c := d.mant[k]
		if c == '.' {
			point = k
			continue
		}
		if c != '0' {
			if d.first < 0 {
				d.first = k
			}
			d.last = k
		}
	}
	if d.first < 0 {
		d.isZero, d.neg = true, false
		return d, true
	}
	// Digits before the point, counted from the first significant digit,
	// give the exponent of 0.DIGITS form.
	lead := int64(point - d.first)
	if d.first > point {
		lead = int64(point - d.first + 1)
	}
	d.exp += lead
	return d, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (a decimal) equal(b decimal) bool {
	if a.isZero || b.isZero {
		return a.isZero == b.isZero
	}
	if a.neg != b.neg || a.exp != b.exp {
		return false
	}
	i, j := a.first, b.first
	for {
		for i <= a.last && a.mant[i] == '.' {
			i++
		}
		for j <= b.last && b.mant[j] == '.' {
			j++
		}
		if i > a.last || j > b.last {
			return i > a.last && j > b.last
		}
		if a.mant[i] != b.mant[j] {
			return false
		}
		i++
		j++
	}
}
