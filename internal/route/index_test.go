package route

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// linearFirst is the reference the Index must agree with: the first
// matcher in order that matches, as every policy selected its rule before
// the index.
func linearFirst(ms []*Matcher, r *Request) int {
	for i, m := range ms {
		if m.Matches(r) {
			return i
		}
	}
	return -1
}

// segments are few and collide on purpose: case variants, an empty
// segment, a suffix, percent-escapes.
var indexSegments = []string{"a", "A", "b", "users", "Users", "me", "x.json", "a.json", "json", "%2F", "v1", "", "*",
	"uſers", "\u212aey", "key"}

func randSegment(r *rand.Rand, canonical bool) string {
	for {
		s := indexSegments[r.IntN(len(indexSegments))]
		if canonical && (s == "" || s == "*") {
			continue
		}
		return s
	}
}

func randPath(r *rand.Rand) string {
	switch r.IntN(40) {
	case 0:
		return ""
	case 1:
		return "a/b"
	case 2:
		return "/"
	}
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString("/" + randSegment(r, false))
	}
	if b.Len() == 0 || r.IntN(5) == 0 {
		b.WriteString("/")
	}
	return b.String()
}

// randMatch builds a Match of every kind Compile accepts; some do not
// compile, and the caller skips those.
func randMatch(r *rand.Rand) Match {
	var m Match
	litPath := func() string {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString("/" + randSegment(r, true))
		}
		if r.IntN(4) == 0 {
			b.WriteString("/")
		}
		return b.String()
	}
	switch r.IntN(9) {
	case 0:
		m.Path = litPath()
	case 1:
		m.Path = "/"
	case 2, 3:
		m.Prefix = litPath()
		if r.IntN(6) == 0 {
			m.Prefix = "/"
		}
	case 4:
		m.Regex = []string{"/a/.*", "/users/[a-z]+", "/A|/b/", ".*json", "/key/users", "/users/key/.+", "(?i)/A/.*", "/users"}[r.IntN(8)]
	case 5, 6, 7:
		var b strings.Builder
		n := r.IntN(5)
		glob := false
		vars := 0
		for i := range n {
			switch k := r.IntN(6); {
			case glob:
				b.WriteString("/" + randSegment(r, true))
			case k == 0:
				b.WriteString("/*")
			case k == 1 && vars < 5:
				vars++
				b.WriteString("/{v" + string(rune('0'+vars)) + "}")
			case k == 2:
				b.WriteString("/**")
				glob = true
			case k == 3 && vars < 5:
				vars++
				b.WriteString("/{p" + string(rune('0'+vars)) + "=" + randSegment(r, true) + "/**}")
				glob = true
			default:
				b.WriteString("/" + randSegment(r, true))
			}
			if i == n-1 && r.IntN(4) == 0 {
				b.WriteString([]string{".json", "/", "json"}[r.IntN(3)])
			}
		}
		if b.Len() == 0 {
			b.WriteString("/")
		}
		m.PathTemplate = b.String()
	case 8:
		// Rarely none: a rule without a path condition ends most scans.
		if r.IntN(8) != 0 {
			m.Path = litPath()
		}
	}
	switch r.IntN(4) {
	case 0:
		m.Methods = []string{"GET"}
	case 1:
		m.Methods = []string{"post", "DELETE"}
	}
	if r.IntN(6) == 0 {
		m.Headers = []HeaderMatch{{Name: "x-a", Exact: "1", Invert: r.IntN(2) == 0}}
	}
	m.CaseSensitive = r.IntN(3) == 0
	return m
}

func randRules(r *rand.Rand, n int) ([]*Matcher, []Match) {
	var ms []*Matcher
	var src []Match
	for len(ms) < n {
		m := randMatch(r)
		c, err := Compile(m)
		if err != nil {
			continue
		}
		if r.IntN(300) == 0 {
			c = nil // a nil Matcher matches every request
		}
		ms = append(ms, c)
		src = append(src, m)
	}
	return ms, src
}

func randRequest(r *rand.Rand) *Request {
	req := &Request{Method: []string{"GET", "HEAD", "POST", "DELETE"}[r.IntN(4)], Path: randPath(r)}
	switch r.IntN(3) {
	case 0:
		req.Header = headers("x-a", "1")
	case 1:
		req.Header = headers("x-a", "2")
	}
	return req
}

