package detect

import "strings"

// isLocalByte is a byte of an email dot-atom local part (RFC 5322 §3.2.3
// atext, plus '.'), less the rarely used "!#$&'*/=?^`{|}~" that also
// delimit values in query strings and logs.
// A table: it is asked for every byte of a word (Scan, canStart), and
// in Wasm each comparison of the expression is a branch.
func isLocalByte(c byte) bool { return localBytes[c] }

var localBytes = func() (t [256]bool) {
	for c := range t {
		b := byte(c)
		t[c] = isAlnum(b) || b == '.' || b == '_' || b == '%' || b == '+' || b == '-'
	}
	return t
}()

const (
	maxLocalPart = 64  // RFC 5321 §4.5.3.1.1
	maxDomain    = 255 // RFC 5321 §4.5.3.1.2
)

// emailAround reports whether s[at] ('@') is inside an email address and
// its bounds. The local part is the run of local bytes before '@' (not
// starting or ending with '.'); the domain is two or more LDH labels
// separated by dots, the last alphabetic and at least two letters long.
// A backslash before a dot (a dot escaped in a field path) is allowed.
func emailAround(s string, at int) (start, end int, ok bool) {
	start = at
	for start > 0 && isLocalByte(s[start-1]) {
		start--
	}
	if at-start < 1 || at-start > maxLocalPart || s[start] == '.' || s[at-1] == '.' {
		return 0, 0, false
	}
	end, ok = domainAfter(s, at)
	return start, end, ok
}

// domainAfter reports whether an email domain follows s[at] ('@') and
// where it ends (see emailAround).
func domainAfter(s string, at int) (end int, ok bool) {
	labels, lastAlpha, lastLen := 0, true, 0
	j := at + 1
	for {
		k := j
		alpha := true
		for k < len(s) && (isAlnum(s[k]) || s[k] == '-') {
			if !isAlpha(s[k]) {
				alpha = false
			}
			k++
		}
		if k == j || s[j] == '-' || s[k-1] == '-' {
			break
		}
		labels++
		end, lastAlpha, lastLen = k, alpha, k-j
		switch {
		case k+1 < len(s) && s[k] == '.' && isAlnum(s[k+1]):
			j = k + 1
		case k+2 < len(s) && s[k] == '\\' && s[k+1] == '.' && isAlnum(s[k+2]):
			j = k + 2
		default:
			j = -1
		}
		if j < 0 {
			break
		}
	}
	if labels < 2 || !lastAlpha || lastLen < 2 || end-at-1 > maxDomain {
		return 0, false
	}
	return end, true
}

// quotedEmailAt reports whether an address with a quoted local part
// (RFC 5321 §4.1.2 Quoted-string: "alice smith"@example.com) starts at
// s[i] ('"') and where it ends: printable ASCII between the quotes, a
// backslash escaping the next character, then '@' and a domain.
func quotedEmailAt(s string, i int) (int, bool) {
	// Most quotes (a JSON text's) close a string not followed by '@'.
	if k := strings.IndexByte(s[i+1:], '"'); k < 0 || i+1+k+1 >= len(s) || s[i+1+k+1] != '@' && s[i+k] != '\\' {
		return 0, false
	}
	j := i + 1
	for ; j < len(s) && j-i <= maxLocalPart+1 && s[j] != '"'; j++ {
		if s[j] == '\\' {
			j++
		}
		if j >= len(s) || s[j] < ' ' || s[j] > '~' {
			return 0, false
		}
	}
	if j == i+1 || j+1 >= len(s) || s[j] != '"' || s[j+1] != '@' {
		return 0, false
	}
	return domainAfter(s, j+1)
}

// emailForm reports whether t, a whole value, is an email address as a
// mail client writes one: after "mailto:" (RFC 6068, a query after it
// aside), or between angle brackets after a display name (RFC 5322
// §3.4: Alice <alice@example.com>, "Smith, Alice" <…>).
func emailForm(t string) bool {
	if hasPrefixFold(t, "mailto:") {
		t = t[len("mailto:"):]
		if q := strings.IndexByte(t, '?'); q >= 0 {
			t = t[:q]
		}
		return wholeEmail(t)
	}
	if len(t) < len("<a@b.co>") || t[len(t)-1] != '>' {
		return false
	}
	lt := strings.LastIndexByte(t, '<')
	if lt < 0 {
		return false
	}
	inner := strings.TrimSpace(t[lt+1 : len(t)-1])
	if hasPrefixFold(inner, "mailto:") {
		inner = inner[len("mailto:"):]
	}
	return wholeEmail(inner)
}

