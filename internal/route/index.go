package route

import (
	"math/bits"
	"slices"
	"strings"
)

// Index selects among an ordered list of matchers in time that depends on
// the path's length, not on the number of rules: a configuration generated
// from a large OpenAPI description has a thousand rules, and a linear scan
// over them costs every request hundreds of microseconds (more in Wasm).
//
// It is built once, at configure time, from a segment trie over the path
// conditions: literal segments (lower-cased), one edge for any single
// segment ("*", "{id}"), rules that end at a node (path, template) and
// rules that match whatever follows a node (prefix, "**"). A request's
// walk collects a superset of the rules whose path condition can match;
// regexes and rules without a path condition are always candidates. Every
// candidate is then checked by its Matcher, in rule order, so the result
// is the same as the linear first match by construction: the trie only
// ever leaves out rules that cannot match.
//
// An Index is immutable and safe for concurrent use. Its methods do not
// allocate for paths of usual depth and candidate counts.
type Index struct {
	ms   []*Matcher
	root *trieNode
	// always are the rules the trie cannot place (no path condition, a
	// regex without a literal prefix), ascending.
	always []int32
	// folded are the regex rules the trie placed by their literal
	// prefix, ascending: a case-insensitive regex also matches non-ASCII
	// case variants ("ſ" for "s", the Kelvin sign for "k"), which the
	// trie's ASCII lower-casing does not find, so a path with a non-ASCII
	// byte gets them all.
	folded []int32
	// bitSets: with at most maxBitRules rules, every rule list above and in
	// the trie is also a bit set (bit i for rule i), so a walk ORs words
	// and the candidates come out in rule order without a sort.
	bitSets                bool
	alwaysBits, foldedBits uint64
	// allBits has a bit for every rule: the candidates of a walk that
	// branches more often than walkBits's stack holds.
	allBits uint64
}

// maxBitRules is the most rules an Index keeps as bit sets: one word.
const maxBitRules = 64

type trieNode struct {
	lits map[string]*trieNode // by lower-cased segment, while building
	// names and kids are lits once built when it has at most smallFanout
	// entries (compact): a scan that compares lengths first costs the Wasm
	// guest less than hashing the segment for a map lookup.
	names []string
	kids  []*trieNode
	any   *trieNode // one segment, whatever it holds
	// end are the rules whose path ends here; rest those that match any
	// path through here. Both ascending.
	end, rest []int32
	// endBits and restBits are end and rest as bit sets (Index.bitSets).
	endBits, restBits uint64
}

// NewIndex indexes ms in order; a nil entry matches every request, as a
// nil *Matcher does.
func NewIndex(ms []*Matcher) *Index {
	return newIndex(ms, len(ms) <= maxBitRules)
}

// newIndex is NewIndex, with bit sets or not (the tests compare both).
func newIndex(ms []*Matcher, bitSets bool) *Index {
	x := &Index{ms: ms, root: &trieNode{}}
	for i, m := range ms {
		x.add(int32(i), m)
	}
	x.root.compact()
	if bitSets && len(ms) <= maxBitRules {
		x.bitSets = true
		x.alwaysBits, x.foldedBits = bitSet(x.always), bitSet(x.folded)
		x.allBits = ^uint64(0) >> (maxBitRules - len(ms))
		x.root.setBits()
	}
	return x
}

// bitSet is a list of rule indices below maxBitRules as a bit set.
func bitSet(list []int32) (set uint64) {
	for _, i := range list {
		set |= 1 << i
	}
	return set
}

// setBits fills in the bit sets of n and of every node below it.
func (n *trieNode) setBits() {
	n.endBits, n.restBits = bitSet(n.end), bitSet(n.rest)
	if n.any != nil {
		n.any.setBits()
	}
	for _, c := range n.kids {
		c.setBits()
	}
	for _, c := range n.lits {
		c.setBits()
	}
}

// smallFanout is the most literal edges a node keeps in a slice.
const smallFanout = 8

// compact turns the literal edges of n and of every node below it into
// slices where there are few of them.
func (n *trieNode) compact() {
	if n.any != nil {
		n.any.compact()
	}
	for _, c := range n.lits {
		c.compact()
	}
	if len(n.lits) > smallFanout {
		return
	}
	for name, c := range n.lits {
		n.names = append(n.names, name)
		n.kids = append(n.kids, c)
	}
	n.lits = nil
}

// edge is the literal edge for the lower-cased segment key, nil if none.
func (n *trieNode) edge(key string) *trieNode {
	if n.lits != nil {
		return n.lits[key]
	}
	for i, name := range n.names {
		if len(name) == len(key) && name == key {
			return n.kids[i]
		}
	}
	return nil
}

// edgeFold is the literal edge for seg, equal ignoring ASCII case. The
// edges are lower case: a segment found as it is needs no case test.
func (n *trieNode) edgeFold(seg string) *trieNode {
	if c := n.edge(seg); c != nil || !hasUpper(seg) {
		return c
	}
	if len(seg) <= 128 {
		var low [128]byte
		return n.edgeBytes(lowerInto(low[:0], seg))
	}
	return n.edge(asciiLower(seg))
}

