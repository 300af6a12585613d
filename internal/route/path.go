// Package route decides which requests a policy rule applies to. Every policy
// (JWT requirements, rate limits, response filters) selects requests with
// the same Match type, on the same canonical path, and that path is exactly
// the one the upstream receives: apiguard forwards what it judged, or
// refuses the request.
package route

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// PathMode is the top-level `path_normalization` setting.
type PathMode string

const (
	// PathRefuse (the default) judges a path exactly as it is forwarded and
	// refuses every path that common upstream routers read differently.
	PathRefuse PathMode = "refuse"
	// PathRewrite applies the RFC 3986 section 6 normalisation of Envoy's
	// normalize_path plus Envoy's merge_slashes, replaces :path with the
	// result, and then judges it as PathRefuse does.
	PathRewrite PathMode = "rewrite"
)

// ErrInvalidPath is wrapped by every error CanonicalPath returns. The caller
// answers such requests with 400 non_canonical_path.
var ErrInvalidPath = errors.New("route: invalid path")

var (
	errNotAbsolute   = pathError("does not start with '/'")
	errEmptySegment  = pathError("contains an empty segment ('//')")
	errDotSegment    = pathError("contains a '.' or '..' segment")
	errParams        = pathError("contains ';' (path parameters)")
	errEncodedSlash  = pathError("contains an encoded '/' or '\\'")
	errBackslash     = pathError("contains '\\'")
	errControl       = pathError("contains a control character, space or NUL")
	errRawByte       = pathError("contains a character that must be percent-encoded")
	errBadEscape     = pathError("contains a malformed percent-escape")
	errLowerEscape   = pathError("contains a percent-escape with lower-case hex digits")
	errUnreserved    = pathError("contains a percent-escape of an unreserved character")
	errReserved      = pathError("contains a percent-escape of ':', '@' or a sub-delimiter, which routers decode to the character itself")
	errDoubleEscaped = pathError("contains a percent-encoded percent-escape ('%25XX')")
	errBadUTF8       = pathError("contains percent-encoded bytes that are not valid UTF-8")
)

type invalidPathError string

func pathError(msg string) error { return invalidPathError(msg) }

func (e invalidPathError) Error() string { return "route: invalid path: " + string(e) }

func (e invalidPathError) Unwrap() error { return ErrInvalidPath }

// CanonicalPath judges the :path of a request. It returns the path that
// rules match (without the query) and the :path to forward, which differs
// from raw only in PathRewrite mode.
//
// The canonical grammar (both modes; RFC 3986 names):
//
//	path     = 1*( "/" segment )          ; no empty segment but a final one
//	segment  = *( pchar-c / escape )      ; not ".", ".." (also before ";")
//	pchar-c  = ALPHA / DIGIT / "-" / "." / "_" / "~" / "!" / "$" / "&" / "'"
//	         / "(" / ")" / "*" / "+" / "," / "=" / ":" / "@"
//	escape   = "%" HEXUP HEXUP            ; upper-case hex, decoding to
//	                                      ; neither an unreserved character,
//	                                      ; '/', '\', a control byte, nor
//	                                      ; "%XX" (double encoding); runs of
//	                                      ; escaped bytes >= 0x80 are UTF-8
//
// So refused are: dot segments in any spelling ("..", "%2e%2E", ".%2e"),
// empty segments ("//"), encoded '/' and '\', raw '\', spaces, control and
// non-ASCII bytes, characters RFC 3986 requires to be escaped ('"', '<',
// '>', '[', ']', '^', '`', '{', '|', '}', '#'), escapes of unreserved
// characters (nginx and Go's ServeMux decode "%61", express does not), and
// lower-case hex digits. A trailing slash is kept: "/a/" and "/a" are
// different resources to Go's ServeMux and nginx.
//
// PathRefuse also refuses ';' anywhere in the path: Tomcat, Jetty and
// Spring drop ";params" from a segment before routing, Go, Node and nginx
// keep them, so "/admin/..;/x" and "/admin;x" mean different resources to
// different upstreams.
//
// PathRewrite first does what Envoy's normalize_path and merge_slashes do,
// in their order: escapes of unreserved characters are decoded and the
// remaining escapes' hex digits upper-cased (RFC 3986 section 6.2.2.1-2),
// "." and ".." segments are removed (section 5.2.4, never above the root),
// then adjacent slashes are merged. The trailing slash, ";" parameters and
// the remaining escapes are kept. The result is then checked as above, with
// ";" allowed except after a dot segment ("..;x" stays refused). The query
// is forwarded unchanged.
func CanonicalPath(raw string, mode PathMode) (judged, forward string, err error) {
	p, query := raw, ""
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		p, query = raw[:i], raw[i:]
	}
	if p == "" || p[0] != '/' {
		return "", "", errNotAbsolute
	}
	if err := checkQuery(query); err != nil {
		return "", "", err
	}
	if mode != PathRewrite {
		if err := checkPath(p, false); err != nil {
			return "", "", err
		}
		return p, raw, nil
	}
	n, err := rewritePath(p)
	if err != nil {
		return "", "", err
	}
	if err := checkPath(n, true); err != nil {
		return "", "", err
	}
	if n == p {
		return n, raw, nil
	}
	return n, n + query, nil
}

