package settings_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/settings"
)

// propertyNames collects every key reachable from schema s, following
// $refs into defs.
func propertyNames(s any, defs map[string]any, seen map[string]bool, out map[string]bool) {
	switch v := s.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/$defs/")
			if !seen[name] {
				seen[name] = true
				propertyNames(defs[name], defs, seen, out)
			}
		}
		if props, ok := v["properties"].(map[string]any); ok {
			for k, p := range props {
				out[k] = true
				propertyNames(p, defs, seen, out)
			}
		}
		for _, k := range []string{"items", "additionalProperties", "anyOf"} {
			if sub, ok := v[k]; ok {
				propertyNames(sub, defs, seen, out)
			}
		}
	case []any:
		for _, e := range v {
			propertyNames(e, defs, seen, out)
		}
	}
}

// The reference in docs/ and the types cannot drift: every key of a
// section is documented in its page, and every key a page's tables list
// exists.
func TestDocsReferenceMatchesTheSchema(t *testing.T) {
	s, err := settings.Schema()
	if err != nil {
		t.Fatal(err)
	}
	defs := s["$defs"].(map[string]any)
	top := s["properties"].(map[string]any)
	tick := regexp.MustCompile("`([^`]+)`")
	// The route matcher is shared by every section and documented once, in
	// the README.
	routeKeys := map[string]bool{}
	propertyNames(map[string]any{"$ref": "#/$defs/route.Match"}, defs, map[string]bool{}, routeKeys)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for k := range routeKeys {
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("README.md (route matching) does not mention route matcher key %q", k)
		}
	}
	for section, page := range map[string]string{
		"jwt": "jwt.md", "rate_limits": "rate-limits.md", "response_filter": "response-filter.md", "telemetry": "telemetry.md",
		"response_inventory": "response-inventory.md",
	} {
		doc, err := os.ReadFile("../../docs/" + page)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]bool{}
		propertyNames(top[section], defs, map[string]bool{}, keys)
		var undocumented []string
		for k := range keys {
			if routeKeys[k] {
				continue
			}
			if !regexp.MustCompile(`\b` + regexp.QuoteMeta(k) + `\b`).Match(doc) {
				undocumented = append(undocumented, k)
			}
		}
		slices.Sort(undocumented)
		if len(undocumented) > 0 {
			t.Errorf("docs/%s does not mention these keys of %s: %v", page, section, undocumented)
		}
		for _, cell := range keyColumn(string(doc)) {
			for _, m := range tick.FindAllStringSubmatch(cell, -1) {
				for _, seg := range strings.Split(strings.ReplaceAll(m[1], "[]", ""), ".") {
					if strings.ToUpper(seg) == seg || keys[seg] || routeKeys[seg] {
						continue // NAME placeholders, known keys
					}
					t.Errorf("docs/%s documents `%s`, which is not a key of %s", page, m[1], section)
				}
			}
		}
	}
}

// keyColumn returns the first cell of every row of the tables whose first
// column is headed "key".
func keyColumn(doc string) []string {
	var cells []string
	in := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "| key |"):
			in = true
		case !strings.HasPrefix(line, "|"):
			in = false
		case in && !strings.HasPrefix(line, "|---"):
			cells = append(cells, strings.SplitN(line, "|", 3)[1])
		}
	}
	return cells
}
