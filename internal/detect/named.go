package detect

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Values only their name makes secret. A 64-character hex string is a
// commit, a checksum or an id, and a 40-character base64 string a nonce,
// until the field that holds it is called "password_hash" or
// "aws_secret_access_key": then it is an unsalted password digest or an
// AWS secret access key, which a reader takes for one.

// ClassifyUnder is Classify of a value under a name (an object key, a form
// or header field), which adds the values their name makes secret: a hex
// digest (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512) under a
// password name (isPasswordName) is a PasswordHash, and a 40-character AWS
// secret access key under its name (isAWSSecretName) an APIKey.
func ClassifyUnder(name, s string, set Set) (Class, bool) {
	if c, ok := Classify(s, set); ok {
		return c, true
	}
	return classifyNamed(name, s, set)
}

// CanClassifyUnder is CanClassify for ClassifyUnder: false only when
// ClassifyUnder must fail.
func CanClassifyUnder(name, s string, set Set) bool {
	return CanClassify(s, set) || namedClasses(name, set) != 0
}

// NameClassifies reports whether name alone can make a value under it of
// a class in set (ClassifyUnder: a hex digest under "password_hash"): a
// value ruled out by its content alone (CanClassify, CanClassifyJSON with
// no name) may still be one under such a name.
func NameClassifies(name string, set Set) bool { return namedClasses(name, set) != 0 }

// namedClasses is the classes of set that name makes values of.
func namedClasses(name string, set Set) Set {
	if !set.Has(PasswordHash) && !set.Has(APIKey) || !maySecretName(name) {
		return 0
	}
	var out Set
	if set.Has(PasswordHash) && isPasswordName(name) {
		out |= SetOf(PasswordHash)
	}
	if set.Has(APIKey) && isAWSSecretName(name) {
		out |= SetOf(APIKey)
	}
	return out
}

func classifyNamed(name, s string, set Set) (Class, bool) {
	named := namedClasses(name, set)
	if named == 0 {
		return 0, false
	}
	v, _ := visible(s)
	v = strings.TrimSpace(v)
	switch {
	case named.Has(PasswordHash) && isHexDigest(v):
		return PasswordHash, true
	case named.Has(APIKey) && isAWSSecret(v):
		return APIKey, true
	}
	return 0, false
}

// maySecretName is false for most names at the cost of one pass over
// their bytes, as every value's name is asked: a password's or an AWS
// secret's name has "ss" (pass), "wd" (pwd, passwd) or "cr" (secret),
// in any case, or a character outside ASCII (which may fold to one of
// those letters: AppendNormalizedName).
func maySecretName(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return true
		}
		if i == 0 {
			continue
		}
		switch a, b := name[i-1]|0x20, name[i]|0x20; {
		case a == 's' && b == 's', a == 'w' && b == 'd', a == 'c' && b == 'r':
			return true
		}
	}
	return false
}

// AppendNormalizedName appends name lower-cased without '_', '-', '.',
// spaces and invisible characters, so that "password_hash",
// "passwordHash", "Password-Hash" and "pass<U+200B>word_hash" are one
// name; dashes and characters drawn like '.' or '_' are left out as
// those are. A character outside ASCII that case folding equates with an
// ASCII letter (ſ with s, the Kelvin sign with k) is that letter: Go's
// encoding/json, among others, binds "paſſword" to a Password field; so
// is one drawn as a Latin letter (Cyrillic р and а in "раssword":
// latinLookAlike), and one whose NFKC form is one (ｐａｓｓ, 𝐩𝐚𝐬𝐬).
func AppendNormalizedName(dst []byte, name string) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		switch {
		case nameSeparator(c) || isASCIISpace(c) || invisibleASCII(c):
		case c < utf8.RuneSelf:
			dst = append(dst, lowerASCII(c))
		default:
			// Read as a person reads it (VisibleRune): invisible
			// characters dropped, spaces, dashes and look-alike
			// separators left out like their ASCII forms.
			r, n := utf8.DecodeRuneInString(name[i:])
			v := VisibleRune(r)
			switch {
			case v < 0 || v < utf8.RuneSelf && nameSeparator(byte(v)):
			case v < utf8.RuneSelf:
				dst = append(dst, lowerASCII(byte(v)))
			default:
				if a := latinLetter(r); a != 0 {
					dst = append(dst, a)
				} else {
					dst = append(dst, name[i:i+n]...)
				}
			}
			i += n
			continue
		}
		i++
	}
	return dst
}

