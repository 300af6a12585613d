// Package detect recognises personal data and credentials inside strings:
// payment card numbers, email addresses, JWTs, bearer tokens, API keys with
// documented prefixes, US Social Security numbers, IBANs, PEM private keys
// and password hashes. Every class is a precise check (a checksum, a
// registered prefix and length, a grammar), not a loose regular expression,
// so that masking what it finds does not mangle ordinary text.
//
// It is pure Go and allocation-free unless something is found. The audit
// trail masks what it finds in logged values and field paths
// (internal/telemetry); the response inventory classifies response values
// with the same checks, one class at a time (Class, Set, Scan).
package detect

import "strings"

// Class is a kind of sensitive value. Its String is the name used in
// metrics, audit events and configuration.
type Class uint8

const (
	// CardNumber is a payment card number (PAN): 12 to 19 digits, optionally
	// grouped by single spaces or hyphens, or in a card's usual grouping
	// by tabs, dots, slashes or underscores too (see cardAt), with a valid
	// Luhn check digit and a length that the issuer range allows (see
	// cardRanges).
	CardNumber Class = iota + 1
	// Email is an email address: a dot-atom or quoted local part, "@", and
	// a domain of at least two labels whose last is alphabetic (RFC 5321
	// §4.1.2, without address literals); a whole value is one too as a
	// mail client writes it, after "mailto:" or in angle brackets after a
	// display name.
	Email
	// JWT is a compact JWS or JWE: "eyJ" (base64url of `{"`), then two to
	// four more dot-separated base64url parts (RFC 7515 §7.1, RFC 7516 §7.1).
	JWT
	// BearerToken is the credential after an HTTP "Bearer" scheme
	// (RFC 6750 §2.1: b64token, at least 8 characters).
	BearerToken
	// APIKey is a key in a vendor's documented format, recognised by its
	// prefix and length (see apiKeyFormats).
	APIKey
	// SSN is a US Social Security number in its grouped form (dashes,
	// spaces or dots), in the ranges the SSA issues (see ssnAt).
	SSN
	// IBAN is an international bank account number: a registered country,
	// the country's length and a valid ISO 7064 MOD 97-10 check (see ibanAt).
	IBAN
	// PrivateKey is a PEM private key, from its "-----BEGIN ... PRIVATE
	// KEY-----" boundary (RFC 7468) through its footer (see privateKeyAt).
	PrivateKey
	// PasswordHash is a password hash in the string format of bcrypt,
	// argon2, scrypt, PBKDF2 or crypt(3) (see hashAt).
	PasswordHash

	numClasses = iota
)

var classNames = [...]string{"", "card_number", "email", "jwt", "bearer_token", "api_key", "ssn", "iban", "private_key", "password_hash"}

// String returns the class name, e.g. "card_number".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// ParseClass returns the class named s.
func ParseClass(s string) (Class, bool) {
	for i := 1; i < len(classNames); i++ {
		if classNames[i] == s {
			return Class(i), true
		}
	}
	return 0, false
}

// Classes lists every class, in a fixed order.
func Classes() []Class {
	out := make([]Class, 0, numClasses)
	for c := Class(1); c <= numClasses; c++ {
		out = append(out, c)
	}
	return out
}

// Set is a set of classes.
type Set uint32

// All is every class.
const All Set = 1<<(numClasses+1) - 2

// SetOf returns the set of the given classes.
func SetOf(cs ...Class) Set {
	var s Set
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// Has reports whether c is in s.
func (s Set) Has(c Class) bool { return s&(1<<c) != 0 }

// Match is one value found in a string: s[Start:End] is of class Class.
type Match struct {
	Class      Class
	Start, End int
}

// Scan calls fn for every value of a class in set found in s, left to right
// and without overlaps, until fn returns false.
func Scan(s string, set Set, fn func(Match) bool) {
	// Classes with a mandatory marker are dropped at once when s lacks it
	// (a vectorised search), so most strings cost one pass of cheap checks.
	if set.Has(Email) && strings.IndexByte(s, '@') < 0 {
		set &^= SetOf(Email)
	}
	if set.Has(JWT) && !strings.Contains(s, "eyJ") {
		set &^= SetOf(JWT)
	}
	if set.Has(SSN) && strings.IndexByte(s, '-') < 0 && strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '.') < 0 {
		set &^= SetOf(SSN)
	}
	if set.Has(PrivateKey) && !strings.Contains(s, pemDashes) {
		set &^= SetOf(PrivateKey)
	}
	if set.Has(PasswordHash) && strings.IndexByte(s, '$') < 0 {
		set &^= SetOf(PasswordHash)
	}
	if set == 0 {
		return
	}
	jwt, hash, email, pem := set.Has(JWT), set.Has(PasswordHash), set.Has(Email), set.Has(PrivateKey)
	for i := 0; i < len(s); {
		// Fast path: nothing starts at a byte outside local parts but a
		// hash's '$', a quoted local part's '"' and a PEM boundary's
		// dashes, and inside a word only a JWT, a hash's '$' or a PEM
		// boundary can (Classify takes a key glued to other text too).
		c := s[i]
		if marked := hash && c == '$' || email && c == '"' || pem && c == '-' && strings.HasPrefix(s[i:], pemDashes); !marked && (!isLocalByte(c) || (i > 0 && isWordByte(s[i-1]) && !(jwt && c == 'e'))) {
			i++
			continue
		}
		m, ok := matchAt(s, i, set)
		if !ok {
			i++
			continue
		}
		if !fn(m) {
			return
		}
		i = m.End
	}
}

