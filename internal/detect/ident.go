package detect

// US Social Security numbers and IBANs: identifiers with a fixed grammar and,
// for IBANs, a checksum.

// ssnAt reports whether a US Social Security number starts at s[i] (a digit
// not preceded by a letter, a digit or a separator) and where it ends.
// Only the grouped form AAA-GG-SSSS is taken, with one separator
// throughout: a dash, a space (Unicode spaces read as spaces: see
// visible) or a dot; nine bare digits are as often an order or account
// id. The Social Security Administration never issues area 000, 666 or
// 900-999, group 00 or serial 0000 (SSA, "Social Security Number
// Randomization", and POMS RM 10201.060), so those are refused; the
// number must not run on into another digit, letter or separated group.
func ssnAt(s string, i int) (int, bool) {
	const n = len("AAA-GG-SSSS")
	if len(s)-i < n {
		return 0, false
	}
	t := s[i : i+n]
	sep := t[3]
	if !isSSNSep(sep) || i > 0 && isSSNSep(s[i-1]) && i > 1 && isDigit(s[i-2]) || i > 0 && s[i-1] == '-' {
		return 0, false
	}
	for k := 0; k < n; k++ {
		if k == 3 || k == 6 {
			if t[k] != sep {
				return 0, false
			}
		} else if !isDigit(t[k]) {
			return 0, false
		}
	}
	end := i + n
	if end < len(s) && (isAlnum(s[end]) || isSSNSep(s[end]) && end+1 < len(s) && isDigit(s[end+1])) {
		return 0, false
	}
	area, group, serial := t[0:3], t[4:6], t[7:11]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return 0, false
	}
	return end, true
}

// isSSNSep is a separator of an SSN's groups.
func isSSNSep(c byte) bool { return c == '-' || c == ' ' || c == '.' }

// ibanLengths is the length of an IBAN per country, from the SWIFT IBAN
// Registry (release 99, 2024). A country not listed does not issue IBANs.
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

const maxIBAN = 34 // ISO 13616-1: at most 34 characters

// ibanAt reports whether an IBAN starts at s[i] (a letter at a word start)
// and where it ends: a registered country code, two check digits and the
// country's length of letters and digits, in the electronic form or the
// paper form (groups of four separated by single spaces, or by dashes as
// some forms and exports write it), whose ISO 7064
// MOD 97-10 check (ISO 13616-1) gives 1. Letters may be in either case:
// banks and clients read "de89…" as "DE89…".
func ibanAt(s string, i int) (int, bool) {
	if len(s)-i < 15 || !isAlpha(s[i]) || !isAlpha(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return 0, false
	}
	cc := [2]byte{toUpper(s[i]), toUpper(s[i+1])}
	want, ok := ibanLengths[string(cc[:])]
	if !ok {
		return 0, false
	}
	var buf [maxIBAN]byte
	n := 0
	j := i
	var sep byte // the separator of the groups of four, if any
	if len(s)-i > 4 && (s[i+4] == ' ' || s[i+4] == '-') {
		sep = s[i+4]
	}
	for j < len(s) && n < want {
		c := s[j]
		if sep != 0 && n > 0 && n%4 == 0 {
			if c != sep {
				return 0, false
			}
			j++
			if j >= len(s) {
				return 0, false
			}
			c = s[j]
		}
		if !isAlnum(c) {
			return 0, false
		}
		buf[n] = toUpper(c)
		n++
		j++
	}
	if n != want || j < len(s) && isAlnum(s[j]) || sep == '-' && j+1 < len(s) && s[j] == '-' && isAlnum(s[j+1]) {
		return 0, false
	}
	if !mod97(buf[:n]) {
		return 0, false
	}
	return j, true
}

// mod97 runs the IBAN check: the first four characters moved to the end,
// letters as 10 to 35, the number taken mod 97 must be 1.
func mod97(iban []byte) bool {
	r := 0
	add := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range iban[4:] {
		add(c)
	}
	for _, c := range iban[:4] {
		add(c)
	}
	return r == 1
}

func toUpper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