// wholeEmail reports whether all of s is one email address.
func wholeEmail(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '"' {
		end, ok := quotedEmailAt(s, 0)
		return ok && end == len(s)
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	start, end, ok := emailAround(s, at)
	return ok && start == 0 && end == len(s)
}

// jwtAt reports whether a compact JWS/JWE starts at s[i] and where it ends:
// "eyJ" and at least four more base64url characters, a dot, a non-empty
// part, and one to three more dot-separated parts (the signature of a JWS
// may be empty; a JWE has five parts).
func jwtAt(s string, i int) (int, bool) {
	if !strings.HasPrefix(s[i:], "eyJ") {
		return 0, false
	}
	j := i + 3 + b64Run(s[i+3:])
	if j-i < 7 || j >= len(s) || s[j] != '.' {
		return 0, false
	}
	k := j + 1 + b64Run(s[j+1:])
	if k == j+1 {
		return 0, false
	}
	for n := 0; n < 3 && k < len(s) && s[k] == '.'; n++ {
		k += 1 + b64Run(s[k+1:])
	}
	return k, true
}

// b64Run is the length of the base64url run at the start of s.
func b64Run(s string) int {
	for i := 0; i < len(s); i++ {
		if !isB64URL(s[i]) {
			return i
		}
	}
	return len(s)
}

// minBearerToken is the shortest credential taken for a bearer token; a
// shorter word after "Bearer" is prose, not a token.
const minBearerToken = 8

// bearerAt reports whether s[i:] is the scheme "Bearer" (any case), spaces,
// and a b64token (RFC 6750 §2.1: [A-Za-z0-9-._~+/]+ then '='*) that is not
// an ordinary word (letters whose pairs read as English: surprising); the
// match is the token alone, so Redact keeps the scheme.
func bearerAt(s string, i int) (start, end int, ok bool) {
	const scheme = "bearer"
	if len(s)-i < len(scheme)+1+minBearerToken || !strings.EqualFold(s[i:i+len(scheme)], scheme) {
		return 0, 0, false
	}
	j := i + len(scheme)
	if s[j] != ' ' {
		return 0, 0, false
	}
	for j < len(s) && s[j] == ' ' {
		j++
	}
	start = j
	for j < len(s) && (isAlnum(s[j]) || strings.IndexByte("-._~+/", s[j]) >= 0) {
		j++
	}
	for j < len(s) && s[j] == '=' {
		j++
	}
	if j-start < minBearerToken || allLetters(s[start:j]) && !surprising(s[start:j]) {
		return 0, 0, false // short, or a word: "Bearer Authentication", "bearer securities"
	}
	return start, j, true
}

// allLetters reports whether s is ASCII letters only.
func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return true
}

// apiKeyFormat is a vendor key format: a documented prefix and the length
// and alphabet of what follows.
type apiKeyFormat struct {
	prefix         string
	minLen, maxLen int // of the part after the prefix
	alphabet       func(byte) bool
}

func isUpperAlnum(c byte) bool { return isDigit(c) || c >= 'A' && c <= 'Z' }
func isKeyByte(c byte) bool    { return isAlnum(c) || c == '_' || c == '-' }
func isSlackByte(c byte) bool  { return isAlnum(c) || c == '-' }

// apiKeyFormats are key formats whose prefix the vendor documents, so that a
// match is a key and not a coincidence. Sources: AWS IAM "Understanding
// unique ID prefixes" (AKIA, ASIA); GitHub "About authentication to GitHub"
// (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_); GitLab "Token overview"
// (glpat-); Slack "Token types" (xoxb-, xoxp-, xoxa-, xoxr-, xoxe-);
// Stripe "API keys" (sk_live_, sk_test_, rk_live_, rk_test_, whsec_);
// Google Cloud "API keys" (AIza); npm "About access tokens" (npm_);
// OpenAI and Anthropic API keys (sk-proj-, sk-ant-); SendGrid (SG.);
// PyPI "API tokens" (pypi-).
var apiKeyFormats = []apiKeyFormat{
	{"AKIA", 16, 16, isUpperAlnum},
	{"ASIA", 16, 16, isUpperAlnum},
	{"ghp_", 36, 36, isAlnum},
	{"gho_", 36, 36, isAlnum},
	{"ghu_", 36, 36, isAlnum},
	{"ghs_", 36, 36, isAlnum},
	{"ghr_", 36, 36, isAlnum},
	{"github_pat_", 70, 100, isKeyByte},
	{"glpat-", 20, 64, isKeyByte},
	{"xoxb-", 20, 255, isSlackByte},
	{"xoxp-", 20, 255, isSlackByte},
	{"xoxa-", 20, 255, isSlackByte},
	{"xoxr-", 20, 255, isSlackByte},
	{"xoxe-", 20, 255, isSlackByte},
	{"sk_live_", 16, 255, isAlnum},
	{"sk_test_", 16, 255, isAlnum},
	{"rk_live_", 16, 255, isAlnum},
	{"rk_test_", 16, 255, isAlnum},
	{"whsec_", 24, 255, isAlnum},
	{"AIza", 35, 35, isKeyByte},
	{"npm_", 36, 36, isAlnum},
	{"sk-proj-", 20, 255, isKeyByte},
	{"sk-ant-", 20, 255, isKeyByte},
	{"SG.", 60, 80, func(c byte) bool { return isKeyByte(c) || c == '.' }},
	{"pypi-", 50, 255, isKeyByte},
}

// apiKeyByFirst indexes apiKeyFormats by the first byte of their prefix, so
// that a position is checked only against the formats that can start there.
var apiKeyByFirst = func() (idx [256][]apiKeyFormat) {
	for _, f := range apiKeyFormats {
		idx[f.prefix[0]] = append(idx[f.prefix[0]], f)
	}
	return idx
}()

// apiKeyAt reports whether an API key of a known format starts at s[i] and
// where it ends. The key must not run on into more key bytes.
func apiKeyAt(s string, i int) (int, bool) {
	rest := s[i:]
	for _, f := range apiKeyByFirst[s[i]] {
		if !strings.HasPrefix(rest, f.prefix) {
			continue
		}
		j := len(f.prefix)
		for j < len(rest) && j-len(f.prefix) < f.maxLen+1 && f.alphabet(rest[j]) {
			j++
		}
		n := j - len(f.prefix)
		if n >= f.minLen && n <= f.maxLen && (j == len(rest) || !isKeyByte(rest[j])) {
			return i + j, true
		}
	}
	return 0, false
}