// Contains reports whether s holds a value of a class in set, invisible
// characters aside (see visible).
func Contains(s string, set Set) bool {
	s, _ = visible(s)
	found := false
	Scan(s, set, func(Match) bool { found = true; return false })
	return found
}

// Classify reports the class of s when all of s (spaces around it aside) is
// one value of a class in set, e.g. a JSON string value that is an email
// address, or "Bearer " and a token; and PrivateKey when s holds a private
// key anywhere (after EC parameters, a certificate, a label: see
// HoldsPrivateKey). It tries the classes at the first byte only, so a
// string that is not such a value costs a few comparisons whatever its
// length.
//
// Invisible characters (zero-width spaces, joiners, BOMs, bidirectional
// marks: see visible) are dropped and Unicode spaces read as ' ' first, as
// a reader sees the value.
func Classify(s string, set Set) (Class, bool) {
	s, _ = visible(s)
	if !canClassify(s, set) {
		return 0, false
	}
	return classifyVisible(s, set)
}

// HoldsPrivateKey reports whether a private key starts anywhere in s,
// invisible characters aside: what Classify finds in a value of any
// length, for a caller that classifies a bounded prefix of a long one.
func HoldsPrivateKey(s string) bool {
	s, _ = visible(s)
	return privateKeyIn(s)
}

// classifyVisible is Classify of a visible string without its prefilter.
func classifyVisible(s string, set Set) (Class, bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, false
	}
	if m, ok := matchAt(t, 0, set); ok && m.End == len(t) {
		return m.Class, true
	}
	if set.Has(Email) && emailForm(t) {
		// "Alice <alice@example.com>", "mailto:alice@example.com".
		return Email, true
	}
	if set.Has(PrivateKey) && privateKeyIn(t) {
		// A key after other text (EC parameters, a certificate, a label)
		// is a value holding a private key all the same.
		return PrivateKey, true
	}
	return 0, false
}

// Redact returns s with every value of a class in set replaced by mask, and
// whether anything was replaced. Bearer tokens keep their scheme ("Bearer
// " + mask) so a reader can tell what kind of credential was there. A
// string where a value hides behind invisible characters (see visible) is
// redacted in its visible form: the invisible characters go too.
//
// In free text a card number glued to a word ("card-4111111111111111",
// "x4111111111111111", "4111111111111111x", "a-4111 1111 1111 1111") is
// masked too (gluedCards): Scan, which the inventory shares, takes a card
// only between word boundaries, but a logged path or header errs on the
// side of masking.
func Redact(s string, set Set, mask string) (string, bool) {
	if v, changed := visible(s); changed {
		if out, ok := redactText(v, set, mask); ok {
			return out, true
		}
	}
	return redactText(s, set, mask)
}

// redactText is redact, then gluedCards when set holds card numbers.
func redactText(s string, set Set, mask string) (string, bool) {
	out, ok := redact(s, set, mask)
	if set.Has(CardNumber) {
		if g, glued := gluedCards(out, mask); glued {
			return g, true
		}
	}
	return out, ok
}

