package detect

// maxIdentifier is the longest object key taken for a field name (GitHub's
// longest property name has 66 characters).
const maxIdentifier = 96

// IsDataKey reports whether an object key (a field-path segment) is data
// rather than a field name, so that a path recording it would log the data:
// a number, a UUID, an email address, a card number or any other detected
// value, a long hex or digit run (ids, hashes), a random token (see
// looksRandom), or anything that is not a plausible identifier. A
// plausible identifier is 1 to 96 characters of letters, digits, '_', '-'
// and '$', optionally after one leading '@' or '$' (JSON-LD "@id",
// "$ref"), starting with a letter or '_', with fewer digits than letters
// (algorithm and type names such as "sha256" or "ed25519" aside) and no
// run of six digits, whose letters read as words. Keys such as "email",
// "user_id", "addressLine2", "X-Request-Id", "SHA256_ED25519", "@type" and
// GitHub's reactions "+1" and "-1" are names; "4111111111111111",
// "alice@example.com", "9f8e7d6c5b4a3f2e", "u12345678",
// "vKtQpZrXbYwVmNcLdFgHjAsE" and "rst-KqWmZpXnVbTyLr" are data. The
// field-path syntax's escapes (a backslash before '.') are ignored.
func IsDataKey(key string) bool {
	if key == "" || isVote(key) {
		return false
	}
	if isUUID(key) || Contains(key, All) {
		return true
	}
	k := key
	if k[0] == '@' || k[0] == '$' {
		k = k[1:]
	}
	if k == "" || len(k) > maxIdentifier || !(isAlpha(k[0]) || k[0] == '_') {
		return true
	}
	letters, digits, run, hexOnly := 0, 0, 0, true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case isAlpha(c):
			letters++
			run = 0
			if !(c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				hexOnly = false
			}
		case isDigit(c):
			digits++
			run++
			if run >= 6 {
				return true
			}
		case c == '_' || c == '-' || c == '$':
			run = 0
			hexOnly = false
		default:
			return true
		}
	}
	if digits > letters && !numberedName(k) || hasDataAfterUnderscore(k) || looksRandom(k) {
		return true
	}
	// A hex string with digits, 12 characters or more: a hash or an id.
	return hexOnly && digits > 0 && len(k) >= 12
}

// isVote reports a sign and one digit: GitHub's reaction names "+1" and
// "-1". Twenty such keys at most, so the inventory stays bounded.
func isVote(k string) bool {
	return len(k) == 2 && (k[0] == '+' || k[0] == '-') && isDigit(k[1])
}

// hasDataAfterUnderscore reports whether a value a detector finds starts
// right after a '_' in k ("key_AKIAIOSFODNN7EXAMPLE",
// "ssn_of_bob_078-05-1120", "tok_ghp_..."): the detectors need a word
// boundary before a value, and '_' is a word byte, so the whole key hides it.
func hasDataAfterUnderscore(k string) bool {
	for i := 0; i+8 < len(k); i++ {
		if k[i] == '_' && Contains(k[i+1:], All) {
			return true
		}
	}
	return false
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form (RFC 9562 §4).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