// The index selects the rule the linear scan selects, and finds the same
// ambiguity, on random rule sets and requests.
func TestIndexSelectsTheLinearFirstMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	sets, reqs := 3000, 200
	if testing.Short() {
		sets = 300
	}
	for range sets {
		ms, src := randRules(r, 1+r.IntN(40))
		x := NewIndex(ms)
		for range reqs {
			req := randRequest(r)
			if got, want := x.First(req), linearFirst(ms, req); got != want {
				t.Fatalf("First(%s %q) = %d, want %d\nrules: %+v", req.Method, req.Path, got, want, src)
			}
			if got, want := x.AnyAmbiguous(req.Path), AnyAmbiguous(ms, req.Path); got != want {
				t.Fatalf("AnyAmbiguous(%q) = %v, want %v\nrules: %+v", req.Path, got, want, src)
			}
		}
	}
}

func TestIndexEdges(t *testing.T) {
	var none *Index
	if none.First(&Request{Path: "/"}) != -1 || none.AnyAmbiguous("/") {
		t.Error("a nil Index selects nothing")
	}
	x := NewIndex([]*Matcher{MustCompile(Match{Path: "/a"}), nil})
	if got := x.First(nil); got != 1 {
		t.Errorf("First(nil) = %d, want 1 (only a nil matcher matches a nil request)", got)
	}
	// Segments longer than the lower-casing buffer.
	long := strings.Repeat("x", 300)
	x = NewIndex([]*Matcher{MustCompile(Match{PathTemplate: "/" + long + "/{id}"}), MustCompile(Match{Prefix: "/"})})
	if got := x.First(&Request{Path: "/" + strings.ToUpper(long) + "/7"}); got != 0 {
		t.Errorf("long segment: %d, want 0", got)
	}
	// Literal edges kept in a slice (few) and in a map (many), with case.
	for _, n := range []int{3, smallFanout, smallFanout + 1, 40} {
		var ms []*Matcher
		for i := range n {
			ms = append(ms, MustCompile(Match{PathTemplate: "/s" + strconv.Itoa(i) + "/{id}"}))
		}
		x := NewIndex(ms)
		for i := range n {
			if got := x.First(&Request{Path: "/S" + strconv.Itoa(i) + "/7"}); got != i {
				t.Errorf("%d edges: /S%d/7 selects %d, want %d", n, i, got, i)
			}
		}
		if got := x.First(&Request{Path: "/s" + strconv.Itoa(n) + "/7"}); got != -1 {
			t.Errorf("%d edges: a segment without an edge selects %d", n, got)
		}
	}
	// More candidates than the stack buffer holds.
	var ms []*Matcher
	for range 100 {
		ms = append(ms, MustCompile(Match{Prefix: "/a", Methods: []string{"POST"}}))
	}
	ms = append(ms, MustCompile(Match{PathTemplate: "/a/{x}"}))
	if got := NewIndex(ms).First(&Request{Method: "GET", Path: "/a/b"}); got != 100 {
		t.Errorf("many candidates: %d, want 100", got)
	}
}

// FuzzIndex drives the rule-set and request generator from the fuzzer's
// seed.
func FuzzIndex(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(14), uint64(1131))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		ms, src := randRules(r, 1+r.IntN(30))
		x := NewIndex(ms)
		for range 50 {
			req := randRequest(r)
			if got, want := x.First(req), linearFirst(ms, req); got != want {
				t.Fatalf("First(%s %q) = %d, want %d\nrules: %+v", req.Method, req.Path, got, want, src)
			}
			if got, want := x.AnyAmbiguous(req.Path), AnyAmbiguous(ms, req.Path); got != want {
				t.Fatalf("AnyAmbiguous(%q) = %v, want %v\nrules: %+v", req.Path, got, want, src)
			}
		}
	})
}

func BenchmarkIndexFirst(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ms, _ := randRules(r, 1000)
	x := NewIndex(ms)
	req := &Request{Method: "GET", Path: "/users/me/a.json"}
	b.ReportAllocs()
	for b.Loop() {
		x.First(req)
		x.AnyAmbiguous(req.Path)
	}
}

