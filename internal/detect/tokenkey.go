package detect

//go:generate go run gen_bigrams.go $GOROOT/src

// Object keys that are random tokens. A map keyed by session ids or reset
// tokens ({"sessions":{"vKtQpZrXbYwVmNcLdFgHjAsE":{…}}}) would put the
// tokens in every field path, so IsDataKey takes a key for data when it
// reads as random rather than as words. Field names are built of words
// (camelCase, snake_case, kebab-case, acronyms, a version or algorithm
// number at a word's end), whose letters follow each other the way
// English's do; a random token's letters do not, and its digits fall
// between letters. looksRandom measures how surprising a key's letter
// pairs are to a model of English identifiers and prose (bigramCost,
// trained on the Go distribution's sources, not on any API description).

// minTokenKey is the fewest letters and digits a key needs to be judged
// random; shorter ones ("userId2", "v1") are too short to tell, and carry
// little of a secret.
const minTokenKey = 12

// minTokenPart is the fewest a part between separators needs to be judged
// on its own ("rst-KqWmZpXnVbTy", "password_reset_token_9fK2…": a prefix
// of words would otherwise dilute the token).
const minTokenPart = 10

// maxWordCost is the mean cost of a key's letter pairs, in eighths of a
// bit, from which it reads as random: English names average 3 to 4.5
// bits a pair (GitHub's and Envoy's property names 5.2 at most), random
// letters 6.7.
const maxWordCost = 43 // 5.375 bits

// interiorDigitCost is what a run of digits between two letters adds, as
// one more pair: names put digits at a word's end ("line2", "sha256",
// "ipv4Address"), random tokens anywhere.
const interiorDigitCost = 64 // 8 bits

// singleLetterCost is what a one-letter word past a key's first adds, as
// one more pair: names have few ("getX", "withAName"), random mixed-case
// tokens many.
const singleLetterCost = 48 // 6 bits

// caseChangeCost is what a change of case inside a run of letters (a new
// word: "created|At") adds, as one more pair: names change case every
// few letters, random mixed-case tokens every other one.
const caseChangeCost = 48 // 6 bits

// looksRandom reports whether k, a key of identifier bytes
// ([A-Za-z0-9_$-]), reads as a random token rather than as a field name:
// the whole key, or one of its parts between separators.
func looksRandom(k string) bool {
	if alnumCount(k) >= minTokenKey && surprising(k) {
		return true
	}
	for start := 0; start < len(k); {
		end := start
		for end < len(k) && isAlnum(k[end]) {
			end++
		}
		if end-start >= minTokenPart && end-start < len(k) && surprising(k[start:end]) {
			return true
		}
		start = end + 1
	}
	return false
}

func alnumCount(k string) int {
	n := 0
	for i := 0; i < len(k); i++ {
		if isAlnum(k[i]) {
			n++
		}
	}
	return n
}

// surprising splits s into words and reports whether the mean cost of
// their letter pairs (bigramCost) and interior digit runs reaches
// maxWordCost. A word is a run of digits, a capitalised or lower-case
// run of letters ("created", "At"), or an upper-case run ("HTTP"; the
// last capital before a lower-case letter starts the next word:
// "HTTPServer" is "HTTP", "Server"); anything else ends a word.
func surprising(s string) bool {
	cost, pairs := 0, 0
	for i := 0; i < len(s); {
		c := s[i]
		if !isAlnum(c) {
			i++
			continue
		}
		j := i + 1
		switch {
		case isDigit(c):
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if i > 0 && isAlpha(s[i-1]) && j < len(s) && isAlpha(s[j]) {
				cost += interiorDigitCost
				pairs++
			}
			i = j
			continue
		case isLower(c):
			for j < len(s) && isLower(s[j]) {
				j++
			}
		default:
			for j < len(s) && isUpper(s[j]) {
				j++
			}
			switch {
			case j == i+1:
				for j < len(s) && isLower(s[j]) {
					j++
				}
			case j < len(s) && isLower(s[j]):
				j--
			}
		}
		for k := i + 1; k < j; k++ {
			cost += int(bigramCost[(s[k-1]|0x20)-'a'][(s[k]|0x20)-'a'])
			pairs++
		}
		if i > 0 && isAlpha(s[i-1]) {
			// A case change inside a run of letters: a new word.
			cost += caseChangeCost
			pairs++
		}
		if j == i+1 && i > 0 {
			// A letter alone, past the first word ("KqWmZ").
			cost += singleLetterCost
			pairs++
		}
		i = j
	}
	return pairs > 0 && cost >= maxWordCost*pairs
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// numberedWords are words of field names that hold more digits than
// letters: algorithms, encodings and types ("SHA256_ED25519", GitHub's
// name of an SSH signing key type).
var numberedWords = map[string]bool{
	"md5": true, "sha1": true, "sha224": true, "sha256": true, "sha384": true, "sha512": true,
	"ed25519": true, "ed448": true, "x25519": true, "x448": true, "p256": true, "p384": true, "p521": true,
	"rsa2048": true, "rsa3072": true, "rsa4096": true, "aes128": true, "aes192": true, "aes256": true,
	"crc32": true, "crc64": true, "utf8": true, "utf16": true, "utf32": true, "base32": true, "base64": true,
	"ipv4": true, "ipv6": true, "x509": true, "pkcs12": true, "int64": true, "uint64": true, "int32": true,
	"uint32": true, "int16": true, "uint16": true, "float32": true, "float64": true, "oauth2": true,
}

// numberedName reports whether k has no more digits than letters once
// the digits of numberedWords among its '_', '-' or '$' separated parts
// count as letters.
func numberedName(k string) bool {
	letters, digits := 0, 0
	for start := 0; start <= len(k); {
		end := start
		for end < len(k) && isAlnum(k[end]) {
			end++
		}
		part := k[start:end]
		var lower [8]byte
		known := len(part) <= len(lower)
		for i := 0; known && i < len(part); i++ {
			lower[i] = part[i] | 0x20
		}
		known = known && numberedWords[string(lower[:len(part)])]
		for i := 0; i < len(part); i++ {
			if isDigit(part[i]) && !known {
				digits++
			} else {
				letters++
			}
		}
		start = end + 1
	}
	return digits <= letters
}