// checkQuery refuses a query that parsers read two ways: a '#' (a fragment
// never belongs in a request target, RFC 9112 section 3.2; some upstreams
// cut it, Go's url parser keeps what follows as query), a malformed escape
// (Go's ParseQuery drops the pair, Node keeps it), and raw control,
// space or non-ASCII bytes. query includes its leading '?'.
func checkQuery(query string) error {
	for i := 0; i < len(query); i++ {
		c := query[i]
		if byteClasses[c]&classQuery != 0 {
			continue
		}
		switch {
		case c == '#':
			return pathError("'#' in the request target")
		case c <= ' ' || c >= 0x7f:
			return pathError("a control, space or non-ASCII byte in the query")
		case c == '%':
			if i+2 >= len(query) || !isHex(query[i+1]) || !isHex(query[i+2]) {
				return pathError("a malformed escape in the query")
			}
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkPath enforces the canonical grammar on p (no query). params allows
// ";" outside dot segments.
func checkPath(p string, params bool) error {
	if plainPath(p) {
		return nil // what checkSegments returns for it, in one pass
	}
	return checkSegments(p, params)
}

// checkSegments is checkPath segment by segment.
func checkSegments(p string, params bool) error {
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[segStart:i]
		if seg == "" && i < len(p) {
			return errEmptySegment
		}
		if err := checkSegment(seg, params); err != nil {
			return err
		}
		segStart = i + 1
	}
	return nil
}

func checkSegment(seg string, params bool) error {
	name := seg
	if j := strings.IndexByte(seg, ';'); j >= 0 {
		if !params {
			return errParams
		}
		name = seg[:j]
	}
	if name == "." || name == ".." {
		return errDotSegment
	}
	for i := 0; i < len(seg); {
		c := seg[i]
		switch {
		case c == '%':
			n, err := checkEscapes(seg, i)
			if err != nil {
				return err
			}
			i = n
			continue
		case c == '\\':
			return errBackslash
		case c <= ' ' || c == 0x7f:
			return errControl
		case !isPathChar(c) && c != ';':
			return errRawByte
		}
		i++
	}
	return nil
}

// checkEscapes checks the escape at seg[i] (and, for bytes >= 0x80, the run
// of escapes it starts) and returns the index after it.
func checkEscapes(seg string, i int) (int, error) {
	var small [16]byte
	run := small[:0]
	for i < len(seg) && seg[i] == '%' {
		b, ok := unhex(seg, i)
		if !ok {
			return 0, errBadEscape
		}
		if isLowerHex(seg[i+1]) || isLowerHex(seg[i+2]) {
			return 0, errLowerEscape
		}
		if b < 0x80 {
			if len(run) > 0 {
				break
			}
			switch {
			case b == '/' || b == '\\':
				return 0, errEncodedSlash
			case b < 0x20 || b == 0x7f:
				return 0, errControl
			case isUnreserved(b):
				return 0, errUnreserved
			case isPathDelim(b):
				return 0, errReserved
			case b == '%' && isEscapeAt(seg, i+3):
				return 0, errDoubleEscaped
			}
			return i + 3, nil
		}
		run = append(run, b)
		i += 3
	}
	if !utf8.Valid(run) {
		return 0, errBadUTF8
	}
	return i, nil
}

// isEscapeAt reports whether s[i:] starts with "XX" hex digits (the rest of
// a double-encoded "%25XX").
func isEscapeAt(s string, i int) bool {
	if i+1 >= len(s) {
		return false
	}
	_, ok1 := fromHex(s[i])
	_, ok2 := fromHex(s[i+1])
	return ok1 && ok2
}

// rewritePath applies Envoy's normalize_path, then merge_slashes, to p.
//
// normalize_path: Envoy's PathUtil::canonicalPath (source/common/http/
// path_utility.cc) runs Chromium's URL path canonicaliser: it decodes
// unreserved escapes, upper-cases other escapes and resolves dot segments,
// "%2e" included, and refuses what it cannot canonicalise (400).
// merge_slashes: PathUtil::mergeSlashes collapses runs of '/' in the path,
// leaving the query alone.
func rewritePath(p string) (string, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			if c == '\\' {
				return "", errBackslash
			}
			if c <= ' ' || c == 0x7f {
				return "", errControl
			}
			if c >= 0x80 {
				return "", errRawByte
			}
			out = append(out, c)
			continue
		}
		b, ok := unhex(p, i)
		if !ok {
			return "", errBadEscape
		}
		if isUnreserved(b) || isPathDelim(b) && b != ';' {
			out = append(out, b)
		} else {
			out = append(out, '%', upperHex[b>>4], upperHex[b&15])
		}
		i += 2
	}
	return mergeSlashes(removeDotSegments(string(out))), nil
}

// removeDotSegments is RFC 3986 section 5.2.4 on an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	var out []string // segments, each with its leading '/'
	in := p
	for in != "" {
		switch {
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			j := strings.IndexByte(in[1:], '/')
			if j < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:j+1])
				in = in[j+1:]
			}
		}
	}
	if len(out) == 0 {
		return "/"
	}
	return strings.Join(out, "")
}

func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// isUnreserved is RFC 3986's unreserved set.
// isPathDelim reports whether c is one of the characters a path segment may
// carry as itself although RFC 3986 reserves it (pchar: sub-delims, ':' and
// '@'). Routers decode an escape of one (Go's ServeMux, express and nginx
// all route "%40" as "@"), so a rule on the raw spelling would miss the
// escaped one: refuse mode refuses the escape, rewrite mode decodes it
// (but for ';', whose decoded form would start a path parameter).
func isPathDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=:@", c) >= 0
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPathChar is RFC 3986's pchar without pct-encoded and without ';', which
// checkSegment treats apart.
func isPathChar(c byte) bool { return byteClasses[c]&classPath != 0 }

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

const upperHex = "0123456789ABCDEF"

func unhex(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := fromHex(s[i+1])
	lo, ok2 := fromHex(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
