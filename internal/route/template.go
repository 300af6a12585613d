package route

import (
	"errors"
	"fmt"
	"strings"
)

// Path templates are the syntax of Envoy's uri_template path matcher
// (envoy.path.match.uri_template, api/envoy/extensions/path/match/
// uri_template/v3/uri_template_match.proto), parsed as its
// source/extensions/path/uri_template_lib/uri_template_internal.cc does:
//
//	template = "/" [ segment *( "/" segment ) [ "/" ] [ suffix ] ]
//	segment  = literal / "*" / "**" / variable
//	variable = "{" name [ "=" part *( "/" part ) ] "}"   ; part: literal, "*", "**"
//	name     = ALPHA *( ALPHA / DIGIT / "_" )            ; 1..16 bytes, unique, at most 5
//	literal  = 1*( unreserved / pct-encoded / "!" / "$" / "&" / "'" / "(" / ")"
//	         / "+" / "," / ";" / ":" / "@" )              ; no "*", no "="
//	suffix   = literal, right after a final "*", "**" or variable ("/**.mpd")
//
// "*" and "{name}" match one non-empty path segment; "**" matches zero or
// more characters including '/', and no "*", "**" or variable may follow it
// (literals may). The template matches the whole path without the query.
//
// apiguard differs from Envoy in two ways, both so that a template means
// the same thing as the upstream route it names:
//   - templates match the canonical path (CanonicalPath), never the raw
//     one, so their literals must be canonical too ("%61" is refused, as is
//     ";" or a "." segment), and literals compare without case unless
//     case_sensitive is set, like path and prefix;
//   - a variable or "*" matches any non-empty segment, '*' and '=' included.
//     Envoy's glob leaves those two bytes out, but Go's ServeMux ({id}),
//     express (:id) and every OpenAPI router accept them, so a JWT rule on
//     "/users/{id}" that skipped "/users/a=b" would let that request reach
//     the same handler under a later, weaker rule.

// Envoy's limits (kPatternMatchingMaxVariablesPerUrl and
// kPatternMatchingMaxVariableNameLen in uri_template_internal.cc).
const (
	maxTemplateVariables = 5
	maxVariableNameLen   = 16
	// maxTemplateLen bounds a configured template as maxRegexLen does a
	// regex; real API paths are far shorter.
	maxTemplateLen = 1024
)

type partKind uint8

const (
	partLiteral  partKind = iota
	partGlob              // "*", "{x}", "{x=*}": one non-empty segment
	partTextGlob          // "**": any run of bytes, '/' included
)

type templatePart struct {
	kind partKind
	lit  string // partLiteral only; "" only as the last part (a trailing '/')
}

// pathTemplate is a parsed template, its variables flattened into the
// parts they match: "/a/{v=b/*}/c" is the parts a, b, *, c.
type pathTemplate struct {
	parts  []templatePart
	suffix string
	// textGlob is the index of the "**" part, or -1.
	textGlob int
	// tail is what follows "**": "/" + each later literal, then the
	// suffix; only set when textGlob >= 0.
	tail string
}

// parseTemplate parses and checks t.
func parseTemplate(t string) (*pathTemplate, error) {
	if len(t) > maxTemplateLen {
		return nil, fmt.Errorf("longer than %d bytes", maxTemplateLen)
	}
	if t == "" || t[0] != '/' {
		return nil, errors.New("does not start with '/'")
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return nil, errors.New("contains a space, a control byte or a non-ASCII byte")
		}
	}
	pt := &pathTemplate{textGlob: -1}
	names := map[string]bool{}
	rest := t[1:]
	for rest != "" {
		var err error
		switch rest[0] {
		case '*':
			var k partKind
			k, rest = consumeOperator(rest)
			err = pt.add(templatePart{kind: k})
		case '{':
			rest, err = pt.consumeVariable(rest, names)
		default:
			var lit string
			lit, rest, err = consumeLiteral(rest)
			if err == nil {
				err = pt.add(templatePart{kind: partLiteral, lit: lit})
			}
		}
		if err != nil {
			return nil, err
		}
		switch {
		case rest == "":
		case rest == "/":
			// A trailing '/' is an empty last literal, as in Envoy.
			pt.parts = append(pt.parts, templatePart{kind: partLiteral})
			rest = ""
		case rest[0] == '/':
			rest = rest[1:]
		default:
			// Only a "*", "**" or variable leaves text before the next
			// '/': a suffix, which must end the template.
			suffix, after, err := consumeLiteralPart(rest, true)
			if err != nil {
				return nil, fmt.Errorf("suffix %q: %v", rest, err)
			}
			if after != "" {
				return nil, fmt.Errorf("the suffix %q must end the template", rest)
			}
			rest = ""
			if last := &pt.parts[len(pt.parts)-1]; last.kind == partLiteral {
				// "{v=*/abc}.json" ends in the literal "abc.json".
				last.lit += suffix
			} else {
				pt.suffix = suffix
			}
		}
	}
	if pt.textGlob >= 0 {
		var b strings.Builder
		for _, p := range pt.parts[pt.textGlob+1:] {
			b.WriteString("/" + p.lit)
		}
		b.WriteString(pt.suffix)
		pt.tail = b.String()
	}
	return pt, nil
}

// add appends p, refusing an operator after "**" (Envoy's
// validateNoOperatorAfterTextGlob).
func (pt *pathTemplate) add(p templatePart) error {
	if p.kind != partLiteral && pt.textGlob >= 0 {
		return errors.New(`nothing but literals may follow "**"`)
	}
	if p.kind == partTextGlob {
		pt.textGlob = len(pt.parts)
	}
	pt.parts = append(pt.parts, p)
	return nil
}