// edgeBytes is edge for a key in bytes.
func (n *trieNode) edgeBytes(key []byte) *trieNode {
	if n.lits != nil {
		return n.lits[string(key)]
	}
	for i, name := range n.names {
		if len(name) == len(key) && name == string(key) {
			return n.kids[i]
		}
	}
	return nil
}

func (x *Index) add(i int32, m *Matcher) {
	if m == nil {
		x.always = append(x.always, i)
		return
	}
	switch m.kind {
	case pathExact:
		n := x.node(strings.Split(m.path[1:], "/"))
		n.end = append(n.end, i)
	case pathPrefix:
		// "/a/" matches what follows "/a/", so what passes the node for
		// "a": a superset, which the Matcher narrows.
		segs := strings.Split(strings.TrimSuffix(m.path, "/"), "/")[1:]
		n := x.node(segs)
		n.rest = append(n.rest, i)
	case pathTemplateKind:
		x.addTemplate(i, m.tmpl)
	case pathRegex:
		// Every path the regex matches starts with its literal prefix
		// (none if it alternates or sets its own flags): the whole
		// segments of it place the rule like a prefix.
		lit, _ := m.literal.LiteralPrefix()
		k := strings.LastIndexByte(lit, '/')
		if !strings.HasPrefix(lit, "/") || k <= 0 {
			x.always = append(x.always, i)
			return
		}
		n := x.node(strings.Split(lit[1:k], "/"))
		n.rest = append(n.rest, i)
		x.folded = append(x.folded, i)
	default:
		x.always = append(x.always, i)
	}
}

// addTemplate places a template: a literal part is a segment (a suffix
// joined to a literal stays in it), "*" and variables are the any-segment
// edge (a suffix only narrows them), and "**" matches whatever follows the
// parts before it.
func (x *Index) addTemplate(i int32, t *pathTemplate) {
	n := x.root
	if len(t.parts) == 0 {
		// "/": the path "/", one empty segment.
		n = n.child("")
	}
	for _, p := range t.parts {
		switch p.kind {
		case partLiteral:
			n = n.child(p.lit)
		case partGlob:
			if n.any == nil {
				n.any = &trieNode{}
			}
			n = n.any
		case partTextGlob:
			n.rest = append(n.rest, i)
			return
		}
	}
	n.end = append(n.end, i)
}

func (x *Index) node(segs []string) *trieNode {
	n := x.root
	for _, s := range segs {
		n = n.child(s)
	}
	return n
}

func (n *trieNode) child(seg string) *trieNode {
	seg = asciiLower(seg)
	if n.lits == nil {
		n.lits = map[string]*trieNode{}
	}
	c := n.lits[seg]
	if c == nil {
		c = &trieNode{}
		n.lits[seg] = c
	}
	return c
}

// First returns the index of the first matcher that matches r, as a scan
// of the list in order would, or -1.
func (x *Index) First(r *Request) int {
	if x == nil || len(x.ms) == 0 {
		return -1
	}
	if r == nil {
		// A nil request matches only nil matchers (Matcher.Matches).
		for _, i := range x.always {
			if x.ms[i] == nil {
				return int(i)
			}
		}
		return -1
	}
	if x.bitSets {
		for set := x.alwaysBits | x.walkBits(r.Path, false, -1); set != 0; set &= set - 1 {
			if i := bits.TrailingZeros64(set); x.ms[i].Matches(r) {
				return i
			}
		}
		return -1
	}
	var buf candidates
	c := x.collect(&buf, r.Path, "")
	for _, i := range c {
		if x.ms[i].Matches(r) {
			return int(i)
		}
	}
	return -1
}

// AnyAmbiguous reports whether one of the indexed matchers finds path
// ambiguous (Matcher.Ambiguous), as the package's AnyAmbiguous over the
// same list does.
func (x *Index) AnyAmbiguous(path string) bool {
	if x == nil || len(x.ms) == 0 {
		return false
	}
	if x.bitSets {
		// A matcher can find path ambiguous only by matching path or its
		// trailing-slash variant, with or without case; the variant of a
		// path without a trailing slash is walked without being built.
		set := x.alwaysBits
		if n := len(path); n > 0 && path[n-1] == '/' {
			set |= x.walkBits(path, false, n-1) // "/" has no variant: "" ends nowhere
		} else {
			set |= x.walkBits(path, true, n)
		}
		for ; set != 0; set &= set - 1 {
			if x.ms[bits.TrailingZeros64(set)].ambiguousHere(path) {
				return true
			}
		}
		return false
	}
	other := slashVariant(path)
	var buf candidates
	// A matcher can find path ambiguous only by matching path or its
	// trailing-slash variant, with or without case.
	for _, i := range x.collect(&buf, path, other) {
		if x.ms[i].ambiguous(path, other) {
			return true
		}
	}
	return false
}

