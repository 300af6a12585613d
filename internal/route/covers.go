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
	return (m.Path == "" && m.Regex == "" && (m.Prefix == "" || m.Prefix == "/")) && len(m.Methods) == 0 && len(m.Headers) == 0
}

func (m Match) coversPath(o Match) bool {
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
