package respfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apiguard/apiguard/internal/config"
)

// compiler turns allow paths into interned nodes. One compiler serves a
// whole response_filter section, so a shape that many rules allow (GitHub's
// "simple-user" under hundreds of operations) is built once and shared.
// Its tables are dropped after configure; the nodes stay.
type compiler struct {
	interned map[string]*node    // by shape key (shapeKey)
	merged   map[[2]uint32]*node // merge results by the serials of the operands
	leaf     *node               // the node that keeps its value whole
	over     bool                // a node past maxTrieNodes positions was built

	key  []byte    // scratch for shapeKey
	segs []segment // scratch for appendSegments
}

// serials numbers interned nodes across every compiler, so nodes of
// different compilers never share an identity: a policy merges its grants
// into its base allowlist per caller with a compiler of its own.
var serials atomic.Uint32

func newCompiler() *compiler {
	c := &compiler{interned: map[string]*node{}, merged: map[[2]uint32]*node{}}
	c.leaf = c.intern(&node{keep: true})
	return c
}

// rawNode is an allowlist being built, one path at a time, before it is
// finalized into interned nodes.
type rawNode struct {
	keep    bool
	names   []string
	kids    []*rawNode
	anyKey  *rawNode
	anyElem *rawNode
	// uses are compiled allowlists that also apply here (named allowlists
	// used at this position).
	uses []*node
}

func (r *rawNode) child(s segment) *rawNode {
	var next **rawNode
	switch s.kind {
	case segAnyKey:
		next = &r.anyKey
	case segAnyElem:
		next = &r.anyElem
	default:
		if i := slices.Index(r.names, s.key); i >= 0 {
			return r.kids[i]
		}
		k := &rawNode{}
		r.names = append(r.names, s.key)
		r.kids = append(r.kids, k)
		return k
	}
	if *next == nil {
		*next = &rawNode{}
	}
	return *next
}

// at returns the raw node at the path segs, creating it.
func (r *rawNode) at(segs []segment) *rawNode {
	for _, s := range segs {
		r = r.child(s)
	}
	return r
}

// add adds the path p. Paths were checked by Validate; an error here names
// the path's index.
func (c *compiler) add(root *rawNode, i int, p string) error {
	var err error
	if c.segs, err = appendSegments(c.segs[:0], p); err != nil {
		return &pathError{index: i, path: p, err: err}
	}
	root.at(c.segs).keep = true
	return nil
}

// allowlist wraps a compiled root, refusing one past the node budget. An
// empty allowlist is a root that allows nothing.
func (c *compiler) allowlist(root *node) (*allowlist, error) {
	if c.over || root != nil && root.size > maxTrieNodes {
		return nil, errTooManyNodes
	}
	if root == nil {
		root = &node{size: 1}
	}
	return &allowlist{root: root, nodes: int(root.size)}, nil
}

// finalize interns the raw tree r: a kept node needs no children (its
// subtree is kept anyway), every named member also carries the paths of
// "*", and the allowlists used at a position are merged in. It returns nil
// for a subtree that allows nothing, so an unused position never keeps a
// container that the paths as written would have removed.
func (c *compiler) finalize(r *rawNode) *node {
	if r == nil {
		return nil
	}
	if r.keep {
		return c.leaf
	}
	n := &node{anyKey: c.finalize(r.anyKey), anyElem: c.finalize(r.anyElem)}
	for i, name := range r.names {
		// A member that allows nothing of its own (it only uses empty
		// named allowlists) is left to "*", as if it were not written.
		if k := c.finalize(r.kids[i]); k != nil {
			n.names = append(n.names, name)
			n.kids = append(n.kids, c.merge(k, n.anyKey))
		}
	}
	out := c.intern(n)
	for _, u := range r.uses {
		out = c.merge(out, u)
	}
	return out
}

// merge returns the union of two interned allowlists, interned. It is
// finalize of the union of what a and b were finalized from: a member named
// in only one of them also gets the other's "*" paths.
func (c *compiler) merge(a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil || a == b:
		return a
	case a.keep || b.keep:
		return c.leaf
	}
	k := [2]uint32{a.serial, b.serial}
	if k[0] > k[1] {
		k[0], k[1] = k[1], k[0]
	}
	if m, ok := c.merged[k]; ok {
		return m
	}
	n := &node{anyKey: c.merge(a.anyKey, b.anyKey), anyElem: c.merge(a.anyElem, b.anyElem)}
	i, j := 0, 0
	for i < len(a.names) || j < len(b.names) {
		switch {
		case j == len(b.names) || i < len(a.names) && a.names[i] < b.names[j]:
			n.names = append(n.names, a.names[i])
			n.kids = append(n.kids, c.merge(a.kids[i], b.anyKey))
			i++
		case i == len(a.names) || b.names[j] < a.names[i]:
			n.names = append(n.names, b.names[j])
			n.kids = append(n.kids, c.merge(b.kids[j], a.anyKey))
			j++
		default:
			n.names = append(n.names, a.names[i])
			n.kids = append(n.kids, c.merge(a.kids[i], b.kids[j]))
			i, j = i+1, j+1
		}
	}
	m := c.intern(n)
	c.merged[k] = m
	return m
}

