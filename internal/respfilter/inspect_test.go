package respfilter

import (
	"bytes"
	"strings"
	"testing"
)

// recorder is an Inspector that records what it sees and masks or denies
// values equal to chosen strings.
type recorder struct {
	seen       []string
	mask, deny string
}

func (r *recorder) Kept(v *KeptValue) Verdict {
	r.seen = append(r.seen, string(v.AppendPath(nil))+"|"+v.Key+"|"+string(v.Kind)+"|"+string(v.Content))
	switch {
	case r.deny != "" && string(v.Content) == r.deny:
		return InspectDeny
	case r.mask != "" && string(v.Content) == r.mask:
		return InspectMask
	}
	return InspectKeep
}

func TestInspectorSeesKeptValuesWithPaths(t *testing.T) {
	list := mustAllowlist(t, "id", "user", "orders.#.card", "tags")
	doc := `{"id":7,"secret":"x","user":{"email":"a@b.co","n":[1,{"k":null}]},"orders":[{"card":"4111111111111111","x":1},{"card":"5555555555554444"}],"tags":[]}`
	rec := &recorder{}
	var rep Report
	out, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: rec}, &rep)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64}, &Report{})
	if !bytes.Equal(out, plain) {
		t.Fatalf("inspected output %s, plain %s", out, plain)
	}
	want := []string{
		"id|id|7|7",
		"user|user|{|", "user.email|email|\"|a@b.co", "user.n|n|[|", "user.n.#||1|1", "user.n.#||{|", "user.n.#.k|k|n|",
		"orders.#.card|card|\"|4111111111111111", "orders.#.card|card|\"|5555555555554444",
		"tags|tags|[|",
	}
	if strings.Join(rec.seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("seen:\n%s\nwant:\n%s", strings.Join(rec.seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestInspectorMasksAndDenies(t *testing.T) {
	list := mustAllowlist(t, "a", "b")
	doc := `{"a": {"card" : "4111111111111111", "n": 1}, "b": ["4111111111111111", 2 ]}`
	out, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: &recorder{mask: "4111111111111111"}}, &Report{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"card" : "*********", "n": 1},"b":["*********", 2 ]}`; string(out) != want {
		t.Errorf("masked = %s, want %s", out, want)
	}
	_, err = list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: &recorder{deny: "4111111111111111"}}, &Report{})
	if ReasonOf(err) != ReasonSensitive {
		t.Errorf("deny: err %v, want %s", err, ReasonSensitive)
	}
	// A mask longer than the values it replaces still respects the output bound.
	_, err = list.filterDocument(nil, []byte(`{"a":[1,1,1,1]}`), filterOptions{maxDepth: 64, maxOutput: 20, insp: &recorder{mask: "1"}}, &Report{})
	if ReasonOf(err) != ReasonTooLarge {
		t.Errorf("mask over the output bound: err %v", err)
	}
}

// FuzzInspectedFilterMatches checks that an inspector that keeps every
// value changes nothing: the same output and the same error as the pass
// without one, on any document and allowlist.
func FuzzInspectedFilterMatches(f *testing.F) {
	for _, seed := range []struct{ doc, paths string }{
		{userDoc, "id\nname\norders.#.id"},
		{`[{"a":{"b":1,"c":[1,2]}},{"a":2}]`, "#.a\n#.a.c.#"},
		{`{"s":"\u00e9\"","n":-0.0e+1,"a":{"a":{}},"a":[]}`, "s\nn\na"},
		{" \t[ [ [ [1] ] ], {\"a\" : true , \"b\":null} ]\r\n", "#"},
		{`{"a":[1,2,]}`, "a"},
		{`{"a":{"b":[[[[[[1]]]]]]}}`, "a"},
		{`{"a":01}`, "a"},
	} {
		for _, depth := range []uint8{3, 64} {
			f.Add([]byte(seed.doc), seed.paths, depth)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, pathSpec string, depth uint8) {
		list, err := compileAllowlist(strings.Split(pathSpec, "\n"))
		if err != nil {
			return
		}
		opts := filterOptions{maxDepth: int(depth)}
		want, wantErr := list.filterDocument(nil, doc, opts, &Report{})
		opts.insp = &recorder{}
		got, gotErr := list.filterDocument(nil, doc, opts, &Report{})
		if gotErr != wantErr || !bytes.Equal(got, want) {
			t.Fatalf("doc %q: inspected %q, %v; plain %q, %v", doc, got, gotErr, want, wantErr)
		}
	})
}