// nameSeparator reports a byte a name is written with between its words
// ("password_hash", "Password-Hash", "password hash").
func nameSeparator(c byte) bool { return c == '_' || c == '-' || c == '.' || c == ' ' }

// latinLetter is the lower-case ASCII letter a name's character outside
// ASCII stands for (asciiFold, then latinLookAlike), or 0.
func latinLetter(r rune) byte {
	if a := asciiFold(r); a != 0 {
		return a
	}
	return latinLookAlike(r)
}

// latinLookAlike is the lower-case ASCII letter a Cyrillic or Greek letter
// is drawn as (Unicode's confusables.txt), or 0: "раssword" with a
// Cyrillic р and а is "password" to a reader. Only names are read so:
// values in those scripts are text of their own.
func latinLookAlike(r rune) byte {
	switch r {
	case 0x0430, 0x0410, 0x0391, 0x03B1:
		return 'a'
	case 0x0412, 0x0392, 0x0432:
		return 'b'
	case 0x0441, 0x0421:
		return 'c'
	case 0x0501:
		return 'd'
	case 0x0435, 0x0415, 0x0395:
		return 'e'
	case 0x041D, 0x0397, 0x04BB:
		return 'h'
	case 0x0456, 0x0406, 0x0399, 0x03B9:
		return 'i'
	case 0x0458, 0x0408:
		return 'j'
	case 0x041A, 0x039A, 0x03BA:
		return 'k'
	case 0x04CF:
		return 'l'
	case 0x041C, 0x039C:
		return 'm'
	case 0x039D:
		return 'n'
	case 0x043E, 0x041E, 0x039F, 0x03BF:
		return 'o'
	case 0x0440, 0x0420, 0x03A1, 0x03C1:
		return 'p'
	case 0x051B:
		return 'q'
	case 0x0455, 0x0405:
		return 's'
	case 0x0422, 0x03A4:
		return 't'
	case 0x03BD:
		return 'v'
	case 0x051D:
		return 'w'
	case 0x0445, 0x0425, 0x03A7, 0x03C7:
		return 'x'
	case 0x0443, 0x04AF, 0x03A5, 0x03B3:
		return 'y'
	case 0x0396:
		return 'z'
	}
	return 0
}

// asciiFold is the lower-case ASCII letter r case-folds to, or 0.
func asciiFold(r rune) byte {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return byte(f) | 0x20
		}
	}
	return 0
}

// isPasswordName reports a name of a password or of its hash: it holds
// "password", "passwd", "pwd" or "passphrase" ("password_hash", "passwd",
// "pwd_hash", "hashed_password", "userPassword"), or is "pass" with
// "hash" or "digest" ("pass_hash").
func isPasswordName(name string) bool {
	if len(name) > maxIdentifier {
		return false
	}
	var buf [maxIdentifier]byte
	n := string(AppendNormalizedName(buf[:0], name))
	for _, w := range [...]string{"password", "passwd", "pwd", "passphrase"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return strings.Contains(n, "pass") && (strings.Contains(n, "hash") || strings.Contains(n, "digest"))
}

// isAWSSecretName reports a name of an AWS secret access key: one holding
// "secretaccesskey" (AWS's "SecretAccessKey", "aws_secret_access_key"), or
// "aws" with "secret" ("awsSecretKey", "AWS_SECRET").
func isAWSSecretName(name string) bool {
	if len(name) > maxIdentifier {
		return false
	}
	var buf [maxIdentifier]byte
	n := string(AppendNormalizedName(buf[:0], name))
	return strings.Contains(n, "secretaccesskey") || strings.Contains(n, "aws") && strings.Contains(n, "secret")
}

// isHexDigest reports whether s is the hex of an MD5, SHA-1, SHA-224,
// SHA-256, SHA-384 or SHA-512 digest, in one case.
func isHexDigest(s string) bool {
	switch len(s) {
	case 32, 40, 56, 64, 96, 128:
	default:
		return false
	}
	lower, upper := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
		case c >= 'a' && c <= 'f':
			lower = true
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return false
		}
	}
	return !(lower && upper)
}

