package respfilter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/route"
)

// treeAllowlist compiles paths as compileAllowlist did before nodes were
// interned: a tree with one node per position, the "*" paths merged into
// named siblings before finalizing. It is the reference interning is
// checked against.
func treeAllowlist(t testing.TB, paths []string) *allowlist {
	t.Helper()
	type raw struct {
		keep            bool
		named           map[string]*raw
		anyKey, anyElem *raw
	}
	root := &raw{}
	for _, p := range paths {
		segs, err := parsePath(p)
		if err != nil {
			t.Fatal(err)
		}
		n := root
		for _, s := range segs {
			var next **raw
			switch s.kind {
			case segAnyKey:
				next = &n.anyKey
			case segAnyElem:
				next = &n.anyElem
			default:
				if n.named == nil {
					n.named = map[string]*raw{}
				}
				if n.named[s.key] == nil {
					n.named[s.key] = &raw{}
				}
				n = n.named[s.key]
				continue
			}
			if *next == nil {
				*next = &raw{}
			}
			n = *next
		}
		n.keep = true
	}
	var merge func(a, b *raw) *raw
	merge = func(a, b *raw) *raw {
		switch {
		case a == nil:
			return b
		case b == nil:
			return a
		}
		out := &raw{keep: a.keep || b.keep}
		if out.keep {
			return out
		}
		out.anyKey, out.anyElem = merge(a.anyKey, b.anyKey), merge(a.anyElem, b.anyElem)
		out.named = map[string]*raw{}
		for k, c := range a.named {
			out.named[k] = merge(c, b.named[k])
		}
		for k, c := range b.named {
			if a.named[k] == nil {
				out.named[k] = c
			}
		}
		return out
	}
	var finalize func(r *raw) *node
	finalize = func(r *raw) *node {
		if r == nil {
			return nil
		}
		out := &node{keep: r.keep, size: 1}
		if r.keep {
			return out
		}
		place := func(k *node) int32 {
			off := out.size
			out.size += k.size
			return off
		}
		if out.anyKey = finalize(r.anyKey); out.anyKey != nil {
			out.anyKeyOff = place(out.anyKey)
		}
		if out.anyElem = finalize(r.anyElem); out.anyElem != nil {
			out.anyElemOff = place(out.anyElem)
		}
		for k := range r.named {
			out.names = append(out.names, k)
		}
		slices.Sort(out.names)
		for _, k := range out.names {
			c := finalize(merge(r.named[k], r.anyKey))
			out.kids = append(out.kids, c)
			out.offs = append(out.offs, place(c))
		}
		if len(out.names) > linearNames {
			out.index = map[string]int32{}
			for i, k := range out.names {
				out.index[k] = int32(i)
			}
		}
		return out
	}
	n := finalize(root)
	return &allowlist{root: n, nodes: int(n.size)}
}

// parsePath is appendSegments into a new slice.
func parsePath(p string) ([]segment, error) {
	return appendSegments(nil, p)
}

// compileAllowlist compiles paths with a compiler of their own.
func compileAllowlist(paths []string) (*allowlist, error) {
	c := newCompiler()
	n, err := (&named{comp: c}).list(Paths(paths...))
	if err != nil {
		return nil, err
	}
	return c.allowlist(n)
}

// member is memberAt without positions.
func (n *node) member(key string) *node {
	c, _ := n.memberAt(key, -1)
	return c
}

// sites is an Inspector that records each kept value's path and checks
// that a site always stands for one path within a pass, which is what the
// response inventory relies on (KeptValue.Site).
type sites struct {
	t     testing.TB
	paths []string
	bySit map[int32]string
}

func (s *sites) KeptKey(*KeptValue) Verdict { return InspectKeep }
func (s *sites) Passing([]byte) Verdict     { return InspectKeep }
func (s *sites) Kept(v *KeptValue) Verdict {
	p := string(v.AppendPath(nil))
	s.paths = append(s.paths, p)
	if v.Site >= 0 {
		if prev, ok := s.bySit[v.Site]; ok && prev != p {
			s.t.Errorf("site %d is %q and %q in one pass", v.Site, prev, p)
		}
		s.bySit[v.Site] = p
	}
	return InspectKeep
}

// filterBoth filters doc with the interned allowlist and the tree one, in
// remove and mask mode, with and without an inspector, and fails on any
// difference in output, report or inspected paths.
func filterBoth(t *testing.T, paths []string, doc string) {
	t.Helper()
	interned, err := compileAllowlist(paths)
	if err != nil {
		t.Fatalf("%q: %v", paths, err)
	}
	tree := treeAllowlist(t, paths)
	if interned.nodes != tree.nodes {
		t.Errorf("%q: %d positions, the tree has %d", paths, interned.nodes, tree.nodes)
	}
	for _, mask := range [][]byte{nil, []byte(`"***"`)} {
		var outs [2]string
		var reps [2]Report
		var seen [2][]string
		for i, a := range []*allowlist{interned, tree} {
			insp := &sites{t: t, bySit: map[int32]string{}}
			out, err := a.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, mask: mask, insp: insp}, &reps[i])
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			outs[i], seen[i] = string(out), insp.paths
			var plain Report
			if out, _ := a.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, mask: mask}, &plain); string(out) != outs[i] || !reflect.DeepEqual(plain, reps[i]) {
				t.Fatalf("the inspected pass differs from the plain one")
			}
		}
		if outs[0] != outs[1] || !reflect.DeepEqual(reps[0], reps[1]) || !slices.Equal(seen[0], seen[1]) {
			t.Fatalf("paths %q, mask %s, doc %s\ninterned %s %+v %q\ntree     %s %+v %q",
				paths, mask, doc, outs[0], reps[0], seen[0], outs[1], reps[1], seen[1])
		}
	}
}

