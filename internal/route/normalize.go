// Package route decides which requests a policy rule applies to. Every policy
// (JWT requirements, rate limits, response filters) selects requests with
// the same Match type, on the same normalised path, so one canonical view of
// the request path decides them all.
package route

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrInvalidPath is wrapped by every error Normalize returns. The caller
// answers such requests with 400 rather than matching them.
var ErrInvalidPath = errors.New("route: invalid path")

var (
	errNotAbsolute  = pathError("does not start with '/'")
	errEncodedSlash = pathError("contains an encoded '/' or '\\'")
	errBackslash    = pathError("contains '\\'")
	errControl      = pathError("contains a control character, space or NUL")
	errBadEscape    = pathError("contains a malformed percent-escape")
	errBadUTF8      = pathError("contains percent-encoded bytes that are not valid UTF-8")
)

type invalidPathError string

func pathError(msg string) error { return invalidPathError(msg) }

func (e invalidPathError) Error() string { return "route: invalid path: " + string(e) }

func (e invalidPathError) Unwrap() error { return ErrInvalidPath }

// Normalize returns the canonical form of a request path (the :path header)
// that rules are matched against. The request itself is forwarded unchanged;
// normalisation only decides which rules apply.
//
// Steps, in order:
//   - the query ("?...") and fragment ("#...") are dropped;
//   - the path must start with '/'; '\', raw spaces and control bytes are
//     refused;
//   - in each segment, a ";parameter" suffix is dropped (so /admin;x and
//     /x/..;/admin are /admin, as Tomcat and Spring read them; an upstream
//     that keeps ';' in names gets /admin's rules for /admin;x, the stricter
//     reading for protective rules);
//   - percent-escapes are decoded once, so "%61dmin" is "admin" but
//     "%2561dmin" stays as it is. Escapes of ' ', '#', '%', ';' and '?' stay
//     escaped (with upper-case hex), because decoding them would change how
//     the path reads. Escapes of '/' or '\' (%2F, %5C), of control
//     characters (%00-%1F, %7F) and malformed escapes ("%zz", "%u0061") are
//     refused;
//   - non-ASCII bytes, raw or escaped, must form valid UTF-8 (an overlong
//     "%C0%AF" is refused) and are written as upper-case escapes, so "é",
//     "%c3%a9" and "%C3%A9" are the same path;
//   - "." and ".." segments (also when written "%2e") are resolved as in RFC
//     3986 section 5.2.4, never climbing above the root;
//   - empty segments are dropped, which merges "//" and drops a trailing
//     slash ("/admin/" is "/admin").
//
// The result is printable ASCII, and Normalize(Normalize(p)) == Normalize(p).
// Decoding more than the unreserved characters RFC 3986 allows means that
// "/a%2Cb" and "/a,b" match the same rules, as they reach the same handler
// in frameworks that decode the path once before routing.
// Case is kept; matching is case-insensitive unless a rule says otherwise.
// A refused path returns an error wrapping ErrInvalidPath.
//
// Relation to Envoy: the HTTP connection manager can normalise the path
// itself before any filter runs, and then forwards the normalised path.
// normalize_path applies RFC 3986 section 6 normalisation (dot segments and
// unreserved escapes, no case normalisation) and answers 400 to malformed
// paths; merge_slashes merges adjacent slashes; path_with_escaped_slashes_action
// decides what happens to %2F and %5C (KEEP_UNCHANGED by default,
// REJECT_REQUEST, UNESCAPE_AND_REDIRECT or UNESCAPE_AND_FORWARD).
// apiguard does not rely on them: normalize_path and merge_slashes default
// to false, they live in the listener configuration rather than this
// plugin's, and a Wasm filter cannot tell whether they are on. When they are
// on, Normalize simply has less to do; either way every rule sees one
// canonical path. Normalize only chooses rules and never rewrites :path, so
// it refuses whatever an upstream could read two ways (encoded slashes,
// backslashes, invalid UTF-8) instead of guessing, and it errs towards
// applying a rule (dropping ";x", matching "/ADMIN") where readings differ.
func Normalize(rawPath string) (string, error) {
	if i := strings.IndexAny(rawPath, "?#"); i >= 0 {
		rawPath = rawPath[:i]
	}
	if rawPath == "" || rawPath[0] != '/' {
		return "", errNotAbsolute
	}
	if isNormal(rawPath) {
		return rawPath, nil
	}
	out := make([]byte, 0, len(rawPath))
	segStarts := make([]int, 0, 8) // where each kept segment's '/' is in out
	rest := rawPath[1:]
	for {
		seg := rest
		next := strings.IndexByte(rest, '/')
		if next >= 0 {
			seg = rest[:next]
		}
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			if err := checkRaw(seg[j:]); err != nil {
				return "", err
			}
			seg = seg[:j]
		}
		start := len(out)
		out = append(out, '/')
		var err error
		out, err = appendSegment(out, seg)
		if err != nil {
			return "", err
		}
		switch string(out[start+1:]) {
		case "", ".":
			out = out[:start]
		case "..":
			out = out[:start]
			if n := len(segStarts); n > 0 {
				out = out[:segStarts[n-1]]
				segStarts = segStarts[:n-1]
			}
		default:
			segStarts = append(segStarts, start)
		}
		if next < 0 {
			break
		}
		rest = rest[next+1:]
	}
	if len(out) == 0 {
		return "/", nil
	}
	return string(out), nil
}