// awsSecretLen is the length of an AWS secret access key: 40 characters
// of base64 ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWS's example).
const awsSecretLen = 40

// isAWSSecret reports whether s is an AWS secret access key's form: 40
// characters of [A-Za-z0-9+/] with upper and lower case letters and a
// digit, '+' or '/'.
func isAWSSecret(s string) bool {
	return len(s) == awsSecretLen && awsSecretAt(s, 0) == awsSecretLen
}

func isStdB64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }

// awsSecretAt is the length of the AWS secret access key at s[i] (see
// isAWSSecret), 0 when there is none or it runs on into more base64.
func awsSecretAt(s string, i int) int {
	if len(s)-i < awsSecretLen {
		return 0
	}
	lower, upper, other := false, false, false
	for k := i; k < i+awsSecretLen; k++ {
		c := s[k]
		switch {
		case isLower(c):
			lower = true
		case isUpper(c):
			upper = true
		case isDigit(c) || c == '+' || c == '/':
			other = true
		default:
			return 0
		}
	}
	if end := i + awsSecretLen; end < len(s) && (isStdB64(s[end]) || s[end] == '=') || !(lower && upper && other) {
		return 0
	}
	return awsSecretLen
}

// maxSecretGap bounds what may stand between an AWS access key id and its
// secret in text for the two to be read together: separators and a field
// name (`AKIA…:wJal…`, `"AKIA…","SecretAccessKey":"wJal…"`,
// `aws_access_key_id=AKIA… aws_secret_access_key=wJal…`).
const maxSecretGap = 48

// isGapByte may stand between an access key id and its secret.
func isGapByte(c byte) bool {
	return isAlpha(c) || strings.IndexByte("_- \t\r\n:=,;|\"'", c) >= 0
}

// awsSecretInText reports whether an AWS secret access key starts at s[i]
// in text and where it ends: 40 characters of its form, at a token
// boundary, after an AWS access key id (AKIA…, ASIA…) or after its name
// ("aws_secret_access_key=", `"SecretAccessKey":"`), with at most
// maxSecretGap bytes of separators and names between.
func awsSecretInText(s string, i int) (int, bool) {
	end := i + awsSecretLen
	if i == 0 || end > len(s) || isStdB64(s[i-1]) || !isStdB64(s[end-1]) || end < len(s) && isStdB64(s[end]) || awsSecretAt(s, i) == 0 {
		return 0, false // most positions: two byte checks
	}
	// The name just before: separators, then a name.
	k := i
	for k > 0 && i-k < 4 && strings.IndexByte(" \t:=\"'", s[k-1]) >= 0 {
		k--
	}
	n := k
	for n > 0 && k-n < maxIdentifier && (isAlnum(s[n-1]) || s[n-1] == '_' || s[n-1] == '-') {
		n--
	}
	if n < k && isAWSSecretName(s[n:k]) {
		return i + awsSecretLen, true
	}
	// An access key id before, with only separators and names between.
	from := max(0, i-maxSecretGap-20)
	for _, prefix := range [...]string{"AKIA", "ASIA"} {
		at := strings.LastIndex(s[from:i], prefix)
		if at < 0 {
			continue
		}
		at += from
		end, ok := apiKeyAt(s, at)
		if !ok || end > i || i-end > maxSecretGap {
			continue
		}
		gap := true
		for g := end; g < i && gap; g++ {
			gap = isGapByte(s[g])
		}
		if gap {
			return i + awsSecretLen, true
		}
	}
	return 0, false
}

// withAWSSecret extends the API key s[i:end] over the AWS secret access
// key right after it when it is an AWS access key id ("AKIA…:wJal…", "AKIA…
// wJal…"): one credential, one value.
func withAWSSecret(s string, i, end int) int {
	if !strings.HasPrefix(s[i:], "AKIA") && !strings.HasPrefix(s[i:], "ASIA") {
		return end
	}
	k := end
	for k < len(s) && k-end < 3 && strings.IndexByte(": \t,;|", s[k]) >= 0 {
		k++
	}
	if k > end && awsSecretAt(s, k) > 0 {
		return k + awsSecretLen
	}
	return end
}
