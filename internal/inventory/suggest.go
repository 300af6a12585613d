package inventory

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
)

// Suggestion is a proposed allowlist for the routes of an inventory.
type Suggestion struct {
	// Rules are the proposed response_filter rules, one per route whose
	// requests the configuration can select.
	Rules []SuggestedRule
	// Review lists what was left out and why, for a person to decide.
	Review []ReviewItem
}

// SuggestedRule is one proposed response_filter rule.
type SuggestedRule struct {
	Name  string          `json:"name"`
	Match json.RawMessage `json:"match"`
	Allow []string        `json:"allow"`
}

// ReviewItem is a field or route the suggestion leaves out.
type ReviewItem struct {
	Route, Path, Why string
}

// Suggest proposes, for each route of inv, an allowlist of the fields seen
// minus the sensitive ones: a field with a detected class, a field whose
// path has a secret-looking name (the audit trail's mask keys,
// audit.Masker.IsSecretKey), and a path seen as an object or array
// (allowing it would keep whatever it holds whole) are left out and listed
// for review, so today's leaks are not locked in. matchOf returns the match
// (JSON) selecting a route's requests, false when the configuration has
// none (the "_other" route, say): such a route is listed for review.
func Suggest(inv Export, matchOf func(route string) (json.RawMessage, bool)) Suggestion {
	masker := audit.NewMasker(nil)
	var s Suggestion
	for _, r := range inv.Routes {
		match, ok := matchOf(r.Route)
		if !ok {
			s.Review = append(s.Review, ReviewItem{Route: r.Route, Why: fmt.Sprintf("no configured match selects this route; its %d fields are not covered", len(r.Fields))})
			continue
		}
		rule := SuggestedRule{Name: r.Route, Match: match, Allow: []string{}}
		for _, f := range r.Fields {
			if f.Path == "$" {
				continue
			}
			switch why := leaveOut(f, masker); why {
			case "":
				rule.Allow = append(rule.Allow, f.Path)
			case "container":
				// Its members are listed themselves.
			default:
				s.Review = append(s.Review, ReviewItem{Route: r.Route, Path: f.Path, Why: why})
			}
		}
		slices.Sort(rule.Allow)
		s.Rules = append(s.Rules, rule)
	}
	return s
}

// leaveOut says why a field is not proposed ("" when it is).
func leaveOut(f FieldExport, masker *audit.Masker) string {
	if len(f.Classes) > 0 {
		return "sensitive class " + strings.Join(f.Classes, ", ")
	}
	for _, seg := range splitPath(f.Path) {
		if seg != "#" && seg != "*" && masker.IsSecretKey(seg) {
			return fmt.Sprintf("secret-looking name %q", seg)
		}
	}
	scalar := false
	container := false
	for _, t := range f.Types {
		if t == "object" || t == "array" {
			container = true
		} else {
			scalar = true
		}
	}
	switch {
	case container && scalar:
		return "seen both as a container and as a value (" + strings.Join(f.Types, ", ") + "): allowing it would keep whatever it holds"
	case container:
		return "container"
	}
	return ""
}

// splitPath splits a path at unescaped dots, unescaping the segments.
func splitPath(p string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			cur.WriteByte(p[i])
		case c == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}