// isNormal reports whether p is already in normal form, so the common case
// costs one scan and no allocation.
func isNormal(p string) bool {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' {
			// "//", "/." and "/.." need work; "/.well-known" would too, which
			// is only a missed shortcut.
			if i+1 < len(p) && (p[i+1] == '/' || p[i+1] == '.') {
				return false
			}
			continue
		}
		if !isPlainPathByte(c) {
			return false
		}
	}
	return true
}

// isPlainPathByte reports whether c is printable ASCII with no special
// meaning to Normalize.
func isPlainPathByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '%' && c != ';' && c != '\\'
}

// checkRaw refuses bytes that are never allowed anywhere in the path, also
// inside a dropped ";parameter".
func checkRaw(s string) error {
	for i := 0; i < len(s); i++ {
		if err := rawByteError(s[i]); err != nil {
			return err
		}
	}
	return nil
}

func rawByteError(c byte) error {
	switch {
	case c == '\\':
		return errBackslash
	case c <= ' ' || c == 0x7f:
		return errControl
	}
	return nil
}

// appendSegment appends one segment (without its leading '/') to out in
// canonical form: escapes of printable ASCII decoded, except those whose
// decoded form would mean something else to Normalize; non-ASCII bytes, raw
// or escaped, as upper-case escapes.
func appendSegment(out []byte, seg string) ([]byte, error) {
	for i := 0; i < len(seg); {
		c := seg[i]
		if c >= 0x80 || c == '%' && i+2 < len(seg) && isHighEscape(seg, i) {
			var err error
			out, i, err = appendNonASCII(out, seg, i)
			if err != nil {
				return nil, err
			}
			continue
		}
		if c != '%' {
			if err := rawByteError(c); err != nil {
				return nil, err
			}
			out = append(out, c)
			i++
			continue
		}
		b, ok := unhex(seg, i)
		if !ok {
			return nil, errBadEscape
		}
		switch {
		case b == '/' || b == '\\':
			return nil, errEncodedSlash
		case b < 0x20 || b == 0x7f:
			return nil, errControl
		case keepEscaped(b):
			out = append(out, '%', upperHex[b>>4], upperHex[b&15])
		default:
			out = append(out, b)
		}
		i += 3
	}
	return out, nil
}

// keepEscaped lists the printable ASCII bytes whose escapes stay escaped:
// decoded, they would be read as a space, a query or fragment start, a
// parameter start, or another escape (which would decode twice).
func keepEscaped(b byte) bool {
	return b == ' ' || b == '#' || b == '%' || b == ';' || b == '?'
}

func isHighEscape(s string, i int) bool {
	v, ok := unhex(s, i)
	return ok && v >= 0x80
}

// appendNonASCII consumes a run of non-ASCII bytes, raw or percent-escaped,
// starting at seg[i]. The run must be valid UTF-8, so no decoder downstream
// can read an overlong form such as %C0%AF as '/'; it is written as
// upper-case escapes, so raw and escaped spellings compare equal.
func appendNonASCII(out []byte, seg string, i int) ([]byte, int, error) {
	var small [16]byte
	run := small[:0]
	for i < len(seg) {
		var v byte
		switch {
		case seg[i] >= 0x80:
			v = seg[i]
			i++
		case seg[i] == '%' && isHighEscape(seg, i):
			v, _ = unhex(seg, i)
			i += 3
		default:
			if !utf8.Valid(run) {
				return nil, 0, errBadUTF8
			}
			return out, i, nil
		}
		run = append(run, v)
		out = append(out, '%', upperHex[v>>4], upperHex[v&15])
	}
	if !utf8.Valid(run) {
		return nil, 0, errBadUTF8
	}
	return out, i, nil
}

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
