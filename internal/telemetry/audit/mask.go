package audit

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/detect"
)

// Mask is what a masked value becomes. Its length is fixed (nine '*', as in
// Treblle's Go SDK) so that it does not reveal the length of the secret.
const Mask = "*********"

// defaultMaskKeys are always masked. Keys are compared after normalisation
// (lowercase; '_', '-', '.' and ' ' removed), so "api_key", "apiKey" and "x-api-key"
// are one key. Entries of five or more characters also match any key that
// contains them ("client_secret", "x-auth-token", "password_hash"); shorter
// ones ("cc", "cvv", "ssn") match only whole keys, so "access" is not masked
// for containing "cc". The list covers Treblle's default keys and more.
var defaultMaskKeys = []string{
	"password", "pwd", "passwd", "passwordconfirmation", "secret", "token", "apikey",
	"authorization", "authorizationheader", "cookie", "setcookie", "session", "privatekey",
	"credential", "cardnumber", "creditcard", "cc", "ccv", "cvv", "cvv2", "cvc", "cvc2", "pin", "ssn",
	"creditscore", "iban", "signature", "card", "pan", "otp", "totp", "passcode", "mfacode",
}

// maskSuffixes mask any key that ends with them, whatever its length:
// "key" ("api_key", "x-api-key", "secretKey", "signing_key"), and "salt"
// ("key_hash_salt"). Short words would match too much as substrings, but as
// endings they name the credential.
var maskSuffixes = [][]byte{[]byte("key"), []byte("salt")}

// DefaultMaskKeys returns the built-in mask keys, normalised.
func DefaultMaskKeys() []string { return slices.Clone(defaultMaskKeys) }

const substringMatchMin = 5

// Masker replaces secret values in the headers and the JSON or form body
// excerpts that an operator chose to log (RedactPath handles the path). It is read-only after NewMasker and
// safe for concurrent use.
type Masker struct {
	exact     map[string]bool
	substring [][]byte
}

// NewMasker returns a masker for DefaultMaskKeys plus extra keys.
func NewMasker(extra []string) *Masker {
	m := &Masker{exact: make(map[string]bool)}
	for _, k := range append(DefaultMaskKeys(), extra...) {
		n := NormalizeKey(k)
		if n == "" || m.exact[n] {
			continue
		}
		m.exact[n] = true
		if len(n) >= substringMatchMin {
			m.substring = append(m.substring, []byte(n))
		}
	}
	return m
}

// NormalizeKey is the form mask keys are compared in: lower case, without
// '_', '-', ' ' and '.', characters that case-fold to ASCII letters as
// those letters (detect.AppendNormalizedName).
func NormalizeKey(k string) string { return string(detect.AppendNormalizedName(nil, k)) }

// IsSecretKey reports whether values under key are masked.
func (m *Masker) IsSecretKey(key string) bool {
	var buf [64]byte
	n := detect.AppendNormalizedName(buf[:0], key) // stays on the stack for usual key lengths
	if m.exact[string(n)] {
		return true
	}
	for _, s := range maskSuffixes {
		if bytes.HasSuffix(n, s) {
			return true
		}
	}
	for _, s := range m.substring {
		if bytes.Contains(n, s) {
			return true
		}
	}
	return false
}

// maskTokens replaces, inside s and whatever key or header it came under,
// every value internal/detect recognises: card numbers (Luhn and issuer
// ranges), email addresses, JWTs, bearer tokens and API keys of documented
// formats. A bearer token keeps its scheme ("Bearer *********").
func maskTokens(s string) string {
	out, _ := detect.Redact(s, detect.All, Mask)
	return out
}

// namedSecret reports whether v is secret under name alone: a hex digest
// under a password's name, an AWS secret access key under its name
// (detect.ClassifyUnder), which no key of the mask list need name.
func namedSecret(name, v string) bool {
	_, ok := detect.ClassifyUnder(name, v, detect.SetOf(detect.PasswordHash, detect.APIKey))
	return ok
}

// Header is one header as logged.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MaskHeader returns the value to log for a header. Authorization-like
// headers keep their scheme ("Bearer *********") so a reader can tell the
// credential type; other secret headers become Mask.
func (m *Masker) MaskHeader(name, value string) string {
	if m.IsSecretKey(name) || namedSecret(name, value) {
		if scheme, _, ok := strings.Cut(strings.TrimSpace(value), " "); ok && isScheme(scheme) {
			return scheme + " " + Mask
		}
		return Mask
	}
	return maskTokens(value)
}

