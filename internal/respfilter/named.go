package respfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apiguard/apiguard/internal/config"
)

// AllowList is an allow list: field paths, and named allowlists used at a
// path. In JSON each entry is a path string ("owner.login") or an object
// ({"allowlist": "simple-user", "at": "owner"}).
type AllowList []AllowEntry

// AllowEntry is one entry of an AllowList: a path, or, when Allowlist is
// set, every path of the named allowlist (Config.Allowlists) put below the
// path At ("" for the document itself).
type AllowEntry struct {
	Path      string
	Allowlist string
	At        string
}

// Paths is an AllowList of paths only.
func Paths(paths ...string) AllowList {
	l := make(AllowList, len(paths))
	for i, p := range paths {
		l[i].Path = p
	}
	return l
}

// use is the JSON object form of an AllowEntry.
type use struct {
	// Allowlist names an entry of response_filter.allowlists.
	Allowlist string `json:"allowlist" config:"required"`
	// At is the path the named allowlist's paths are put below; the
	// document itself when absent.
	At string `json:"at,omitempty"`
}

// UnmarshalJSON reads a path (a JSON string) or a use of a named allowlist
// (an object), strictly: an unknown key in the object is an error.
func (e *AllowEntry) UnmarshalJSON(data []byte) error {
	if len(data) > 1 && data[0] == '"' {
		*e = AllowEntry{}
		if !bytes.ContainsRune(data, '\\') {
			// Decode has checked the document: a string without escapes
			// is its bytes between the quotes.
			e.Path = string(data[1 : len(data)-1])
			return nil
		}
		return config.Decode(data, &e.Path)
	}
	if len(data) == 0 || data[0] != '{' {
		return errors.New(`expected a path (a string) or {"allowlist": NAME, "at": PATH}`)
	}
	var u use
	if err := config.Decode(data, &u); err != nil {
		return err
	}
	*e = AllowEntry{Allowlist: u.Allowlist, At: u.At}
	return nil
}

// MarshalJSON writes the entry back in its JSON form.
func (e AllowEntry) MarshalJSON() ([]byte, error) {
	var v any = e.Path
	if e.Allowlist != "" {
		v = use{Allowlist: e.Allowlist, At: e.At}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keys such as "a<b" stay readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// JSONSchema describes an allow entry: a path, or a use of a named
// allowlist.
func (AllowEntry) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "description": "a field path"},
		map[string]any{
			"type":                 "object",
			"description":          "the paths of a named allowlist (response_filter.allowlists), below the path at",
			"properties":           map[string]any{"allowlist": map[string]any{"type": "string"}, "at": map[string]any{"type": "string"}},
			"required":             []string{"allowlist"},
			"additionalProperties": false,
		},
	}}
}

// validate checks the syntax of every entry; whether the named allowlists
// exist is checked when the section compiles.
func (l AllowList) validate() error {
	var segs [maxPathSegments + 1]segment
	for i, e := range l {
		at := fmt.Sprintf("[%d]", i)
		if e.Allowlist == "" {
			if _, err := appendSegments(segs[:0], e.Path); err != nil {
				return config.Errorf(at, "%q: %v", e.Path, err)
			}
			continue
		}
		if e.Path != "" {
			return config.Errorf(at, "is a path or a use of a named allowlist, not both")
		}
		if !validAllowlistName(e.Allowlist) {
			return config.Errorf(at+".allowlist", "%q: %s", e.Allowlist, allowlistNameRule)
		}
		if e.At != "" {
			if _, err := appendSegments(segs[:0], e.At); err != nil {
				return config.Errorf(at+".at", "%q: %v", e.At, err)
			}
		}
	}
	return nil
}

const allowlistNameRule = "an allowlist name is letters, digits, '.', '_' and '-' (as OpenAPI component names)"

// validAllowlistName reports whether name fits allowlistNameRule.
func validAllowlistName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// named compiles the section's named allowlists on demand, each once.
type named struct {
	comp  *compiler
	lists map[string]AllowList
	done  map[string]*node
	// stack is the names being compiled, to name a cycle.
	stack []string
}

// list compiles an allow list: its paths, and the named allowlists it uses
// at their paths. An error is a *config.Error relative to the list, or a
// *usedError for one inside a named allowlist the list uses.
func (nm *named) list(l AllowList) (*node, error) {
	c := nm.comp
	root := &rawNode{}
	for i, e := range l {
		if e.Allowlist == "" {
			if err := c.add(root, i, e.Path); err != nil {
				return nil, config.Errorf(fmt.Sprintf("[%d]", i), "%q: %v", e.Path, errors.Unwrap(err))
			}
			continue
		}
		u, err := nm.get(e.Allowlist)
		if err != nil {
			var ue *usedError
			if errors.As(err, &ue) {
				return nil, err
			}
			return nil, prefixed(fmt.Sprintf("[%d].allowlist", i), err)
		}
		if u == nil {
			continue // an empty allowlist allows nothing anywhere
		}
		pos := root
		if e.At != "" {
			if c.segs, err = appendSegments(c.segs[:0], e.At); err != nil {
				return nil, config.Errorf(fmt.Sprintf("[%d].at", i), "%q: %v", e.At, err)
			}
			pos = root.at(c.segs)
		}
		pos.uses = append(pos.uses, u)
	}
	return c.finalize(root), nil
}

// get compiles the named allowlist name, once. A name that is not defined,
// or that is being compiled (a cycle), is an error of the use.
func (nm *named) get(name string) (*node, error) {
	if n, ok := nm.done[name]; ok {
		return n, nil
	}
	l, ok := nm.lists[name]
	if !ok {
		return nil, config.Errorf("", "%q is not defined in response_filter.allowlists", name)
	}
	if i := slices.Index(nm.stack, name); i >= 0 {
		return nil, config.Errorf("", "allowlists cannot use themselves: %s", strings.Join(append(slices.Clone(nm.stack[i:]), name), " -> "))
	}
	nm.stack = append(nm.stack, name)
	n, err := nm.list(l)
	nm.stack = nm.stack[:len(nm.stack)-1]
	if err == nil && !nm.comp.fits(n) {
		err = config.Errorf("", "%v", errTooManyNodes)
	}
	if err != nil {
		var ue *usedError
		if !errors.As(err, &ue) {
			err = &usedError{name: name, err: err}
		}
		return nil, err
	}
	nm.done[name] = n
	return n, nil
}

// usedError is an error inside the named allowlist name, found wherever
// it was first compiled: it is reported at the named allowlist.
type usedError struct {
	name string
	err  error
}

func (e *usedError) Error() string { return e.err.Error() }

// at is the error with its path in the section.
func (e *usedError) at() error {
	return prefixed(config.KeyPath("allowlists", e.name), e.err)
}
