package respfilter

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsJSONContentType reports whether a Content-Type value names JSON:
// application/json, any type with a +json suffix (application/problem+json,
// application/vnd.api+json), or the non-standard text/json. Parameters such
// as charset are ignored.
//
// A filtered route never trusts this alone: a body under any other type (or
// none) whose first non-space byte is '{' or '[' is filtered as JSON too, so
// JSON cannot bypass the filter through a wrong or missing Content-Type.
func IsJSONContentType(v string) bool {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	slash := strings.IndexByte(v, '/')
	if slash <= 0 || slash == len(v)-1 {
		return false
	}
	sub := v[slash+1:]
	if len(v) >= len("application/grpc") && strings.EqualFold(v[:len("application/grpc")], "application/grpc") {
		// application/grpc, +proto, +json, -web, -web+json...: bodies are
		// length-prefixed frames, never one JSON document.
		return false
	}
	switch {
	case strings.EqualFold(v, "application/json"), strings.EqualFold(v, "text/json"):
		return true
	case len(sub) > len("+json") && strings.EqualFold(sub[len(sub)-len("+json"):], "+json"):
		return true
	}
	return false
}

type sniffResult uint8

const (
	sniffEmpty sniffResult = iota // nothing but whitespace
	sniffJSON                     // starts like JSON, or like JSON behind a wrapper
	sniffOther
)

// sniff classifies a body by its first meaningful bytes. It skips any
// Unicode whitespace (form feed, NBSP, U+2028, ...) and byte order marks,
// which browsers' and clients' JSON readers often skip too, and then
// recognises JSON objects and arrays, NDJSON (the same start), and the
// wrappers that carry JSON to script readers: the XSSI guards ")]}'",
// "while(1);" and "for(;;);", and JSONP "name(". Such a body is filtered as
// JSON, so it fails as malformed_json unless it is one plain document: JSON
// never passes as "not JSON" behind these prefixes. Other script around
// JSON (a comment before a JSONP call, "throw 1;") is "not JSON" and
// follows non_json, whose default refuses it.
func sniff(body []byte) sniffResult {
	i, skipped := skipBlank(body)
	if i == len(body) {
		if skipped {
			return sniffOther // a BOM or exotic blank alone is not an empty body
		}
		return sniffEmpty
	}
	rest := body[i:]
	switch c := rest[0]; {
	case c == '{' || c == '[':
		return sniffJSON
	case hasPrefix(rest, ")]}'"), hasPrefix(rest, "while(1);"), hasPrefix(rest, "for(;;);"):
		return sniffJSON
	case isJSONPStart(rest):
		return sniffJSON
	}
	return sniffOther
}

// skipBlank returns the index of the first byte of body that is not
// whitespace in any Unicode sense nor a byte order mark, and whether
// anything other than JSON whitespace was skipped.
func skipBlank(body []byte) (int, bool) {
	i, exotic := 0, false
	for i < len(body) {
		c := body[i]
		if isSpace(c) {
			i++
			continue
		}
		if c == '\f' || c == '\v' {
			i, exotic = i+1, true
			continue
		}
		if c < 0x80 {
			return i, exotic
		}
		r, n := utf8.DecodeRune(body[i:])
		if r != '\uFEFF' && !unicode.IsSpace(r) {
			return i, exotic
		}
		i, exotic = i+n, true
	}
	return i, exotic
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// isJSONPStart reports a JavaScript callee ("cb", "jQuery123_456",
// "window.cb", "/**/cb") followed by '(' and an object or array.
func isJSONPStart(b []byte) bool {
	if hasPrefix(b, "/**/") {
		b = b[4:]
	}
	i := 0
	for i < len(b) && (b[i] == '_' || b[i] == '$' || b[i] == '.' || 'a' <= b[i] && b[i] <= 'z' || 'A' <= b[i] && b[i] <= 'Z' || i > 0 && '0' <= b[i] && b[i] <= '9') {
		i++
	}
	if i == 0 || i > 256 {
		return false
	}
	if i >= len(b) || b[i] != '(' {
		return false
	}
	for i++; i < len(b) && isSpace(b[i]); i++ {
	}
	return i < len(b) && (b[i] == '{' || b[i] == '[')
}

// parseContentLength reads a Content-Length value; ok is false when it is
// absent or not a plain decimal number (Envoy rejects those upstream).
func parseContentLength(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if v == "" || v[0] == '+' || v[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 1<<63 - 1, true
		}
		return 0, false
	}
	return n, true
}