// isScheme reports whether s looks like an HTTP auth scheme (a short token).
func isScheme(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// MaskHeaders returns a masked copy of a header set, in the same order.
func (m *Masker) MaskHeaders(hs []Header) []Header {
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{Name: h.Name, Value: m.MaskHeader(h.Name, h.Value)}
	}
	return out
}

// Body excerpt outcomes that replace a body which cannot be masked safely.
const (
	BodyUnparsable = "[body not logged: not JSON or form data]"
	BodyTooLarge   = "[body not logged: too large to mask]"
	// BodyOverBudget replaces the excerpt of a request body that arrived
	// while the worker already held its budget of in-flight body bytes.
	BodyOverBudget = "[body not logged: worker body budget in use]"
)

// maxMaskInput bounds the body the masker parses; larger bodies are not logged.
const maxMaskInput = 64 << 10

// MaskBody returns a masked excerpt of at most maxBytes of a request or
// response body. JSON bodies (objects or arrays) have every value under a
// secret key replaced, whole subtrees included; form bodies have secret
// values replaced. Anything else, including a JSON document cut short, is not
// logged at all: a body that cannot be parsed cannot be masked, so it fails
// closed. The excerpt is cut after masking.
func (m *Masker) MaskBody(contentType string, body []byte, maxBytes int) string {
	if maxBytes <= 0 || len(body) == 0 {
		return ""
	}
	if len(body) > maxMaskInput {
		return BodyTooLarge
	}
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	mt = strings.TrimSpace(mt)
	var out string
	switch {
	case mt == "application/x-www-form-urlencoded":
		var ok bool
		if out, ok = m.maskForm(string(body)); !ok {
			return BodyUnparsable
		}
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "":
		var ok bool
		if out, ok = m.maskJSON(body); !ok {
			return BodyUnparsable
		}
	default:
		return BodyUnparsable
	}
	return truncateUTF8(out, maxBytes)
}

func (m *Masker) maskJSON(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	if _, err := dec.Token(); err == nil {
		return "", false // trailing data
	}
	switch v.(type) {
	case map[string]any, []any:
	default:
		return "", false
	}
	v = m.maskValue(v)
	out, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	return string(out), true
}

func (m *Masker) maskValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		var renamed []string // keys that hold data themselves
		for k, x := range t {
			if str, ok := x.(string); m.IsSecretKey(k) || ok && namedSecret(k, str) {
				t[k] = Mask
			} else {
				t[k] = m.maskValue(x)
			}
			if maskTokens(k) != k {
				renamed = append(renamed, k)
			}
		}
		// A key can be data ("cards": {"4111…": …}, "users": {"alice@…":
		// …}): it is masked like a value, and keys that become equal are
		// numbered so that none of their values is lost.
		slices.Sort(renamed) // the same body gives the same excerpt
		for _, k := range renamed {
			x := t[k]
			delete(t, k)
			nk := maskTokens(k)
			for i := 2; ; i++ {
				if _, taken := t[nk]; !taken {
					break
				}
				nk = maskTokens(k) + "#" + strconv.Itoa(i)
			}
			t[nk] = x
		}
	case []any:
		for i, x := range t {
			t[i] = m.maskValue(x)
		}
	case string:
		return maskTokens(t)
	case json.Number:
		// A card sent as a JSON number (the decoder keeps its digits).
		if _, ok := detect.ClassifyNumber(string(t), detect.All); ok {
			return Mask
		}
	}
	return v
}

func (m *Masker) maskForm(body string) (string, bool) {
	var b strings.Builder
	for i, part := range strings.Split(body, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasV := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", false
		}
		if masked := maskTokens(dk); masked != dk {
			b.WriteString(url.QueryEscape(masked)) // a key can be data too
		} else {
			b.WriteString(k)
		}
		if !hasV {
			continue
		}
		b.WriteByte('=')
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", false
		}
		if m.IsSecretKey(dk) || namedSecret(dk, dv) {
			b.WriteString(Mask)
		} else if masked := maskTokens(dv); masked != dv {
			b.WriteString(url.QueryEscape(masked))
		} else {
			b.WriteString(v)
		}
	}
	return b.String(), true
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