// candidates is a stack buffer for a walk's rule indices.
type candidates struct {
	arr [64]int32
	// stack holds the trie nodes still to walk, with their depth.
	stack [32]walkState
}

type walkState struct {
	n *trieNode
	// pos is the offset of the '/' before the node's next segment, or
	// the path's length when every segment is consumed.
	pos int
}

// collect returns, ascending and without repeats, the rules whose path
// condition may match p or q (q may be ""): the always list, and what the
// trie walk of each path meets.
func (x *Index) collect(buf *candidates, p, q string) []int32 {
	out := append(buf.arr[:0], x.always...)
	for k, path := range [2]string{p, q} {
		if k == 1 && q == "" {
			break
		}
		if len(x.folded) > 0 && !isASCII(path) {
			out = append(out, x.folded...)
		}
		if path == "" || path[0] != '/' {
			// No path, prefix or template matches a path that does not
			// start with '/', except the prefix "/" at the root.
			out = append(out, x.root.rest...)
			continue
		}
		out = x.walk(out, buf.stack[:0], path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// walkBits is collect's walk for an Index of bit sets: the rules the trie
// walk of path (of path + "/" when slash) meets, the end rules of the nodes
// it reaches with the '/' at offset alsoEnd before it (-1 for none), and
// the folded regexes when path is not ASCII.
//
// alsoEnd makes one walk serve a path and its trailing-slash variant
// (AnyAmbiguous): "/a/b" walked as "/a/b/" passes every node "/a/b" ends
// at with offset len("/a/b"); "/a/b/" passes the nodes "/a/b" ends at with
// offset len("/a/b"), before its last, empty, segment.
func (x *Index) walkBits(path string, slash bool, alsoEnd int) uint64 {
	var set uint64
	if x.foldedBits != 0 && !isASCII(path) {
		set = x.foldedBits
	}
	if path == "" && slash {
		// path + "/" is "/"; "" ends nowhere in the trie.
		path, slash, alsoEnd = "/", false, -1
	}
	if path == "" || path[0] != '/' {
		// No path, prefix or template matches a path that does not start
		// with '/', except the prefix "/" at the root (also with a '/'
		// added).
		return set | x.root.restBits
	}
	// end is the walked path's length: one more than path's when the
	// added '/' (at offset len(path)) ends it.
	end := len(path)
	if slash {
		end++
	}
	// The walk follows one node at a time and stacks only the second
	// edge where a node has two (a literal and the any-segment edge).
	var stack [16]walkState
	sp := 0
	n, pos := x.root, 0
	for {
		set |= n.restBits
		if pos == alsoEnd {
			set |= n.endBits
		}
		if pos >= end {
			set |= n.endBits
		} else {
			// pos is the offset of the '/' before the next segment; at
			// len(path) that is the added '/', before an empty segment.
			seg := ""
			if pos < len(path) {
				seg = path[pos+1:]
				if i := strings.IndexByte(seg, '/'); i >= 0 {
					seg = seg[:i]
				}
			}
			next := pos + 1 + len(seg)
			var c *trieNode
			if n.lits != nil || n.names != nil {
				c = n.edgeFold(seg)
			}
			switch {
			case c != nil && n.any != nil:
				if sp == len(stack) {
					return x.allBits // more branches than the stack: every rule is a candidate
				}
				stack[sp] = walkState{n.any, next}
				sp++
				n, pos = c, next
				continue
			case c != nil:
				n, pos = c, next
				continue
			case n.any != nil:
				n, pos = n.any, next
				continue
			}
		}
		if sp == 0 {
			return set
		}
		sp--
		n, pos = stack[sp].n, stack[sp].pos
	}
}

// walk adds the rules met on every trie path that path's segments can
// take: a literal edge, equal ignoring ASCII case, and the any-segment
// edge.
func (x *Index) walk(out []int32, stack []walkState, path string) []int32 {
	var low [128]byte
	stack = append(stack, walkState{x.root, 0})
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, s.n.rest...)
		if s.pos >= len(path) {
			out = append(out, s.n.end...)
			continue
		}
		// path[s.pos] is the '/' before the next segment.
		seg := path[s.pos+1:]
		if i := strings.IndexByte(seg, '/'); i >= 0 {
			seg = seg[:i]
		}
		next := s.pos + 1 + len(seg)
		if s.n.any != nil {
			stack = append(stack, walkState{s.n.any, next})
		}
		if s.n.lits == nil && s.n.names == nil {
			continue
		}
		var c *trieNode
		switch {
		case !hasUpper(seg):
			c = s.n.edge(seg)
		case len(seg) <= len(low):
			c = s.n.edgeBytes(lowerInto(low[:0], seg))
		default:
			c = s.n.edge(asciiLower(seg))
		}
		if c != nil {
			stack = append(stack, walkState{c, next})
		}
	}
	return out
}

func asciiLower(s string) string {
	if !hasUpper(s) {
		return s
	}
	return string(lowerInto(make([]byte, 0, len(s)), s))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func lowerInto(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}