// gluedCards returns s with every card number masked that a letter, '_' or
// '-' glues to the text around it, and whether there was one. A digit run
// not preceded by a digit is a card when, cut out of the text, it is one
// (cardAt: length, issuer range, Luhn, a card's grouping), unless it
// continues a group run before it ("10.4111.1111.1111.1111").
func gluedCards(s string, mask string) (string, bool) {
	var b strings.Builder
	last := 0
	for i := 0; i+minCardDigits <= len(s); i++ {
		if !isDigit(s[i]) || i > 0 && isDigit(s[i-1]) {
			continue
		}
		// k is the end of the run of digits and separated digit groups,
		// looked at no further than a card can reach (linear time).
		k, limit := i, min(len(s), i+maxCardDigits*(1+maxSeparatorRun)+1)
		for k < limit {
			if isDigit(s[k]) {
				k++
			} else if r := separatorRun(s, k); r > 0 && k+r < len(s) && isDigit(s[k+r]) {
				k += r
			} else {
				break
			}
		}
		end, ok := cardAt(s[i:k], 0)
		if ok && (end < k-i || k == limit && k < len(s) && isDigit(s[k])) {
			ok = false // the run goes on past the card: not one
		}
		if ok && !allDigits(s[i:k]) {
			if r := separatorRunBefore(s, i); r > 0 && r < i && isDigit(s[i-r-1]) {
				ok = false
			}
		}
		if !ok {
			continue // a card may start at a later group ("v1-4111…")
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(mask)
		last, i = k, k-1
	}
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

func redact(s string, set Set, mask string) (string, bool) {
	var b strings.Builder
	last := 0
	Scan(s, set, func(m Match) bool {
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:m.Start])
		b.WriteString(mask)
		last = m.End
		return true
	})
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// matchAt tries every class of set at s[i:]. canClassify mirrors its
// dispatch at i == 0: a value it takes whole must pass canClassify
// (FuzzCanClassify checks it). Each check first looks at the
// byte at i (and the one before it, for word boundaries), so a position where
// nothing can start costs a few comparisons.
func matchAt(s string, i int, set Set) (Match, bool) {
	c := s[i]
	if i > 0 && isWordByte(s[i-1]) && c != 'e' && c != '$' && c != '"' && c != '-' {
		return Match{}, false // inside a word only a JWT, a hash or a PEM boundary can start
	}
	switch {
	case isDigit(c):
		if i == 0 || !isAlnum(s[i-1]) {
			if set.Has(CardNumber) && i+minCardDigits <= len(s) {
				if end, ok := numberCardAt(s, i); ok {
					return Match{CardNumber, i, end}, true
				}
				if end, ok := cardAt(s, i); ok {
					return Match{CardNumber, i, end}, true
				}
			}
			if set.Has(SSN) {
				if end, ok := ssnAt(s, i); ok {
					return Match{SSN, i, end}, true
				}
			}
		}
	case c == '"':
		if set.Has(Email) {
			if end, ok := quotedEmailAt(s, i); ok {
				return Match{Email, i, end}, true
			}
		}
		return Match{}, false
	case c == '$':
		if set.Has(PasswordHash) {
			if end, ok := hashAt(s, i); ok {
				return Match{PasswordHash, i, end}, true
			}
		}
		return Match{}, false
	case c == '-':
		if set.Has(CardNumber) && i+1+minCardDigits <= len(s) && isDigit(s[i+1]) {
			if end, ok := numberCardAt(s, i); ok {
				return Match{CardNumber, i, end}, true
			}
		}
		if set.Has(PrivateKey) {
			if end, ok := privateKeyAt(s, i); ok {
				return Match{PrivateKey, i, end}, true
			}
		}
	}
	// A JWT is taken wherever it starts, even glued to other text: its
	// "eyJ" header and dotted base64url parts are specific enough.
	if set.Has(JWT) && c == 'e' {
		if end, ok := jwtAt(s, i); ok {
			return Match{JWT, i, end}, true
		}
	}
	if isAlpha(c) && (i == 0 || !isWordByte(s[i-1])) {
		if set.Has(BearerToken) && (c == 'B' || c == 'b') {
			if start, end, ok := bearerAt(s, i); ok {
				return Match{BearerToken, start, end}, true
			}
		}
		if set.Has(APIKey) {
			if end, ok := apiKeyAt(s, i); ok {
				return Match{APIKey, i, withAWSSecret(s, i, end)}, true
			}
		}
		if set.Has(IBAN) && i+3 < len(s) && isDigit(s[i+2]) && isAlpha(s[i+1]) {
			if end, ok := ibanAt(s, i); ok {
				return Match{IBAN, i, end}, true
			}
		}
		if set.Has(PasswordHash) && (c == 'p' || c == 'a' || c == 'b' || c == 's') {
			if end, ok := hashAt(s, i); ok {
				return Match{PasswordHash, i, end}, true
			}
		}
	}
	// An AWS secret access key after its access key id or its name.
	if set.Has(APIKey) && i > 0 && i+awsSecretLen <= len(s) && isAlnum(c) && !isStdB64(s[i-1]) && isStdB64(s[i+awsSecretLen-1]) {
		if end, ok := awsSecretInText(s, i); ok {
			return Match{APIKey, i, end}, true
		}
	}
	// An email is found at the start of its local part.
	if set.Has(Email) && isLocalByte(c) && (i == 0 || !isLocalByte(s[i-1])) {
		j := i
		for j < len(s) && isLocalByte(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '@' {
			if start, end, ok := emailAround(s, j); ok && start == i {
				return Match{Email, start, end}, true
			}
		}
	}
	return Match{}, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// isWordByte is a byte that continues a token: a key or token starting right
// after one is not at a boundary.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

// isB64URL is a base64url byte (RFC 4648 §5).
func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }
