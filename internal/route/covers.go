package route

import (
	"slices"
	"strings"
)

// Covers reports whether m surely matches every request that o matches, so
// that a first-match rule o placed after m is never reached. It is
// conservative: false means "not shown", as regexes and header conditions
// are only compared for equality.
func (m Match) Covers(o Match) bool {
	if !m.coversPath(o) {
		return false
	}
	if len(m.Methods) > 0 {
		if len(o.Methods) == 0 {
			return false
		}
		for _, meth := range o.Methods {
			if !slices.ContainsFunc(m.Methods, func(x string) bool { return strings.EqualFold(x, meth) }) {
				return false
			}
		}
	}
	// Every header condition of m must also be one of o's.
	for _, h := range m.Headers {
		if !slices.ContainsFunc(o.Headers, func(x HeaderMatch) bool { return sameHeaderMatch(h, x) }) {
			return false
		}
	}
	return true
}

// MatchesEverything reports whether m matches every request.
func (m Match) MatchesEverything() bool {
	return m.matchesEveryPath() && len(m.Methods) == 0 && len(m.Headers) == 0
}

// matchesEveryPath reports a path condition that every path meets: none,
// prefix "/", or the template "/**".
func (m Match) matchesEveryPath() bool {
	if m.Path != "" || m.Regex != "" || m.Prefix != "" && m.Prefix != "/" {
		return false
	}
	if m.PathTemplate == "" {
		return true
	}
	t, err := parseTemplate(m.PathTemplate)
	if err != nil {
		return false
	}
	p, ok := t.prefixForm()
	return ok && p == "/"
}

func (m Match) coversPath(o Match) bool {
	if m.PathTemplate != "" || o.PathTemplate != "" {
		return m.coversTemplate(o)
	}
	if m.Regex != "" {
		return o.Regex == m.Regex && o.CaseSensitive == m.CaseSensitive
	}
	if m.Path == "" && (m.Prefix == "" || m.Prefix == "/") {
		return true
	}
	// A case-sensitive m does not cover a case-insensitive o: o also matches
	// the other spellings.
	if m.CaseSensitive && !o.CaseSensitive {
		return false
	}
	fold := func(s string) string {
		s = strings.TrimSuffix(s, "/")
		if !m.CaseSensitive {
			return strings.ToLower(s)
		}
		return s
	}
	target := o.Path
	if target == "" {
		target = o.Prefix
	}
	if target == "" || o.Regex != "" {
		return false
	}
	if m.Path != "" {
		return o.Path != "" && fold(m.Path) == fold(o.Path)
	}
	p, t := fold(m.Prefix), fold(target)
	return t == p || strings.HasPrefix(t, p+"/")
}

func sameHeaderMatch(a, b HeaderMatch) bool {
	ap, bp := a.Present != nil && *a.Present, b.Present != nil && *b.Present
	return strings.EqualFold(a.Name, b.Name) && a.Exact == b.Exact && a.Prefix == b.Prefix &&
		(a.Present == nil) == (b.Present == nil) && ap == bp && a.Invert == b.Invert
}

// coversTemplate is coversPath when either side is a path template: every
// path condition is read as one or two templates (a path is its literals,
// prefix "/a" is "/a" or "/a/**") and compared part by part.
func (m Match) coversTemplate(o Match) bool {
	if m.matchesEveryPath() {
		return true
	}
	if m.Regex != "" || o.Regex != "" || m.CaseSensitive && !o.CaseSensitive {
		return false
	}
	mine, theirs := m.asTemplates(), o.asTemplates()
	if mine == nil || theirs == nil {
		return false
	}
	for _, b := range theirs {
		if !slices.ContainsFunc(mine, func(a *pathTemplate) bool { return a.covers(b, !m.CaseSensitive) }) {
			return false
		}
	}
	return true
}

// asTemplates returns the templates whose union is m's path condition, or
// nil if there is none (no path condition, a regex, an invalid template).
func (m Match) asTemplates() []*pathTemplate {
	literal := func(p string) *pathTemplate {
		t := &pathTemplate{textGlob: -1}
		if p == "/" {
			return t
		}
		for _, seg := range strings.Split(p[1:], "/") {
			t.parts = append(t.parts, templatePart{kind: partLiteral, lit: seg})
		}
		return t
	}
	under := func(p string) *pathTemplate { // p ends in '/'
		t := &pathTemplate{textGlob: -1}
		if p != "/" {
			t = literal(strings.TrimSuffix(p, "/"))
		}
		t.textGlob = len(t.parts)
		t.parts = append(t.parts, templatePart{kind: partTextGlob})
		return t
	}
	if !strings.HasPrefix(m.Path+m.Prefix, "/") && m.PathTemplate == "" {
		return nil // not a validated match
	}
	switch {
	case m.PathTemplate != "":
		t, err := parseTemplate(m.PathTemplate)
		if err != nil {
			return nil
		}
		return []*pathTemplate{t}
	case m.Path != "":
		return []*pathTemplate{literal(m.Path)}
	case m.Prefix != "" && strings.HasSuffix(m.Prefix, "/"):
		return []*pathTemplate{under(m.Prefix)}
	case m.Prefix != "":
		return []*pathTemplate{literal(m.Prefix), under(m.Prefix + "/")}
	}
	return nil
}

// covers reports whether every path b matches, a matches. It is
// conservative: a suffix, or "**" followed by literals, is only compared
// for equality.
func (a *pathTemplate) covers(b *pathTemplate, fold bool) bool {
	if a.suffix != "" || b.suffix != "" || a.textGlob >= 0 && a.textGlob < len(a.parts)-1 {
		return a.equal(b, fold)
	}
	for i, ap := range a.parts {
		if ap.kind == partTextGlob {
			// A final "**" matches whatever follows the '/' before it,
			// and at the start everything.
			return i == 0 || len(b.parts) > i
		}
		if i >= len(b.parts) {
			return false
		}
		bp := b.parts[i]
		switch ap.kind {
		case partLiteral:
			if bp.kind != partLiteral || !eq(ap.lit, bp.lit, fold) {
				return false
			}
		case partGlob:
			if bp.kind == partTextGlob || bp.kind == partLiteral && bp.lit == "" {
				return false
			}
		}
	}
	return len(a.parts) == len(b.parts)
}

func (a *pathTemplate) equal(b *pathTemplate, fold bool) bool {
	if len(a.parts) != len(b.parts) || !eq(a.suffix, b.suffix, fold) {
		return false
	}
	for i := range a.parts {
		if a.parts[i].kind != b.parts[i].kind || !eq(a.parts[i].lit, b.parts[i].lit, fold) {
			return false
		}
	}
	return true
}
