// Package claims evaluates conditions on the claims of a verified JWT. The
// same Condition type serves JWT requirements, rate-limit keys and
// overrides, and response-filter allowlists, so a claim rule means the same
// everywhere.
package claims

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/config"
)

// maxPathSegments bounds a claim path; real claims nest a few levels.
const maxPathSegments = 32

// Path addresses a claim, one map key per segment. In JSON it is a dotted
// string ("realm_access.roles") or, for claim names that contain dots or
// slashes, an array of segments (["https://example.com/roles"]).
type Path []string

// UnmarshalJSON accepts either form and refuses empty paths and segments.
func (p *Path) UnmarshalJSON(b []byte) error {
	var segs []string
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return config.Errorf("", "invalid claim path")
		}
		if s == "" {
			return config.Errorf("", "claim path must not be empty")
		}
		segs = strings.Split(s, ".")
	case len(b) > 0 && b[0] == '[':
		if err := json.Unmarshal(b, &segs); err != nil {
			return config.Errorf("", "claim path must be a string or an array of strings")
		}
		if len(segs) == 0 {
			return config.Errorf("", "claim path must not be empty")
		}
	default:
		return config.Errorf("", "claim path must be a string or an array of strings")
	}
	np := Path(segs)
	if err := np.Validate(); err != nil {
		return err
	}
	*p = np
	return nil
}

// Validate refuses empty paths, empty segments and overlong paths.
func (p Path) Validate() error {
	if len(p) == 0 {
		return config.Errorf("", "claim path must not be empty")
	}
	if len(p) > maxPathSegments {
		return config.Errorf("", "claim path has more than %d segments", maxPathSegments)
	}
	for i, s := range p {
		if s == "" {
			return config.Errorf("", "claim path %s has an empty segment %d", p, i)
		}
	}
	return nil
}

// MarshalJSON writes the dotted form when it is unambiguous, else an array.
func (p Path) MarshalJSON() ([]byte, error) {
	if p.dotted() {
		return json.Marshal(strings.Join(p, "."))
	}
	return json.Marshal([]string(p))
}

// String renders the path for logs and errors: `realm_access.roles`, or
// `["https://example.com/roles"]` when a segment contains a dot.
func (p Path) String() string {
	if p.dotted() {
		return strings.Join(p, ".")
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	b.WriteByte(']')
	return b.String()
}

func (p Path) dotted() bool {
	if len(p) == 0 {
		return false
	}
	for _, s := range p {
		if s == "" || strings.Contains(s, ".") {
			return false
		}
	}
	return true
}

// Lookup returns the claim at p, walking nested objects one segment at a
// time. It reports false when any segment is missing or a parent is not an
// object, and for an empty path.
func Lookup(claims map[string]any, p Path) (any, bool) {
	if len(p) == 0 || claims == nil {
		return nil, false
	}
	cur := claims
	for i, seg := range p {
		v, ok := cur[seg]
		if !ok {
			return nil, false
		}
		if i == len(p)-1 {
			return v, true
		}
		if cur, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// JSONSchema describes both forms of a claim path.
func (Path) JSONSchema() map[string]any {
	return map[string]any{
		"description": `a dotted claim path ("realm_access.roles") or an array of segments (["https://example.com/roles"])`,
		"anyOf": []any{
			map[string]any{"type": "string", "minLength": 1},
			map[string]any{"type": "array", "items": map[string]any{"type": "string", "minLength": 1}, "minItems": 1, "maxItems": maxPathSegments},
		},
	}
}