// randomCase draws allow paths and a document over a small vocabulary, so
// that paths overlap, wildcards meet names, and the same shape appears at
// several places (what interning shares).
func randomCase(r *rand.Rand) ([]string, string) {
	keys := []string{"a", "b", "c", "owner", "login"}
	var paths []string
	for range 1 + r.IntN(8) {
		var segs []string
		for range 1 + r.IntN(4) {
			switch x := r.IntN(10); {
			case x == 0:
				segs = append(segs, "*")
			case x <= 2:
				segs = append(segs, "#")
			default:
				segs = append(segs, keys[r.IntN(len(keys))])
			}
		}
		paths = append(paths, strings.Join(segs, "."))
	}
	var value func(depth int) string
	value = func(depth int) string {
		if depth > 4 {
			return fmt.Sprint(r.IntN(100))
		}
		switch r.IntN(4) {
		case 0:
			return fmt.Sprint(r.IntN(100))
		case 1:
			var b strings.Builder
			b.WriteString("[")
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(value(depth + 1))
			}
			return b.String() + "]"
		}
		var b strings.Builder
		b.WriteString("{")
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q:%s", append(keys, "x", "y")[r.IntN(len(keys)+2)], value(depth+1))
		}
		return b.String() + "}"
	}
	doc := value(0)
	if r.IntN(2) == 0 {
		doc = "[" + doc + "," + value(1) + "]"
	}
	return paths, doc
}

// Interned allowlists filter, report and show kept values exactly as the
// tree they replace, on random allowlists and documents.
func TestInterningFiltersLikeTheTree(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2026))
	for range 5000 {
		paths, doc := randomCase(r)
		filterBoth(t, paths, doc)
	}
	// The same shape at two places of one allowlist is one node, reached
	// at two positions: each removal is reported at its own path.
	filterBoth(t, []string{"owner.login", "org.login", "#.owner.login"},
		`{"owner":{"login":1,"x":1},"org":{"login":2,"x":2}}`)
	filterBoth(t, []string{"#.owner.login", "#.org.login"},
		`[{"owner":{"login":1,"x":1},"org":{"login":2,"x":2}},{"owner":{"login":3,"x":3},"org":{"x":4}}]`)
}

func FuzzInterningMatchesTree(f *testing.F) {
	f.Add("owner.login\norg.login", `{"owner":{"login":1,"x":1},"org":{"login":2,"x":2}}`)
	f.Add("m.*.id\nm.k.x\nm.j.#", `{"m":{"k":{"id":1,"x":2},"j":[{"id":3}]}}`)
	f.Add("#.a.b\n#.c.b\n#.a", `[{"a":{"b":1,"c":[1,2]}},{"c":{"b":2,"d":3}}]`)
	f.Fuzz(func(t *testing.T, pathSpec, doc string) {
		paths := strings.Split(pathSpec, "\n")
		for _, p := range paths {
			if _, err := parsePath(p); err != nil {
				return
			}
		}
		if a, err := compileAllowlist(paths); err != nil || a.nodes > 10_000 {
			return
		}
		var rep Report
		if _, err := mustAllowlist(t, paths...).filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64}, &rep); err != nil {
			return
		}
		filterBoth(t, paths, doc)
	})
}

// Two rules that allow the same subtree share its nodes, and each still
// filters its own responses by its own allowlist.
func TestSharedSubtreesFilterIndependently(t *testing.T) {
	f, err := New(Config{Rules: []Rule{
		{Name: "repo", Match: route.Match{Prefix: "/repos"}, Allow: Paths("name", "owner.login", "owner.id")},
		{Name: "repos", Match: route.Match{Prefix: "/user/repos"}, Allow: Paths("#.name", "#.size", "#.owner.login", "#.owner.id")},
		{Name: "user", Match: route.Match{Prefix: "/user"}, Allow: Paths("login", "id")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	repo, repos, user := f.policies[0].baseList.root, f.policies[1].baseList.root, f.policies[2].baseList.root
	owner := repo.member("owner")
	if owner == nil || owner != repos.anyElem.member("owner") || owner != user {
		t.Fatalf("the owner allowlist is not shared: %p %p %p", owner, repos.anyElem.member("owner"), user)
	}
	doc := `{"name":"r","size":3,"owner":{"login":"o","id":1,"email":"e"}}`
	for _, tt := range []struct {
		rule int
		doc  string
		want string
		rem  []string
	}{
		{0, doc, `{"name":"r","owner":{"login":"o","id":1}}`, []string{"size", "owner.email"}},
		{1, "[" + doc + "]", `[{"name":"r","size":3,"owner":{"login":"o","id":1}}]`, []string{"#.owner.email"}},
		{1, doc, `{}`, []string{"name", "size", "owner"}},
		{2, doc, `{}`, []string{"name", "size", "owner"}},
		{2, `{"login":"o","id":1,"email":"e"}`, `{"login":"o","id":1}`, []string{"email"}},
	} {
		p := f.policies[tt.rule]
		out, o := p.Process(Decision{Action: ActionFilter, JSONDeclared: true}, []byte(tt.doc), nil)
		if string(out) != tt.want || !slices.Equal(o.RemovedPaths, tt.rem) {
			t.Errorf("%s on %s: %s %q, want %s %q", p.Name(), tt.doc, out, o.RemovedPaths, tt.want, tt.rem)
		}
	}
	var b bytes.Buffer
	fmt.Fprint(&b, f.policies[0].baseList.nodes, f.policies[1].baseList.nodes)
	if b.String() != "5 7" {
		t.Errorf("positions %s, want 5 7 (each allowlist counts its own)", b.String())
	}
}