// parseContentLengths reads a Content-Length that may hold several values
// joined with "," (a repeated header). Identical values count as one (RFC
// 9110 section 8.6); values that differ leave the body's length ambiguous,
// and ok is false. An absent or unreadable value is length 0 and ok.
func parseContentLengths(v string) (n int64, ok bool) {
	first := true
	for part := range strings.SplitSeq(v, ",") {
		m, _ := parseContentLength(part)
		if !first && m != n {
			return 0, false
		}
		n, first = m, false
	}
	return n, true
}

// responseHeadersToRemove lists the response headers a filtered response
// must lose before its headers leave (Stream removes those it carries): the
// body changes, so its length, digests and strong validator no longer
// describe it. With headers held, content-length is set again from the
// final body.
var responseHeadersToRemove = [...]string{"content-length", "content-md5", "digest", "content-digest", "repr-digest", "etag"}

// removeLengths has bit n set when a name of responseHeadersToRemove is n
// bytes long: most response headers are ruled out by their length alone.
var removeLengths = func() uint64 {
	var m uint64
	for _, name := range responseHeadersToRemove {
		m |= 1 << len(name)
	}
	return m
}()

// contradicting marks which of responseHeadersToRemove pairs holds (bit i
// for name i), names compared in any case.
func contradicting(pairs [][2]string) uint8 {
	var m uint8
	for _, kv := range pairs {
		n := len(kv[0])
		if n >= 64 || removeLengths&(1<<n) == 0 {
			continue
		}
		for i, name := range responseHeadersToRemove {
			if len(name) == n && strings.EqualFold(kv[0], name) {
				m |= 1 << i
			}
		}
	}
	return m
}

// RequestHeadersToRemove lists the request headers to drop on a filtered
// route: a partial (206) body is not a JSON document and would always fail,
// so the upstream is asked for the whole body (servers may ignore Range).
func RequestHeadersToRemove() []string { return []string{"range", "if-range"} }

// UpstreamAcceptEncoding rewrites a request's Accept-Encoding for a filtered
// route. apiguard decompresses gzip and deflate, filters and recompresses, so
// those are kept (with their q-values) and everything else (br, zstd,
// compress, "*") is dropped: an upstream then never picks a coding apiguard
// cannot decode, which on_error would otherwise turn into a 502. When nothing
// is left the result is "identity". Set the header to the result (also when
// the client sent none, for which the result is "identity").
//
// The usual value keeps one coding or none, and then the result is a part
// of the client's value or a constant: only a list of two or more kept
// codings allocates the joined result.
func UpstreamAcceptEncoding(clientValue string) string {
	// The commonest values, settled without a scan: what
	// upstreamAcceptEncoding returns for them (TestUpstreamAcceptEncodingShortcuts).
	switch clientValue {
	case "gzip", "deflate", "identity", "x-gzip":
		return clientValue
	case "":
		return "identity"
	}
	return upstreamAcceptEncoding(clientValue)
}

// upstreamAcceptEncoding is UpstreamAcceptEncoding for any value.
func upstreamAcceptEncoding(clientValue string) string {
	kept, first := 0, ""
	for rest := clientValue; ; {
		part, tail, more := strings.Cut(rest, ",")
		if part, ok := decodableCoding(part); ok {
			if kept == 0 {
				first = part
			}
			kept++
		}
		if !more {
			break
		}
		rest = tail
	}
	switch kept {
	case 0:
		return "identity"
	case 1:
		return first
	}
	b := make([]byte, 0, len(clientValue)+kept)
	for rest := clientValue; ; {
		part, tail, more := strings.Cut(rest, ",")
		if part, ok := decodableCoding(part); ok {
			if len(b) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, part...)
		}
		if !more {
			break
		}
		rest = tail
	}
	return string(b)
}

// decodableCoding is one element of an Accept-Encoding list, trimmed, and
// whether its coding is one apiguard decodes.
func decodableCoding(part string) (string, bool) {
	part = strings.TrimSpace(part)
	tok := part
	if i := strings.IndexByte(tok, ';'); i >= 0 {
		tok = strings.TrimSpace(tok[:i])
	}
	switch strings.ToLower(tok) {
	case "gzip", "x-gzip", "deflate", "identity":
		return part, true
	}
	return part, false
}

// IsGRPCContentType reports whether v is a gRPC content type in any variant:
// application/grpc, application/grpc+proto, application/grpc+json (which
// IsJSONContentType would also accept), application/grpc-web,
// application/grpc-web+proto, application/grpc-web-text and so on. Their
// bodies are length-prefixed messages, never a JSON document.
func IsGRPCContentType(v string) bool {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = strings.ToLower(strings.TrimSpace(v))
	rest, ok := strings.CutPrefix(v, "application/grpc")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "-web")
	rest = strings.TrimPrefix(rest, "-text")
	return rest == "" || rest[0] == '+'
}
