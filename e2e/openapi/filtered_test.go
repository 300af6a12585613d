package openapie2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/settings"
)

var update = flag.Bool("update", false, "rewrite testdata/github-filtered.txt from this build")

// gitHubFiltered holds, per response_filter rule of GitHub's configuration,
// a digest of what the filter does to a document built from that rule's
// allow paths (sample): the rule chosen, the output, and the report. It was
// written by main at 3f5f1bf, before allowlists were interned and before
// the generator wrote named allowlists, so equal digests show that neither
// changed a single byte the filter lets through or a path it reports.
const gitHubFiltered = "testdata/github-filtered.txt"

// The whole GitHub configuration filters every sample document exactly as
// it did before allowlists were shared (see gitHubFiltered).
func TestGitHubConfigFiltersAsBefore(t *testing.T) {
	loadGitHub(t)
	s, err := settings.Parse(gitHub.res.Config)
	if err != nil {
		t.Fatal(err)
	}
	f, err := respfilter.New(*s.ResponseFilter)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for i, r := range s.ResponseFilter.Rules {
		if r.Bypass {
			continue
		}
		fmt.Fprintf(&got, "%s %s\n", r.Name, filteredDigest(t, f, r, rulePaths(t, gitHub.res.Config, i)))
	}
	if *update {
		if err := os.WriteFile(gitHubFiltered, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(gitHubFiltered)
	if err != nil {
		t.Fatal(err)
	}
	gotLines, wantLines := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	if len(gotLines) != len(wantLines) {
		t.Fatalf("%d rules filtered, %s has %d", len(gotLines)-1, gitHubFiltered, len(wantLines)-1)
	}
	diffs := 0
	for i := range gotLines {
		if gotLines[i] != wantLines[i] {
			if diffs++; diffs <= 10 {
				t.Errorf("got  %s\nwant %s", gotLines[i], wantLines[i])
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d rules filter differently", diffs, len(gotLines)-1)
	}
}

// rulePaths returns the allow paths of rule i as written out in full: the
// paths of the document's own allow list, with every named allowlist it
// uses expanded in place, sorted and without duplicates (as the generator
// wrote them before it named allowlists).
func rulePaths(t *testing.T, cfg []byte, i int) []string {
	t.Helper()
	var doc struct {
		ResponseFilter struct {
			Allowlists map[string][]json.RawMessage `json:"allowlists"`
			Rules      []struct {
				Allow []json.RawMessage `json:"allow"`
			} `json:"rules"`
		} `json:"response_filter"`
	}
	if err := json.Unmarshal(cfg, &doc); err != nil {
		t.Fatal(err)
	}
	var expand func(prefix string, entries []json.RawMessage, depth int) []string
	expand = func(prefix string, entries []json.RawMessage, depth int) []string {
		if depth > 64 {
			t.Fatal("named allowlists nest too deep")
		}
		var out []string
		for _, e := range entries {
			var p string
			if json.Unmarshal(e, &p) == nil {
				out = append(out, joinAllowPath(prefix, p))
				continue
			}
			var ref struct {
				Allowlist string `json:"allowlist"`
				At        string `json:"at"`
			}
			if err := json.Unmarshal(e, &ref); err != nil {
				t.Fatal(err)
			}
			out = append(out, expand(joinAllowPath(prefix, ref.At), doc.ResponseFilter.Allowlists[ref.Allowlist], depth+1)...)
		}
		return out
	}
	paths := expand("", doc.ResponseFilter.Rules[i].Allow, 0)
	slices.Sort(paths)
	return slices.Compact(paths)
}

func joinAllowPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "." + p
}

// filteredDigest filters the sample document of paths as a request to rule
// r's route is filtered, and digests the outcome.
func filteredDigest(t *testing.T, f *respfilter.Filter, r respfilter.Rule, paths []string) string {
	t.Helper()
	path := r.Match.PathTemplate
	if path == "" {
		path = cmpOr(r.Match.Path, r.Match.Prefix, "/")
	}
	path = templateVar.ReplaceAllStringFunc(path, func(v string) string {
		if strings.Contains(v, "**") {
			return "a/b"
		}
		return "x"
	})
	method := "GET"
	if len(r.Match.Methods) > 0 {
		method = r.Match.Methods[0]
	}
	p := f.Match(&route.Request{Method: method, Path: path})
	if p == nil {
		return "unfiltered"
	}
	doc := sample(paths)
	d := p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: method, ContentType: "application/json"})
	out, o := p.Process(d, doc, nil)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d %d %t %q\n", p.Name(), out, o.Removed, o.Masked, o.PathsTruncated, o.RemovedPaths)
	return fmt.Sprintf("%s %d/%d %x", p.Name(), len(out), len(doc), h.Sum(nil)[:8])
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// sample builds a JSON document that every path reaches, with members and
// elements that no path names beside them at every level: an extra member
// in each object, a scalar among the elements of each array, two members
// under each "*".
func sample(paths []string) []byte {
	root := &sampleNode{}
	for _, p := range paths {
		n := root
		for _, seg := range splitAllowPath(p) {
			n = n.child(seg)
		}
		n.leaf = true
	}
	var b bytes.Buffer
	root.write(&b, 0)
	return b.Bytes()
}

type sampleNode struct {
	leaf  bool
	names []string
	kids  []*sampleNode
	elem  *sampleNode
	star  *sampleNode
}

func (n *sampleNode) child(seg string) *sampleNode {
	switch seg {
	case "\x00#":
		if n.elem == nil {
			n.elem = &sampleNode{}
		}
		return n.elem
	case "\x00*":
		if n.star == nil {
			n.star = &sampleNode{}
		}
		return n.star
	}
	for i, name := range n.names {
		if name == seg {
			return n.kids[i]
		}
	}
	k := &sampleNode{}
	n.names = append(n.names, seg)
	n.kids = append(n.kids, k)
	return k
}

func (n *sampleNode) write(b *bytes.Buffer, depth int) {
	switch {
	case len(n.names) == 0 && n.star == nil && n.elem == nil:
		fmt.Fprintf(b, `"v%d"`, depth)
	case len(n.names) == 0 && n.star == nil:
		b.WriteString("[")
		n.elem.write(b, depth+1)
		b.WriteString(`,7,`)
		n.elem.write(b, depth+1)
		b.WriteString("]")
	default:
		b.WriteString("{")
		for i, name := range n.names {
			key, _ := json.Marshal(name)
			b.Write(key)
			b.WriteString(":")
			n.kids[i].write(b, depth+1)
			b.WriteString(",")
		}
		if n.star != nil {
			for _, k := range []string{"w1", "w2"} {
				b.WriteString(strconv.Quote(k) + ":")
				n.star.write(b, depth+1)
				b.WriteString(",")
			}
		}
		b.WriteString(`"zz_extra":{"secret":1,"list":[{"x":1}]}}`)
	}
}

// splitAllowPath splits an allow path into unescaped keys, with "\x00#"
// and "\x00*" for the wildcards.
func splitAllowPath(p string) []string {
	var segs []string
	var cur strings.Builder
	wild := true
	flush := func() {
		s := cur.String()
		if wild && (s == "#" || s == "*") {
			s = "\x00" + s
		}
		segs = append(segs, s)
		cur.Reset()
		wild = true
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
			cur.WriteByte(p[i])
			wild = false
		case '.':
			flush()
		default:
			cur.WriteByte(p[i])
		}
	}
	flush()
	return segs
}
