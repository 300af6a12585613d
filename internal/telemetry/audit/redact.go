package audit

import (
	"net/url"
	"strings"
)

// Redacted replaces a query or matrix parameter value in a logged path.
const Redacted = "REDACTED"

// maxLoggedPath bounds the logged path; longer paths are cut and marked.
const maxLoggedPath = 1024

// RedactPath returns the request path fit for logs: the fragment is dropped,
// every query value and every ;parameter value is replaced by Redacted, a
// parameter without '=' (which may itself be a secret) becomes Redacted, and
// the result is cut to 1 KiB. Names of name=value pairs stay, so a reader
// still sees which parameters were sent. It works on the raw (undecoded)
// path, so an encoded '?' or '&' cannot smuggle a value past it, and it is
// safe to apply twice.
func RedactPath(raw string) string {
	if strings.ContainsAny(raw, "#?;%") {
		// Parameters, a fragment or escapes: never remembered (values
		// may be secrets, and they rarely repeat).
		return redactPath(raw)
	}
	return pathMemo.do(raw, redactPlainPath)
}

// pathMemo remembers paths redactPlainPath keeps as they are.
var pathMemo cleanMemo

// redactPlainPath is redactPath for a path without parameters, fragment or
// escapes: its segments stay as they are, so only tokens are masked.
func redactPlainPath(raw string) string {
	out := maskTokens(raw)
	if len(out) > maxLoggedPath {
		const marker = "...(truncated)"
		out = truncateUTF8(out, maxLoggedPath-len(marker)) + marker
	}
	return out
}

func redactPath(raw string) string {
	raw, _, _ = strings.Cut(raw, "#")
	path, query, hasQuery := strings.Cut(raw, "?")
	var b strings.Builder
	b.Grow(min(len(raw), maxLoggedPath) + 16)
	// Matrix parameters: /a;jsessionid=secret/b
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		name, params, hasParams := strings.Cut(seg, ";")
		b.WriteString(maskEscapedSegment(name))
		if hasParams {
			b.WriteByte(';')
			redactPairs(&b, params, ";")
		}
	}
	if hasQuery {
		b.WriteByte('?')
		redactPairs(&b, query, "&")
	}
	out := maskTokens(b.String())
	if len(out) > maxLoggedPath {
		const marker = "...(truncated)"
		out = truncateUTF8(out, maxLoggedPath-len(marker)) + marker
	}
	return out
}

// maskEscapedSegment replaces a path segment by Redacted when its decoded
// form holds a card number, email, token or key that its escaped form hides
// from the detectors (/o/alice%40example.com, /o/4111%201111%201111%201111,
// /o/4111%2B1111%2B1111%2B1111): the upstream reads the decoded form.
func maskEscapedSegment(seg string) string {
	if !strings.Contains(seg, "%") {
		return seg
	}
	decoded, err := url.PathUnescape(seg)
	if err != nil || maskTokens(decoded) == decoded && !mayHoldCard(decoded) {
		return seg
	}
	return Redacted
}

// mayHoldCard reports whether an escaped segment or name, once decoded,
// holds digits a card could be read from when decoded again or read past
// its punctuation: twelve or more digits in groups apart by at most three
// other non-alphanumeric characters ("4111,1111,1111,1111"; "%252B",
// decoded twice, is '+'). A path refused as non-canonical is logged in the
// denial event: this errs on the side of masking it.
func mayHoldCard(s string) bool {
	for range 3 { // escapes of escapes
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			break
		}
		s = d
	}
	digits, gap := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits++; digits >= 12 {
				return true
			}
			gap = 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			digits, gap = 0, 0
		default:
			if gap++; gap > 3 {
				digits, gap = 0, 0
			}
		}
	}
	return false
}

// redactPairs writes the name=value pairs of s (a query, or a segment's
// matrix parameters) with every value Redacted, and a name Redacted too
// when it holds a card number, email, token or key as the upstream reads
// it: escapes decoded, '+' a space (card[4111+1111+1111+1111]=1).
func redactPairs(b *strings.Builder, s, sep string) {
	for i, p := range strings.Split(s, sep) {
		if i > 0 {
			b.WriteString(sep)
		}
		name, _, hasValue := strings.Cut(p, "=")
		switch {
		case hasValue:
			b.WriteString(maskEscapedName(name))
			b.WriteByte('=')
			b.WriteString(Redacted)
		case p != "":
			b.WriteString(Redacted)
		}
	}
}

// maskEscapedName is a parameter's name, or Redacted when its decoded form
// (escapes decoded, '+' a space) holds a detected value.
func maskEscapedName(name string) string {
	if !strings.ContainsAny(name, "%+") {
		return name
	}
	decoded, err := url.QueryUnescape(name)
	if err != nil || maskTokens(decoded) == decoded && !mayHoldCard(decoded) {
		return name
	}
	return Redacted
}
