package openapi

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/apiguard/apiguard/internal/route"
)

// matchSpec is how one OpenAPI path is matched: a path template, or a
// regex for segments a template cannot express ("/report.{format}").
type matchSpec struct {
	template string
	regex    string
	// kinds ranks each segment for ordering: 0 literal, 1 mixed, 2 variable.
	kinds []int
}

func (m matchSpec) match(methods []string) route.Match {
	return route.Match{PathTemplate: m.template, Regex: m.regex, Methods: methods}
}

// Envoy's uri_template limits (route/template.go).
const (
	maxVariables   = 5
	maxVariableLen = 16
)

var variableName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)

// matchFor converts an OpenAPI path ("/users/{id}/files/{name}.json") under
// the base path.
func (g *generator) matchFor(path string) (matchSpec, error) {
	if !strings.HasPrefix(path, "/") {
		return matchSpec{}, fmt.Errorf("the path %q does not start with '/'", path)
	}
	segs := strings.Split(path[1:], "/")
	if path == "/" {
		segs = nil
	}
	var tmpl, re []string
	var kinds []int
	for _, b := range g.base {
		tmpl = append(tmpl, b)
		re = append(re, regexp.QuoteMeta(b))
		kinds = append(kinds, 0)
	}
	vars, names := 0, map[string]bool{}
	needRegex := false
	for i, seg := range segs {
		last := i == len(segs)-1
		if seg == "" {
			if !last {
				return matchSpec{}, fmt.Errorf("the path %q has an empty segment", path)
			}
			tmpl, re, kinds = append(tmpl, ""), append(re, ""), append(kinds, 0)
			continue
		}
		parts, err := splitSegment(seg)
		if err != nil {
			return matchSpec{}, fmt.Errorf("the path %q: %v", path, err)
		}
		var tpart, rpart strings.Builder
		nvars := 0
		for _, p := range parts {
			if p.variable {
				nvars++
				rpart.WriteString(`[^/]+`)
				continue
			}
			lit, ok := canonicalLiteral(p.text)
			if !ok {
				return matchSpec{}, fmt.Errorf("the path %q: %q is not a segment a request can carry", path, p.text)
			}
			rpart.WriteString(regexp.QuoteMeta(lit))
		}
		switch {
		case nvars == 0:
			lit, _ := canonicalLiteral(seg)
			if !templateLiteral(lit) {
				needRegex = true
			}
			tpart.WriteString(lit)
			kinds = append(kinds, 0)
		case len(parts) == 1:
			// "{name}": a variable, named when Envoy would take the name.
			name := parts[0].text
			if variableName.MatchString(name) && len(name) <= maxVariableLen && !names[name] && vars < maxVariables {
				names[name] = true
				vars++
				tpart.WriteString("{" + name + "}")
			} else {
				tpart.WriteString("*")
			}
			kinds = append(kinds, 2)
		case last && len(parts) == 2 && parts[0].variable && !parts[1].variable:
			// "{file}.json": a final variable with a literal suffix.
			lit, _ := canonicalLiteral(parts[1].text)
			if !templateLiteral(lit) {
				needRegex = true
			}
			tpart.WriteString("*" + lit)
			kinds = append(kinds, 1)
		default:
			needRegex = true
			kinds = append(kinds, 1)
		}
		tmpl = append(tmpl, tpart.String())
		re = append(re, rpart.String())
	}
	if needRegex {
		return matchSpec{regex: "/" + strings.Join(re, "/"), kinds: kinds}, nil
	}
	t := "/" + strings.Join(tmpl, "/")
	if err := (&route.Match{PathTemplate: t}).Validate(); err != nil {
		return matchSpec{}, fmt.Errorf("the template %q: %v", t, err)
	}
	return matchSpec{template: t, kinds: kinds}, nil
}

type segPart struct {
	text     string
	variable bool
}

// splitSegment splits "a{b}c" into literal and variable parts.
func splitSegment(seg string) ([]segPart, error) {
	var parts []segPart
	for seg != "" {
		open := strings.IndexByte(seg, '{')
		if open < 0 {
			if strings.IndexByte(seg, '}') >= 0 {
				return nil, fmt.Errorf("an unmatched '}' in %q", seg)
			}
			parts = append(parts, segPart{text: seg})
			break
		}
		if open > 0 {
			parts = append(parts, segPart{text: seg[:open]})
		}
		end := strings.IndexByte(seg[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("an unclosed '{' in %q", seg)
		}
		name := seg[open+1 : open+end]
		if name == "" {
			return nil, fmt.Errorf("an empty variable in %q", seg)
		}
		parts = append(parts, segPart{text: name, variable: true})
		seg = seg[open+end+1:]
	}
	return parts, nil
}

// canonicalLiteral writes a path literal as a canonical request carries it:
// characters outside RFC 3986's pchar percent-encoded with upper-case hex,
// unreserved characters never encoded. It refuses "." and "..", which no
// canonical path contains.
func canonicalLiteral(s string) (string, bool) {
	if s == "." || s == ".." {
		return "", false
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			// Already encoded: keep, upper-cased, unless it encodes an
			// unreserved character (then decode it) or '/'.
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if v == '/' || v == '\\' {
				return "", false
			}
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteString("%" + strings.ToUpper(s[i+1:i+3]))
			}
			i += 2
		case unreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0:
			b.WriteByte(c)
		case c == '/' || c == '\\' || c < 0x20 || c == 0x7f:
			return "", false
		default:
			b.WriteString("%" + string(hex[c>>4]) + string(hex[c&15]))
		}
	}
	return b.String(), true
}

// templateLiteral reports a canonical literal that a template can hold:
// no '*' and no '=' (route/template.go).
func templateLiteral(s string) bool { return !strings.ContainsAny(s, "*=") }

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// sortOps orders operations so that, where two paths could match the same
// request, the one with a literal segment at the first difference comes
// first (OpenAPI: "concrete paths are matched before templated ones").
// Otherwise the description's order is kept.
func sortOps(ops []*operation) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i].match.kinds, ops[j].match.kinds
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return false
	})
}

// mayOverlap reports whether two OpenAPI paths could match one request: as
// many segments, and every pair of segments equal or one of them variable.
func mayOverlap(a, b *operation) bool {
	sa, sb := strings.Split(a.path, "/"), strings.Split(b.path, "/")
	if len(sa) != len(sb) {
		return false
	}
	for i := range sa {
		if strings.ContainsRune(sa[i], '{') || strings.ContainsRune(sb[i], '{') {
			continue
		}
		if !strings.EqualFold(sa[i], sb[i]) {
			return false
		}
	}
	return true
}

// ruleName makes a metric-safe, unique rule name from the operationId (or
// the method and path): lower case, [a-z0-9_], a letter first, at most 63
// bytes (telemetry.ValidName).
func ruleName(o *operation, used map[string]bool) string {
	src := o.id
	if src == "" {
		src = o.method + "_" + o.path
	}
	var b strings.Builder
	prevUnderscore, prevLower := false, false
	for _, r := range src {
		switch {
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			b.WriteRune(r)
			prevUnderscore, prevLower = false, true
		case 'A' <= r && r <= 'Z':
			// camelCase → camel_case; "getURL" → get_url
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r + 'a' - 'A')
			prevUnderscore, prevLower = false, false
		default:
			prevLower = false
			if b.Len() > 0 && !prevUnderscore {
				b.WriteByte('_')
				prevUnderscore = true
			}
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "op_" + name
	}
	if len(name) > 56 {
		name = strings.TrimRight(name[:56], "_")
	}
	base := name
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s_%d", base, n)
	}
	used[name] = true
	return name
}