// The bit-set walk (indexes of up to 64 rules) selects the rule and finds
// the ambiguity the candidate lists did before it, on random rule sets,
// on paths deeper than its stack, and with the reference scans.
func TestIndexBitSetsAgreeWithLists(t *testing.T) {
	r := rand.New(rand.NewPCG(64, 2))
	sets, reqs := 1500, 200
	if testing.Short() {
		sets = 150
	}
	for range sets {
		ms, src := randRules(r, 1+r.IntN(maxBitRules))
		withBits, withLists := newIndex(ms, true), newIndex(ms, false)
		if !withBits.bitSets || withLists.bitSets {
			t.Fatal("newIndex ignored bitSets")
		}
		for k := range reqs {
			req := randRequest(r)
			if k%50 == 0 {
				// Deeper than walkBits's stack of 32.
				req.Path = strings.Repeat("/"+randSegment(r, false), 40+r.IntN(10))
			}
			first := withLists.First(req)
			if got := withBits.First(req); got != first || got != linearFirst(ms, req) {
				t.Fatalf("First(%s %q) = %d, lists %d\nrules: %+v", req.Method, req.Path, got, first, src)
			}
			amb := withLists.AnyAmbiguous(req.Path)
			if got := withBits.AnyAmbiguous(req.Path); got != amb || got != AnyAmbiguous(ms, req.Path) {
				t.Fatalf("AnyAmbiguous(%q) = %v, lists %v\nrules: %+v", req.Path, got, amb, src)
			}
		}
	}
}

// A path deeper than walkBits's stack still finds a template that needs
// every segment, and its ambiguity.
func TestIndexBitSetsDeepPaths(t *testing.T) {
	tmpl := strings.Repeat("/*", 40)
	x := NewIndex([]*Matcher{MustCompile(Match{PathTemplate: tmpl + "/a"}), MustCompile(Match{PathTemplate: tmpl + "/b/"})})
	deep := strings.Repeat("/x", 40)
	if got := x.First(&Request{Path: deep + "/a"}); got != 0 {
		t.Errorf("deep path selects %d, want 0", got)
	}
	if !x.AnyAmbiguous(deep + "/A") {
		t.Error("deep path differing in case is not ambiguous")
	}
	if !x.AnyAmbiguous(deep + "/b") {
		t.Error("deep path missing the trailing slash is not ambiguous")
	}
	// A literal and an any-segment edge at every level of /x/x/...: more
	// branches than walkBits stacks.
	var ms []*Matcher
	for k := range 30 {
		ms = append(ms, MustCompile(Match{PathTemplate: strings.Repeat("/x", k) + "/*/z"}))
	}
	lits := strings.Repeat("/x", 40)
	ms = append(ms, MustCompile(Match{Path: lits}))
	x = NewIndex(ms)
	for path, want := range map[string]int{lits: 30, strings.Repeat("/x", 20) + "/q/z": 20, strings.Repeat("/X", 25) + "/q/z": 25, lits + "/c": -1} {
		if got := x.First(&Request{Path: path}); got != want {
			t.Errorf("branching deep path %.12q...: selects %d, want %d", path, got, want)
		}
	}
	if !x.AnyAmbiguous(lits+"/") || !x.AnyAmbiguous(strings.Repeat("/x", 20)+"/Q/Z") || x.AnyAmbiguous(lits+"/c") {
		t.Error("branching deep paths: ambiguity differs")
	}
}

// ambiguousHere, which never builds the trailing-slash variant, agrees
// with ambiguous given the variant, for every kind of rule.
func FuzzAmbiguousHere(f *testing.F) {
	f.Add(uint64(1), "/users")
	f.Add(uint64(2), "/users/")
	f.Add(uint64(3), "/")
	f.Add(uint64(4), "")
	f.Add(uint64(5), "/A/b")
	f.Add(uint64(6), "a/b")
	f.Fuzz(func(t *testing.T, seed uint64, path string) {
		r := rand.New(rand.NewPCG(seed, 7))
		ms, src := randRules(r, 8)
		for _, m := range []Match{{Prefix: path}, {Path: path}, {Prefix: path, CaseSensitive: true}} {
			if c, err := Compile(m); err == nil {
				ms = append(ms, c)
			}
		}
		for i, m := range ms {
			if m == nil {
				continue
			}
			for _, p := range []string{path, randPath(r)} {
				other := slashVariant(p)
				want := other != "" && m.pathMatches(other)
				if got := m.variantMatches(p); got != want {
					t.Fatalf("rule %d: variantMatches(%q) = %v, want %v\nrules: %+v", i, p, got, want, src)
				}
				if got, want := m.ambiguousHere(p), m.ambiguous(p, other); got != want {
					t.Fatalf("rule %d: ambiguousHere(%q) = %v, want %v\nrules: %+v", i, p, got, want, src)
				}
			}
		}
	})
}