// consumeOperator reads "**" or "*" at the start of s.
func consumeOperator(s string) (partKind, string) {
	if strings.HasPrefix(s, "**") {
		return partTextGlob, s[2:]
	}
	return partGlob, s[1:]
}

// consumeLiteral reads a literal segment up to the next '/'.
func consumeLiteral(s string) (lit, rest string, err error) {
	return consumeLiteralPart(s, false)
}

// consumeLiteralPart reads a literal up to the next '/'; suffix marks the
// end of a segment ("{file}.json"), which may be ".." as no whole segment
// it ends would be.
func consumeLiteralPart(s string, suffix bool) (lit, rest string, err error) {
	lit, rest = s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		lit, rest = s[:i], s[i:]
	}
	if lit == "" {
		return "", "", errors.New("contains an empty segment ('//')")
	}
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c == '%' || isUnreserved(c) || strings.IndexByte("!$&'()+,;:@", c) >= 0 {
			continue
		}
		switch c {
		case '*':
			return "", "", fmt.Errorf("%q: '*' must be a whole segment (\"*\" or \"**\")", lit)
		case '{', '}':
			return "", "", fmt.Errorf("%q: a variable must be a whole segment (\"{name}\")", lit)
		}
		return "", "", fmt.Errorf("%q: %q is not allowed in a template literal", lit, c)
	}
	// The literal must be a canonical segment, or the template could never
	// match what it says.
	seg := lit
	if suffix {
		seg = "x" + lit
	}
	if err := checkSegment(seg, false); err != nil {
		return "", "", fmt.Errorf("%q: %s", lit, strings.TrimPrefix(err.Error(), "route: invalid path: "))
	}
	return lit, rest, nil
}

// consumeVariable reads "{name}" or "{name=parts}" at the start of s.
func (pt *pathTemplate) consumeVariable(s string, names map[string]bool) (string, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", errors.New("a '{' is not closed")
	}
	body, rest := s[1:end], s[end+1:]
	name, match, hasMatch := strings.Cut(body, "=")
	if !isVariableName(name) {
		return "", fmt.Errorf("%q is not a variable name (a letter, then letters, digits or '_')", name)
	}
	if len(name) > maxVariableNameLen {
		return "", fmt.Errorf("variable name %q is longer than %d bytes", name, maxVariableNameLen)
	}
	if names[name] {
		return "", fmt.Errorf("variable %q is repeated", name)
	}
	names[name] = true
	if len(names) > maxTemplateVariables {
		return "", fmt.Errorf("more than %d variables", maxTemplateVariables)
	}
	if !hasMatch {
		return rest, pt.add(templatePart{kind: partGlob})
	}
	if match == "" {
		return "", fmt.Errorf("variable %q: empty match after '='", name)
	}
	for match != "" {
		var err error
		if match[0] == '*' {
			var k partKind
			k, match = consumeOperator(match)
			err = pt.add(templatePart{kind: k})
		} else {
			var lit string
			lit, match, err = consumeLiteral(match)
			if err == nil {
				err = pt.add(templatePart{kind: partLiteral, lit: lit})
			}
		}
		if err != nil {
			return "", fmt.Errorf("variable %q: %v", name, err)
		}
		if match != "" {
			if match[0] != '/' || len(match) == 1 {
				return "", fmt.Errorf("variable %q: parts must be separated by single '/'", name)
			}
			match = match[1:]
		}
	}
	return rest, nil
}

func isVariableName(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// match reports whether the canonical path p matches, comparing literals
// with ASCII case folding when fold is set. It is the regex Envoy builds
// (literals joined by '/', "*" as one or more non-'/' bytes, "**" as any
// bytes) walked directly: no allocation, and no backtracking, because
// only literals follow "**".
func (pt *pathTemplate) match(p string, fold bool) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	pos := 1
	for i, part := range pt.parts {
		if i > 0 {
			if pos >= len(p) || p[pos] != '/' {
				return false
			}
			pos++
		}
		switch part.kind {
		case partLiteral:
			end := pos + len(part.lit)
			if end > len(p) || !eq(p[pos:end], part.lit, fold) {
				return false
			}
			pos = end
		case partGlob:
			end := strings.IndexByte(p[pos:], '/')
			if end < 0 {
				end = len(p)
			} else {
				end += pos
			}
			seg := p[pos:end]
			if i == len(pt.parts)-1 && pt.suffix != "" {
				// "{file}.json": the suffix ends the path, after a
				// non-empty run.
				if end != len(p) || len(seg) <= len(pt.suffix) || !eq(seg[len(seg)-len(pt.suffix):], pt.suffix, fold) {
					return false
				}
			} else if seg == "" {
				return false
			}
			pos = end
		case partTextGlob:
			rest := p[pos:]
			return len(rest) >= len(pt.tail) && eq(rest[len(rest)-len(pt.tail):], pt.tail, fold)
		}
	}
	return pos == len(p)
}

func eq(a, b string, fold bool) bool {
	if fold {
		return asciiEqualFold(a, b)
	}
	return a == b
}

// prefixForm returns the prefix a template "/lit/.../**" is equal to: it
// matches "/lit/.../" followed by anything, which is prefix "/lit/.../"
// (a prefix ending in '/' does not match the path without it).
func (pt *pathTemplate) prefixForm() (string, bool) {
	n := len(pt.parts)
	if n == 0 || pt.textGlob != n-1 || pt.suffix != "" {
		return "", false
	}
	var b strings.Builder
	for _, p := range pt.parts[:n-1] {
		if p.kind != partLiteral {
			return "", false
		}
		b.WriteString("/" + p.lit)
	}
	b.WriteString("/")
	return b.String(), true
}
