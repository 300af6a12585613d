package detect

import "strings"

// CanClassify reports whether s could be one whole value of a class in
// set: it is false only when Classify must fail, judged the way matchAt
// dispatches on a value's first bytes, without running a check. Most
// ordinary strings (names, dates, words) are ruled out in a few
// comparisons, which matters where every value of a response is
// classified. Like Classify it reads s as a person does (visible).
func CanClassify(s string, set Set) bool {
	if plainLen(s) != len(s) {
		s, _ = visible(s) // a plain ASCII string is its visible form: no call
	}
	return canClassify(s, set)
}

// canClassify is CanClassify of a visible string: a candidate by its
// first bytes, or one holding a PEM header anywhere (privateKeyIn).
func canClassify(s string, set Set) bool {
	return canStart(s, set) || set.Has(PrivateKey) && strings.Contains(s, pemDashes)
}

// canStart is canClassify judged by the value's first bytes. One with a
// space, a control character or a byte outside ASCII at either end is
// always a candidate: Classify trims and decides.
func canStart(s string, set Set) bool {
	if len(s) == 0 {
		return false
	}
	if first, last := s[0], s[len(s)-1]; first <= ' ' || first >= 0x7f || last <= ' ' || last >= 0x7f {
		return true
	}
	c := s[0]
	if set.Has(Email) && (c == '"' || s[len(s)-1] == '>' || (c == 'm' || c == 'M') && hasPrefixFold(s, "mailto:")) {
		// A quoted local part, a display name's <address>, a mailto: URI.
		return true
	}
	if set.Has(Email) && isLocalByte(c) {
		// An email's local part starts the value and runs to its '@'.
		j := 1
		for j < len(s) && isLocalByte(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '@' {
			return true
		}
	}
	switch {
	case isDigit(c):
		// Card numbers and SSNs are digits and group separators
		// (isGroupSeparator), 11 or more; a card number may also be
		// written as a JSON number (numberCardAt: a fraction, an
		// exponent).
		if !set.Has(CardNumber) && !set.Has(SSN) || len(s) < len("AAA-GG-SSSS") {
			return false
		}
		for i := 1; i < len(s); i++ {
			if d := s[i]; !isDigit(d) && !isGroupSeparator(d) && d != 'e' && d != 'E' && d != '+' {
				return false
			}
		}
		return true
	case c == '$':
		return set.Has(PasswordHash)
	case c == '-':
		// A PEM header, or a negative number that is a card number.
		return set.Has(PrivateKey) || set.Has(CardNumber) && len(s) > 1 && isDigit(s[1])
	case !isAlpha(c):
		return false
	}
	n := len(s)
	return c == 'e' && set.Has(JWT) && n >= len("eyJ0000.0") ||
		(c == 'B' || c == 'b') && set.Has(BearerToken) && n >= len("bearer ")+minBearerToken ||
		apiKeyMinLen[c] > 0 && set.Has(APIKey) && n >= apiKeyMinLen[c] ||
		(c == 'p' || c == 'a' || c == 'b' || c == 's') && set.Has(PasswordHash) && n >= minHashLen ||
		set.Has(IBAN) && n >= minIBAN && isAlpha(s[1]) && isDigit(s[2])
}

// Shortest values, as the checks take them: hashAt looks at 20 bytes or
// more, ibanAt at 15 (Norway's IBANs).
const (
	minHashLen = 20
	minIBAN    = 15
)

// apiKeyMinLen is the shortest key of the formats starting with each byte
// (0: none).
var apiKeyMinLen = func() (m [256]int) {
	for _, f := range apiKeyFormats {
		if n := len(f.prefix) + f.minLen; m[f.prefix[0]] == 0 || n < m[f.prefix[0]] {
			m[f.prefix[0]] = n
		}
	}
	return m
}()
