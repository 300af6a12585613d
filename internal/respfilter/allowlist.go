package respfilter

import (
	"errors"
	"fmt"
)

const (
	// maxPathSegments bounds one allow path; documents may still nest deeper
	// below a value kept whole (up to the configured depth limit).
	maxPathSegments = 64
	// maxTrieNodes bounds the compiled allowlist: wildcard merging can
	// multiply nodes, and a config must not be able to exhaust memory.
	maxTrieNodes = 100_000
)

// errTooManyNodes reports an allowlist whose wildcards expand too far.
var errTooManyNodes = errors.New("allowlist expands to too many nodes")

// node is one level of a compiled allowlist. Nodes are interned
// (compiler.intern): equal subtrees are one node, shared by every position
// and every allowlist that reaches them, so a filter's memory grows with the
// distinct shapes its allowlists hold, not with its rules. A node is
// immutable once interned, which is what makes sharing safe. What depends on
// where a node is reached (its position id, whether its path is fixed) is
// computed by the filter as it descends, from the offsets below.
type node struct {
	keep    bool  // the value here is allowed whole
	anyKey  *node // "*": members not in names
	anyElem *node // "#": every array element

	// names (sorted) and kids are the named members; each kid already
	// includes anyKey's paths, so matching needs one lookup per member.
	// index maps a name to its place when there are more than linearNames:
	// a linear scan beats hashing the key for a handful of names (notably
	// in Wasm, where Go's string hash has no hardware help).
	names []string
	kids  []*node
	index map[string]int32

	// Position ids. The positions of an allowlist are the nodes of the
	// tree it would be without sharing, numbered in preorder from 0 at the
	// root: a child's id is its parent's plus the child's offset. size is
	// the number of positions in this subtree, saturated at
	// maxTrieNodes+1.
	offs       []int32 // offset of kids[i]
	anyKeyOff  int32
	anyElemOff int32
	size       int32

	serial uint32 // identity within its compiler (interning keys)
}

// linearNames is the largest named set looked up by linear scan.
const linearNames = 8

// memberAt returns the allowlist for the object member key, or nil when
// the member is not allowed at all, and the child's position id: at is this
// node's id, or -1 when the path to it varies (a "*" on the way); the child's id
// is -1 too when at is, or when the member is reached through "*".
func (n *node) memberAt(key string, at int32) (*node, int32) {
	i := int32(-1)
	if n.index == nil {
		for j, name := range n.names {
			if name == key {
				i = int32(j)
				break
			}
		}
	} else if j, ok := n.index[key]; ok {
		i = j
	}
	if i < 0 {
		return n.anyKey, -1
	}
	if at >= 0 {
		at += n.offs[i]
	}
	return n.kids[i], at
}

// elemAt is the position id of the array elements below n at position at.
func (n *node) elemAt(at int32) int32 {
	if at < 0 {
		return -1
	}
	return at + n.anyElemOff
}

// allowlist is a compiled, immutable set of allow paths.
type allowlist struct {
	root  *node
	nodes int // number of positions; ids are 0..nodes-1
}

// appendSegments splits an allow path into segments, appended to dst.
// Wildcards come back as the sentinels segAnyKey and segAnyElem; literal
// keys are unescaped. A key without escapes is a
// substring of p, so checking a path allocates nothing once dst has room.
func appendSegments(dst []segment, p string) ([]segment, error) {
	if p == "" {
		return dst, errors.New("empty path")
	}
	n := 0
	for start := 0; start <= len(p); {
		// The segment runs to the next dot that is not escaped.
		end, escaped := start, false
		for end < len(p) && p[end] != '.' {
			c := p[end]
			switch {
			case c == '\\':
				if end+1 == len(p) {
					return dst, errors.New("dangling backslash at end of path")
				}
				switch p[end+1] {
				case '.', '*', '#', '\\':
				default:
					return dst, fmt.Errorf("unknown escape \\%c (only \\. \\* \\# \\\\ are allowed)", p[end+1])
				}
				escaped = true
				end += 2
				continue
			case c == '*' || c == '#':
				// Only a whole segment may be a wildcard; "a*b" is refused
				// rather than guessed to be a glob or a literal.
				if end != start || (end+1 < len(p) && p[end+1] != '.') {
					return dst, fmt.Errorf("%q must be a whole segment; escape it (\\%c) to match it literally", c, c)
				}
			case c < 0x20:
				return dst, errors.New("control character in path")
			}
			end++
		}
		raw := p[start:end]
		if raw == "" {
			return dst, errors.New("empty segment (use \\. for a dot inside a key)")
		}
		if n++; n > maxPathSegments {
			return dst, fmt.Errorf("more than %d segments", maxPathSegments)
		}
		switch {
		case raw == "*":
			dst = append(dst, segment{kind: segAnyKey})
		case raw == "#":
			dst = append(dst, segment{kind: segAnyElem})
		case escaped:
			dst = append(dst, segment{kind: segKey, key: unescapeSegment(raw)})
		default:
			dst = append(dst, segment{kind: segKey, key: raw})
		}
		start = end + 1
	}
	return dst, nil
}

// unescapeSegment drops the backslash of each escape in a checked segment.
func unescapeSegment(raw string) string {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		}
		b = append(b, raw[i])
	}
	return string(b)
}

type segKind uint8

const (
	segKey segKind = iota
	segAnyKey
	segAnyElem
)

type segment struct {
	kind segKind
	key  string
}

// pathError names the allow entry that failed to parse.
type pathError struct {
	index int
	path  string
	err   error
}

func (e *pathError) Error() string { return fmt.Sprintf("[%d] %q: %v", e.index, e.path, e.err) }
func (e *pathError) Unwrap() error { return e.err }

// escapeKey appends key to dst in path syntax, so a reported path can be
// pasted back into an allowlist. Control characters become '?' to keep
// audit lines printable.
func escapeKey(dst []byte, key string) []byte {
	if plainKey(key) {
		return append(dst, key...)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
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

// plainKey reports whether key needs no escaping in path syntax.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '.' || c == '\\' || c == '*' || c == '#' || c < 0x20 || c == 0x7f:
			return false
		}
	}
	return true
}
