package detect

import "strings"

// Private keys in PEM and password hashes in their published string formats.

// pemDashes is the shortest run of dashes taken for a PEM boundary's:
// RFC 7468 writes five, and a reader takes four ("----BEGIN …----") for
// the same boundary.
const pemDashes = "----"

// privateKeyLabels are the PEM labels of private keys: RFC 7468 §10 and §11
// ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), the legacy OpenSSL labels of
// RFC 7468 §13 ("RSA", "EC", "DSA" private keys), OpenSSH's own format
// (PROTOCOL.key) and OpenPGP's armor (RFC 4880 §6.2).
var privateKeyLabels = []string{
	"PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY",
	"OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK",
}

// privateKeyAt reports whether a PEM private key starts at s[i] and where it
// ends: the encapsulation boundary "-----BEGIN <label>-----" with a private
// key label, then through the matching "-----END <label>-----" when it
// follows, else to the end of s, so that masking takes the key material
// even when the footer was cut off. As a reader takes them, the boundary
// may be in any case ("-----begin rsa private key-----") and its dashes
// four or five.
func privateKeyAt(s string, i int) (int, bool) {
	body, label := pemHeaderEnd(s, i)
	if body == 0 {
		return 0, false
	}
	if end, ok := pemFooter(s, body, label); ok {
		return end, true
	}
	return len(s), true
}

// pemHeaderEnd is where the private key's PEM header at s[i] ends, and its
// label; 0 when there is none: four or five dashes not after another,
// "BEGIN " and a label of privateKeyLabels in any ASCII case, then four
// dashes or more. It reads strings and byte slices alike (KeyFinder).
func pemHeaderEnd[T ~string | ~[]byte](s T, i int) (int, string) {
	if i > 0 && s[i-1] == '-' {
		return 0, ""
	}
	j := i
	for j < len(s) && j-i < 5 && s[j] == '-' {
		j++
	}
	if j-i < len(pemDashes) || !foldPrefix(s, j, "begin ") {
		return 0, ""
	}
	j += len("begin ")
	for _, label := range privateKeyLabels {
		if !foldPrefix(s, j, label) {
			continue
		}
		e, d := j+len(label), 0
		for e+d < len(s) && d < 5 && s[e+d] == '-' {
			d++
		}
		if d >= len(pemDashes) {
			return e + d, label
		}
	}
	return 0, ""
}

