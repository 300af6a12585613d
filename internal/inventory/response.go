package inventory

import (
	"strings"

	"github.com/apiguard/apiguard/internal/detect"
)

// Types is a set of JSON types seen at a path.
type Types uint8

const (
	TypeObject Types = 1 << iota
	TypeArray
	TypeString
	TypeNumber
	TypeBool
	TypeNull
)

var typeNames = [...]string{"object", "array", "string", "number", "boolean", "null"}

// Names lists the type names in s, in a fixed order.
func (t Types) Names() []string {
	var out []string
	for i, n := range typeNames {
		if t&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// ParseType returns the type named s.
func ParseType(s string) (Types, bool) {
	for i, n := range typeNames {
		if n == s {
			return 1 << i, true
		}
	}
	return 0, false
}

// kindType maps the first byte of a JSON value to its type.
func kindType(kind byte) Types {
	switch kind {
	case '{':
		return TypeObject
	case '[':
		return TypeArray
	case '"':
		return TypeString
	case 't', 'f':
		return TypeBool
	case 'n':
		return TypeNull
	default:
		return TypeNumber
	}
}

// Limits bound what one response adds and what a path may be.
const (
	// MaxPathBytes is the longest path recorded; a longer one is counted
	// in Response.Dropped instead.
	MaxPathBytes = 256
	// MaxResponseFields is the most distinct paths one response records.
	MaxResponseFields = 256
	// maxDepth is the deepest nesting the Observer follows.
	maxDepth = 64
	// maxValueBytes is the longest string prefix classified; a longer
	// value is classified by its prefix (a PEM key or a JWT is recognised
	// from its start).
	maxValueBytes = 1024
	// maxKeyBytes is the longest key kept; a longer one is data
	// (detect.IsDataKey takes nothing over 64 characters for a name).
	maxKeyBytes = 65
)

// Field is one path of a response, or of the inventory.
type Field struct {
	Path    string
	Types   Types
	Classes ClassSet
}

// Response collects the fields of one response. It is reused (Reset) and
// not safe for concurrent use.
type Response struct {
	c      *Classifier
	fields []Field
	index  map[string]int
	// Values counts the values found of each class, by class index.
	Values [64]uint32
	// Found is every class found in this response.
	Found ClassSet
	// Action is the strictest policy of the classes found.
	Action Policy
	// Dropped counts fields not recorded: paths over MaxPathBytes, or
	// past MaxResponseFields.
	Dropped int
	// Incomplete is set when the body could not be followed to its end
	// (not JSON, nested deeper than the Observer follows).
	Incomplete bool
	// collapsed caches the collapsed form of a raw path (Inspector).
	collapsed map[string][]byte
}

// NewResponse returns an empty response for classifier c.
func NewResponse(c *Classifier) *Response {
	return &Response{c: c, index: make(map[string]int, 16)}
}

// Reset empties r for the next response.
func (r *Response) Reset() {
	r.fields = r.fields[:0]
	clear(r.index)
	r.Values = [64]uint32{}
	r.Found, r.Action, r.Dropped, r.Incomplete = 0, Observe, 0, false
	if len(r.collapsed) > MaxResponseFields {
		r.collapsed = nil
	} else {
		clear(r.collapsed)
	}
}

// Fields returns the fields recorded, in the order first seen.
func (r *Response) Fields() []Field { return r.fields }

// Classifier returns the classifier r records for.
func (r *Response) Classifier() *Classifier { return r.c }

// value records a value of kind (its first JSON byte) at the collapsed
// path, with key its member name ("" in an array) and str the content of a
// string or the text of a number (nil otherwise), and returns the policy of
// its classes.
func (r *Response) value(path []byte, key string, kind byte, str []byte) Policy {
	var classes ClassSet
	if r.c != nil {
		classes = r.c.Key(key)
		switch {
		case kind == '"':
			classes |= r.c.String(key, unsafeString(str))
		case kind == '-' || kind >= '0' && kind <= '9':
			if len(str) >= 12 && allDigits(str) {
				classes |= r.c.String(key, unsafeString(str))
			}
		}
	}
	if len(path) == 0 {
		path = append(path, '$')
	}
	if len(path) > MaxPathBytes {
		r.Dropped++
	} else if i, ok := r.index[unsafeString(path)]; ok {
		f := &r.fields[i]
		f.Types |= kindType(kind)
		f.Classes |= classes
	} else if len(r.fields) < MaxResponseFields {
		p := string(path)
		r.index[p] = len(r.fields)
		r.fields = append(r.fields, Field{Path: p, Types: kindType(kind), Classes: classes})
	} else {
		r.Dropped++
	}
	if classes == 0 {
		return Observe
	}
	r.Found |= classes
	p := r.c.Worst(classes)
	if p > r.Action {
		r.Action = p
	}
	for i := 0; classes != 0; i++ {
		if classes.Has(i) {
			r.Values[i]++
			classes &^= 1 << uint(i)
		}
	}
	return p
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendSegment appends one collapsed path segment for an object key: "*"
// for a data-like key, else the key in the response filter's path syntax
// ('.', '\\', '*' and '#' escaped by a backslash, control bytes as '?';
// respfilter.escapeKey), so that a path of the inventory is an allow path.
func appendSegment(dst []byte, key string) []byte {
	if len(dst) > 0 {
		dst = append(dst, '.')
	}
	if detect.IsDataKey(key) {
		return append(dst, '*')
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '.' || c == '\\' || c == '*' || c == '#':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '?')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// collapse returns the collapsed form of a path in the response filter's
// syntax (escaped keys, "#" for array elements), and the last key.
func collapse(dst []byte, raw string) ([]byte, string) {
	var key string
	var seg strings.Builder
	flush := func(escaped bool) {
		s := seg.String()
		seg.Reset()
		if s == "#" && !escaped {
			if len(dst) > 0 {
				dst = append(dst, '.')
			}
			dst = append(dst, '#')
			key = ""
			return
		}
		key = s
		dst = appendSegment(dst, s)
	}
	escaped := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			seg.WriteByte(raw[i])
			escaped = true
		case c == '.':
			flush(escaped)
			escaped = false
		default:
			seg.WriteByte(c)
		}
	}
	if raw != "" {
		flush(escaped)
	}
	return dst, key
}
