package respfilter

import (
	"errors"
	"fmt"
	"strings"
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

// node is one level of a compiled allowlist. The zero value allows nothing.
type node struct {
	keep    bool             // the value here is allowed whole
	named   map[string]*node // member names; each already includes anyKey's paths
	anyKey  *node            // "*": members not in named
	anyElem *node            // "#": every array element

	// names and kids mirror a small named map for lookup by linear scan,
	// which beats hashing the key for a handful of names (notably in Wasm,
	// where Go's string hash has no hardware help).
	names []string
	kids  []*node

	id    int32 // dense index within its allowlist
	fixed bool  // every value reaching this node has the same path
}

// linearNames is the largest named set looked up by linear scan.
const linearNames = 8

// member returns the allowlist for the object member key, or nil when the
// member is not allowed at all.
func (n *node) member(key string) *node {
	if n.names != nil {
		for i, name := range n.names {
			if name == key {
				return n.kids[i]
			}
		}
		return n.anyKey
	}
	if c, ok := n.named[key]; ok {
		return c
	}
	return n.anyKey
}

// allowlist is a compiled, immutable set of allow paths.
type allowlist struct {
	root  *node
	nodes int // number of nodes; ids are 0..nodes-1
}

// parsePath splits an allow path into segments. Wildcards come back as the
// sentinels segAnyKey and segAnyElem; literal keys are unescaped.
func parsePath(p string) ([]segment, error) {
	if p == "" {
		return nil, errors.New("empty path")
	}
	var segs []segment
	var cur strings.Builder
	escaped := false // cur holds an escaped character, so it cannot be a wildcard
	flush := func() error {
		s := cur.String()
		cur.Reset()
		if s == "" {
			return errors.New("empty segment (use \\. for a dot inside a key)")
		}
		switch {
		case !escaped && s == "*":
			segs = append(segs, segment{kind: segAnyKey})
		case !escaped && s == "#":
			segs = append(segs, segment{kind: segAnyElem})
		default:
			segs = append(segs, segment{kind: segKey, key: s})
		}
		escaped = false
		return nil
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '\\':
			if i+1 == len(p) {
				return nil, errors.New("dangling backslash at end of path")
			}
			i++
			switch p[i] {
			case '.', '*', '#', '\\':
				cur.WriteByte(p[i])
				escaped = true
			default:
				return nil, fmt.Errorf("unknown escape \\%c (only \\. \\* \\# \\\\ are allowed)", p[i])
			}
		case '.':
			if err := flush(); err != nil {
				return nil, err
			}
		case '*', '#':
			// Only a whole segment may be a wildcard; "a*b" is refused rather
			// than guessed to be a glob or a literal.
			wholeSegment := cur.Len() == 0 && (i+1 == len(p) || p[i+1] == '.')
			if !wholeSegment {
				return nil, fmt.Errorf("%q must be a whole segment; escape it (\\%c) to match it literally", c, c)
			}
			cur.WriteByte(c)
		default:
			if c < 0x20 {
				return nil, errors.New("control character in path")
			}
			cur.WriteByte(c)
		}
		if len(segs) > maxPathSegments {
			return nil, fmt.Errorf("more than %d segments", maxPathSegments)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(segs) > maxPathSegments {
		return nil, fmt.Errorf("more than %d segments", maxPathSegments)
	}
	return segs, nil
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

// compileAllowlist builds the trie for paths. Paths are validated one by
// one so the error names the offending entry.
func compileAllowlist(paths []string) (*allowlist, error) {
	root := &node{}
	for i, p := range paths {
		segs, err := parsePath(p)
		if err != nil {
			return nil, &pathError{index: i, path: p, err: err}
		}
		insert(root, segs)
	}
	c := compiler{budget: maxTrieNodes}
	root, err := c.finalize(root, true)
	if err != nil {
		return nil, err
	}
	return &allowlist{root: root, nodes: int(c.nextID)}, nil
}

// pathError names the allow entry that failed to parse.
type pathError struct {
	index int
	path  string
	err   error
}

func (e *pathError) Error() string { return fmt.Sprintf("[%d] %q: %v", e.index, e.path, e.err) }
func (e *pathError) Unwrap() error { return e.err }

func insert(n *node, segs []segment) {
	for _, s := range segs {
		var next **node
		switch s.kind {
		case segAnyKey:
			next = &n.anyKey
		case segAnyElem:
			next = &n.anyElem
		default:
			if n.named == nil {
				n.named = make(map[string]*node)
			}
			c := n.named[s.key]
			if c == nil {
				c = &node{}
				n.named[s.key] = c
			}
			n = c
			continue
		}
		if *next == nil {
			*next = &node{}
		}
		n = *next
	}
	n.keep = true
}

// compiler carries the node budget and id counter of one compilation.
type compiler struct {
	budget int
	nextID int32
}

// finalize returns a copy of n in which a kept node has no children (its
// subtree is kept anyway) and every named member also carries the paths of
// the "*" wildcard, so matching needs a single lookup per member. fixed says
// whether every document value reaching the copy has the same normalised
// path (no "*" on the way), which lets the filter memoise removed paths per
// node.
func (c *compiler) finalize(n *node, fixed bool) (*node, error) {
	if n == nil {
		return nil, nil
	}
	c.budget--
	if c.budget < 0 {
		return nil, errTooManyNodes
	}
	out := &node{keep: n.keep, id: c.nextID, fixed: fixed}
	c.nextID++
	if n.keep {
		return out, nil
	}
	var err error
	if out.anyKey, err = c.finalize(n.anyKey, false); err != nil {
		return nil, err
	}
	if out.anyElem, err = c.finalize(n.anyElem, fixed); err != nil {
		return nil, err
	}
	if len(n.named) > 0 {
		out.named = make(map[string]*node, len(n.named))
		for k, child := range n.named {
			merged := merge(child, n.anyKey)
			if out.named[k], err = c.finalize(merged, fixed); err != nil {
				return nil, err
			}
		}
		if len(out.named) <= linearNames {
			for k, child := range out.named {
				out.names = append(out.names, k)
				out.kids = append(out.kids, child)
			}
		}
	}
	return out, nil
}

// merge returns the union of two allowlists without modifying either.
func merge(a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := &node{keep: a.keep || b.keep}
	if out.keep {
		return out
	}
	out.anyKey = merge(a.anyKey, b.anyKey)
	out.anyElem = merge(a.anyElem, b.anyElem)
	if len(a.named)+len(b.named) > 0 {
		out.named = make(map[string]*node, len(a.named)+len(b.named))
		for k, c := range a.named {
			out.named[k] = merge(c, b.named[k])
		}
		for k, c := range b.named {
			if _, ok := a.named[k]; !ok {
				out.named[k] = c
			}
		}
	}
	return out
}

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