// foldPrefix reports whether s[i:] starts with p, ASCII letters in either
// case (only ASCII: "K" is not the Kelvin sign here).
func foldPrefix[T ~string | ~[]byte](s T, i int, p string) bool {
	if len(s)-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if lowerASCII(s[i+k]) != lowerASCII(p[k]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// pemFooter finds, from s[from:], the footer "-----END <label>-----" in
// any case and with four or five dashes, and returns where it ends.
func pemFooter(s string, from int, label string) (int, bool) {
	for k := from; ; {
		d := strings.Index(s[k:], pemDashes)
		if d < 0 {
			return 0, false
		}
		k += d
		j := k + dashRun(s[k:], 5)
		if foldPrefix(s, j, "end ") && foldPrefix(s, j+len("end "), label) {
			e := j + len("END ") + len(label)
			if n := dashRun(s[e:], 5); n >= len(pemDashes) {
				return e + n, true
			}
		}
		k = j
	}
}

// dashRun is the length of the run of '-' at the start of s, at most max.
func dashRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && s[n] == '-' {
		n++
	}
	return n
}

// hasPrefixFold reports whether s starts with prefix, ASCII case aside.
func hasPrefixFold(s, prefix string) bool { return foldPrefix(s, 0, prefix) }

// privateKeyIn reports whether a private key starts anywhere in s
// (privateKeyAt), in one pass over s.
func privateKeyIn(s string) bool {
	for i := 0; ; {
		k := strings.Index(s[i:], pemDashes)
		if k < 0 {
			return false
		}
		i += k
		if _, ok := privateKeyAt(s, i); ok {
			return true
		}
		for i < len(s) && s[i] == '-' {
			i++
		}
	}
}

// Password hashes. Each format is the one its reference implementation
// writes:
//   - bcrypt (OpenBSD bcrypt(3)): "$2a$", "$2b$", "$2x$" or "$2y$", a two-digit
//     cost 04-31, "$", then 53 characters of bcrypt's base64 (22 salt, 31
//     hash): 60 characters.
//   - PHC string format (github.com/P-H-C/phc-string-format), as the
//     reference argon2 and passlib write it: "$argon2i$", "$argon2d$",
//     "$argon2id$" or "$scrypt$", an optional "v=<digits>$", parameters
//     "name=<digits>" separated by commas, "$", a salt and a hash of
//     base64 characters (at least 11 and 16); passlib's PBKDF2
//     ("$pbkdf2$", "$pbkdf2-sha1$", "$pbkdf2-sha256$", "$pbkdf2-sha512$")
//     has the rounds alone as its parameter.
//   - Django's PBKDF2 ("pbkdf2_sha256$<rounds>$<salt>$<base64 hash>", also
//     "pbkdf2_sha1") and its wrappers of the above ("argon2$argon2id$...",
//     "bcrypt$$2b$...", "bcrypt_sha256$$2b$...").
//   - Werkzeug's PBKDF2 ("pbkdf2:sha256:<rounds>$<salt>$<hex hash>").
//   - Werkzeug's and Django's scrypt (frameworkScryptHash) and the crypt(3)
//     formats of libxcrypt: SHA-crypt, yescrypt, scrypt (cryptHash).

const (
	bcryptLen   = 60
	minHashSalt = 8
	minHashHash = 16
)

// hashAt reports whether a password hash starts at s[i] and where it ends.
// The hash must not run on into more hash characters.
func hashAt(s string, i int) (int, bool) {
	rest := s[i:]
	var end int
	switch {
	case rest == "" || len(rest) < 20:
		return 0, false
	case rest[0] == '$':
		end = modularHash(rest)
	case rest[0] == 'p':
		end = pbkdf2Hash(rest)
	case rest[0] == 's':
		end = frameworkScryptHash(rest)
	case strings.HasPrefix(rest, "argon2$argon2"):
		// Django writes "argon2" then the PHC string.
		if n := modularHash(rest[len("argon2"):]); n > 0 {
			end = len("argon2") + n
		}
	case strings.HasPrefix(rest, "bcrypt$$2"), strings.HasPrefix(rest, "bcrypt_sha256$$2"):
		// Django writes its algorithm name and "$" before the bcrypt hash.
		k := strings.IndexByte(rest, '$') + 1
		if n := modularHash(rest[k:]); n == bcryptLen {
			end = k + n
		}
	}
	if end == 0 {
		return 0, false
	}
	return i + end, true
}

// modularHash is the length of the bcrypt or PHC hash at the start of s
// ('$'), 0 when there is none.
func modularHash(s string) int {
	if len(s) >= bcryptLen && s[1] == '2' && strings.IndexByte("abxy", s[2]) >= 0 && s[3] == '$' &&
		isDigit(s[4]) && isDigit(s[5]) && s[6] == '$' {
		cost := int(s[4]-'0')*10 + int(s[5]-'0')
		if cost < 4 || cost > 31 || run(s[7:], isBcryptB64) != bcryptLen-7 {
			return 0
		}
		if bcryptLen < len(s) && isHashByte(s[bcryptLen]) {
			return 0
		}
		return bcryptLen
	}
	if n := cryptHash(s); n > 0 {
		return n
	}
	id, rest, ok := strings.Cut(s[1:], "$")
	if !ok {
		return 0
	}
	params := "kv"
	switch id {
	case "argon2i", "argon2d", "argon2id", "scrypt":
	case "pbkdf2", "pbkdf2-sha1", "pbkdf2-sha256", "pbkdf2-sha512":
		params = "rounds"
	default:
		return 0
	}
	n := 1 + len(id) + 1
	if params == "kv" && strings.HasPrefix(rest, "v=") {
		k := 2 + run(rest[2:], isDigit)
		if k == 2 || k >= len(rest) || rest[k] != '$' {
			return 0
		}
		rest, n = rest[k+1:], n+k+1
	}
	var k int
	if params == "rounds" {
		k = run(rest, isDigit)
	} else {
		k = kvParams(rest)
	}
	if k == 0 || k >= len(rest) || rest[k] != '$' {
		return 0
	}
	m := saltAndHash(rest[k+1:], isPHCB64)
	if m == 0 {
		return 0
	}
	return n + k + 1 + m
}

// kvParams is the length of "name=digits[,name=digits...]" at the start of
// s, 0 when there is none.
func kvParams(s string) int {
	i := 0
	for {
		k := run(s[i:], isLowerAlnum)
		if k == 0 || i+k >= len(s) || s[i+k] != '=' {
			return 0
		}
		i += k + 1
		d := run(s[i:], isDigit)
		if d == 0 {
			return 0
		}
		i += d
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		return i
	}
}

// saltAndHash is the length of "salt$hash" at the start of s, both runs of
// alphabet with the minimum lengths, 0 when there is none.
func saltAndHash(s string, alphabet func(byte) bool) int {
	salt := run(s, alphabet)
	if salt < minHashSalt || salt >= len(s) || s[salt] != '$' {
		return 0
	}
	hash := run(s[salt+1:], alphabet)
	for salt+1+hash < len(s) && s[salt+1+hash] == '=' {
		hash++
	}
	end := salt + 1 + hash
	if hash < minHashHash || end < len(s) && isHashByte(s[end]) {
		return 0
	}
	return end
}

// pbkdf2Hash is the length of a Django or Werkzeug PBKDF2 hash at the start
// of s, 0 when there is none.
func pbkdf2Hash(s string) int {
	var n int
	switch {
	case strings.HasPrefix(s, "pbkdf2_sha256$"), strings.HasPrefix(s, "pbkdf2_sha1$"):
		n = strings.IndexByte(s, '$') + 1
	case strings.HasPrefix(s, "pbkdf2:sha256:"), strings.HasPrefix(s, "pbkdf2:sha512:"), strings.HasPrefix(s, "pbkdf2:sha1:"):
		n = strings.LastIndexByte(s[:len("pbkdf2:sha256:")], ':') + 1
	default:
		return 0
	}
	d := run(s[n:], isDigit)
	if d == 0 || n+d >= len(s) || s[n+d] != '$' {
		return 0
	}
	m := saltAndHash(s[n+d+1:], isPHCB64)
	if m == 0 {
		return 0
	}
	return n + d + 1 + m
}

// cryptHash is the length of the crypt(3) hash at the start of s, as
// libxcrypt writes them, 0 when there is none: SHA-crypt ("$6$", "$5$",
// optional "rounds=<n>$", a salt of up to 16 characters, "$", 86 or 43
// characters), yescrypt ("$y$<params>$<salt>$" and 43), scrypt ("$7$",
// 11 characters of parameters and the salt, "$", 43) and MD5-crypt
// ("$1$", Apache's "$apr1$": a salt of up to 8 characters, "$", 22), all
// in crypt's base64 ("./0-9A-Za-z").
func cryptHash(s string) int {
	var id byte // the format: '1', '5', '6', '7' or 'y'
	i := 3      // where its fields start
	switch {
	case strings.HasPrefix(s, "$apr1$"):
		id, i = '1', len("$apr1$") // Apache's MD5-crypt
	case len(s) >= 4 && s[0] == '$' && s[2] == '$':
		id = s[1]
	default:
		return 0
	}
	fields, hashLen := 1, 43 // "$"-separated fields before the hash, its length
	switch id {
	case '6':
		hashLen = 86
	case '5':
	case 'y':
		fields = 2
	case '7':
	case '1':
		hashLen = 22
	default:
		return 0
	}
	if (id == '6' || id == '5') && strings.HasPrefix(s[i:], "rounds=") {
		d := run(s[i+len("rounds="):], isDigit)
		i += len("rounds=") + d
		if d == 0 || i >= len(s) || s[i] != '$' {
			return 0
		}
		i++
	}
	for f := 0; f < fields; f++ {
		k := run(s[i:], isBcryptB64)
		if k == 0 || i+k >= len(s) || s[i+k] != '$' ||
			id == '7' && k < 12 || (id == '6' || id == '5') && k > 16 || id == '1' && k > 8 {
			return 0
		}
		i += k + 1
	}
	h := run(s[i:], isBcryptB64)
	if h != hashLen || i+h < len(s) && isHashByte(s[i+h]) {
		return 0
	}
	return i + h
}

// frameworkScryptHash is the length of a Werkzeug or Django scrypt hash at the
// start of s, 0 when there is none: Werkzeug's
// "scrypt:<n>:<r>:<p>$<salt>$<128 hex>", Django's
// "scrypt$<n>$<salt>$<r>$<p>$<base64 hash>".
func frameworkScryptHash(s string) int {
	var i int
	switch {
	case strings.HasPrefix(s, "scrypt:"):
		i = field(s, len("scrypt:"), isDigit, 1, ':') // n
		i = field(s, i, isDigit, 1, ':')              // r
		i = field(s, i, isDigit, 1, '$')              // p
		i = field(s, i, isPHCB64, minHashSalt, '$')   // salt
		if i < 0 {
			return 0
		}
		h := run(s[i:], isHex)
		if h != 128 || i+h < len(s) && isHashByte(s[i+h]) {
			return 0
		}
		return i + h
	case strings.HasPrefix(s, "scrypt$"):
		i = field(s, len("scrypt$"), isDigit, 1, '$') // n
		i = field(s, i, isPHCB64, minHashSalt, '$')   // salt
		i = field(s, i, isDigit, 1, '$')              // r
		i = field(s, i, isDigit, 1, '$')              // p
		if i < 0 {
			return 0
		}
		h := run(s[i:], isPHCB64)
		for i+h < len(s) && s[i+h] == '=' {
			h++
		}
		if h < minHashHash || i+h < len(s) && isHashByte(s[i+h]) {
			return 0
		}
		return i + h
	}
	return 0
}

// field reads, from s[i:], a run of at least min bytes of alphabet ended by
// sep, and returns the index after sep; -1 when there is none, or when i is
// already -1, so that a format's fields chain.
func field(s string, i int, alphabet func(byte) bool, min int, sep byte) int {
	if i < 0 {
		return -1
	}
	n := run(s[i:], alphabet)
	if n < min || i+n >= len(s) || s[i+n] != sep {
		return -1
	}
	return i + n + 1
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// run is the length of the run of bytes of alphabet at the start of s.
func run(s string, alphabet func(byte) bool) int {
	for i := 0; i < len(s); i++ {
		if !alphabet(s[i]) {
			return i
		}
	}
	return len(s)
}

func isLowerAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' }

// isBcryptB64 is bcrypt's base64 alphabet: "./A-Za-z0-9".
func isBcryptB64(c byte) bool { return isAlnum(c) || c == '.' || c == '/' }

// isPHCB64 is the B64 of the PHC format ([A-Za-z0-9+/]) plus passlib's
// adapted base64 ('.') used by its PBKDF2 hashes.
func isPHCB64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' || c == '.' }

// isHashByte continues a hash: a match must not stop inside one.
func isHashByte(c byte) bool { return isPHCB64(c) || c == '$' || c == '=' }