// intern returns the node equal to n, adding n if it is new: its names are
// sorted, its position offsets and size computed. A node that allows
// nothing is nil.
func (c *compiler) intern(n *node) *node {
	if !n.keep && n.anyKey == nil && n.anyElem == nil && len(n.names) == 0 {
		return nil
	}
	if !slices.IsSorted(n.names) {
		sortMembers(n)
	}
	c.key = shapeKey(c.key[:0], n)
	if m, ok := c.interned[string(c.key)]; ok {
		return m
	}
	// Preorder positions: this node, then anyKey, anyElem and the named
	// members in order.
	size := int64(1)
	place := func(k *node) int32 {
		off := int32(min(size, maxTrieNodes+1))
		size += int64(k.size)
		return off
	}
	if n.anyKey != nil {
		n.anyKeyOff = place(n.anyKey)
	}
	if n.anyElem != nil {
		n.anyElemOff = place(n.anyElem)
	}
	if len(n.kids) > 0 {
		n.offs = make([]int32, len(n.kids))
		for i, k := range n.kids {
			n.offs[i] = place(k)
		}
	}
	n.size = int32(min(size, maxTrieNodes+1))
	if n.size > maxTrieNodes {
		c.over = true
	}
	if len(n.names) > linearNames {
		n.index = make(map[string]int32, len(n.names))
		for i, name := range n.names {
			n.index[name] = int32(i)
		}
	}
	n.names = slices.Clip(n.names)
	n.kids = slices.Clip(n.kids)
	n.serial = serials.Add(1)
	c.interned[string(c.key)] = n
	return n
}

// sortMembers sorts n's named members by name.
func sortMembers(n *node) {
	idx := make([]int, len(n.names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(n.names[a], n.names[b]) })
	names, kids := make([]string, len(idx)), make([]*node, len(idx))
	for i, j := range idx {
		names[i], kids[i] = n.names[j], n.kids[j]
	}
	n.names, n.kids = names, kids
}

// shapeKey appends the interning key of n, whose children are interned: two
// nodes with equal keys allow the same paths.
func shapeKey(dst []byte, n *node) []byte {
	if n.keep {
		return append(dst, 'k')
	}
	serial := func(k *node) uint32 {
		if k == nil {
			return 0
		}
		return k.serial
	}
	dst = binary.LittleEndian.AppendUint32(dst, serial(n.anyKey))
	dst = binary.LittleEndian.AppendUint32(dst, serial(n.anyElem))
	for i, name := range n.names {
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = binary.LittleEndian.AppendUint32(dst, n.kids[i].serial)
	}
	return dst
}

// compiled is a section's compiled allowlists, by rule.
type compiled struct {
	// fingerprint is the section's allow lists when they were compiled:
	// New reuses this only for the same lists.
	fingerprint uint64
	rules       []compiledRule
}

type compiledRule struct {
	base   *allowlist // allow; nil for a bypass rule
	grants []*node    // allow_for_claims[i].allow; nil allows nothing
}

// compile compiles the named allowlists, then every rule's allowlists,
// with one compiler, so equal subtrees are shared across rules, and checks
// each against the node budget: a named allowlist, allow alone, each grant,
// and the union of everything a caller could be granted.
func (c *Config) compile() (*compiled, error) {
	comp := newCompiler()
	nm := &named{comp: comp, lists: c.Allowlists, done: map[string]*node{}}
	for _, name := range c.allowlistNames() {
		if _, err := nm.get(name); err != nil {
			return nil, locate(err, "")
		}
	}
	out := &compiled{fingerprint: c.fingerprint(), rules: make([]compiledRule, len(c.Rules))}
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Bypass {
			continue
		}
		at := fmt.Sprintf("rules[%d]", i)
		base, err := nm.list(r.Allow)
		if err != nil {
			return nil, locate(err, at+".allow")
		}
		if !comp.fits(base) {
			return nil, config.Errorf(at+".allow", "%v", errTooManyNodes)
		}
		cr := &out.rules[i]
		union := base
		for j := range r.AllowForClaims {
			ga := fmt.Sprintf("%s.allow_for_claims[%d].allow", at, j)
			g, err := nm.list(r.AllowForClaims[j].Allow)
			if err != nil {
				return nil, locate(err, ga)
			}
			if !comp.fits(g) {
				return nil, config.Errorf(ga, "%v", errTooManyNodes)
			}
			cr.grants = append(cr.grants, g)
			union = comp.merge(union, g)
		}
		if !comp.fits(union) {
			return nil, config.Errorf(at+".allow_for_claims", "%v", errTooManyNodes)
		}
		if cr.base, err = comp.allowlist(base); err != nil {
			return nil, config.Errorf(at+".allow", "%v", err)
		}
	}
	return out, nil
}

// locate puts an error of compiling the list at the path at in the
// section, or in the named allowlist it is in.
func locate(err error, at string) error {
	var ue *usedError
	if errors.As(err, &ue) {
		return ue.at()
	}
	return prefixed(at, err)
}

// fits reports whether n is within the node budget.
func (c *compiler) fits(n *node) bool {
	return !c.over && (n == nil || n.size <= maxTrieNodes)
}

var fingerprintSeed = maphash.MakeSeed()

// fingerprint hashes what compile reads: the named allowlists, and every
// rule's bypass flag and allow lists.
func (c *Config) fingerprint() uint64 {
	var h maphash.Hash
	h.SetSeed(fingerprintSeed)
	// Paths and names hold no control characters (Validate), so these
	// separators cannot be forged by an entry.
	list := func(l AllowList) {
		for _, e := range l {
			h.WriteString(e.Path)
			h.WriteByte(0)
			h.WriteString(e.Allowlist)
			h.WriteByte(0)
			h.WriteString(e.At)
			h.WriteByte(1)
		}
		h.WriteByte(2)
	}
	for _, name := range c.allowlistNames() {
		h.WriteString(name)
		h.WriteByte(0)
		list(c.Allowlists[name])
	}
	h.WriteByte(3)
	for i := range c.Rules {
		r := &c.Rules[i]
		if r.Bypass {
			h.WriteByte(4)
			continue
		}
		list(r.Allow)
		for j := range r.AllowForClaims {
			list(r.AllowForClaims[j].Allow)
		}
		h.WriteByte(5)
	}
	return h.Sum64()
}
