package respfilter

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func mustAllowlist(t testing.TB, paths ...string) *allowlist {
	t.Helper()
	a, err := compileAllowlist(paths)
	if err != nil {
		t.Fatalf("compileAllowlist(%q): %v", paths, err)
	}
	return a
}

func run(t testing.TB, a *allowlist, doc string, mask string) (string, Report) {
	t.Helper()
	var rep Report
	opts := filterOptions{maxDepth: 64}
	if mask != "" {
		opts.mask = []byte(mask)
	}
	out, err := a.filterDocument(nil, []byte(doc), opts, &rep)
	if err != nil {
		t.Fatalf("filter %s: %v", doc, err)
	}
	if !gjson.ValidBytes(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
	return string(out), rep
}

func TestFilterRemove(t *testing.T) {
	tests := []struct {
		name  string
		allow []string
		doc   string
		want  string
		paths []string
	}{
		{"top-level fields", []string{"id", "name"},
			`{"id":1,"name":"a","password":"x"}`, `{"id":1,"name":"a"}`, []string{"password"}},
		{"whitespace outside kept values is dropped, inside kept values kept", []string{"a"},
			" {\n \"a\" : { \"b\" : [1, 2] } ,\"c\":3 }\n", `{"a":{ "b" : [1, 2] }}`, []string{"c"}},
		{"nested leaf keeps only leaf and ancestors", []string{"user.address.zip"},
			`{"user":{"name":"n","address":{"zip":"123","street":"s"}},"x":1}`,
			`{"user":{"address":{"zip":"123"}}}`, []string{"user.name", "user.address.street", "x"}},
		{"whole object keeps subtree", []string{"user"},
			`{"user":{"a":{"b":{"c":[1,{"d":2}]}}},"x":1}`, `{"user":{"a":{"b":{"c":[1,{"d":2}]}}}}`, []string{"x"}},
		{"array of objects", []string{"items.#.id"},
			`{"items":[{"id":1,"s":2},{"id":3,"s":4},{"s":5}],"total":3}`,
			`{"items":[{"id":1},{"id":3},{}]}`, []string{"items.#.s", "total"}},
		{"array elements that are not objects are removed", []string{"items.#.id"},
			`{"items":[1,{"id":2},"x",null,[{"id":3}]]}`, `{"items":[{"id":2},[]]}`, []string{"items.#", "items.#.#"}},
		{"whole array elements", []string{"tags.#"},
			`{"tags":["a",{"b":1},[2]],"x":0}`, `{"tags":["a",{"b":1},[2]]}`, []string{"x"}},
		{"top-level array", []string{"#.id"},
			`[{"id":1,"pw":"x"},{"id":2,"pw":"y"}]`, `[{"id":1},{"id":2}]`, []string{"#.pw"}},
		{"top-level array without # allows nothing", []string{"id"},
			`[{"id":1}]`, `[]`, []string{"#"}},
		{"wildcard keeps every member", []string{"meta.*"},
			`{"meta":{"a":1,"b":{"c":2}},"x":1}`, `{"meta":{"a":1,"b":{"c":2}}}`, []string{"x"}},
		{"wildcard then field", []string{"meta.*.name"},
			`{"meta":{"a":{"name":"x","pw":1},"b":{"name":"y"}}}`, `{"meta":{"a":{"name":"x"},"b":{"name":"y"}}}`, []string{"meta.a.pw"}},
		{"wildcard merges with a named path", []string{"m.*.id", "m.k.name"},
			`{"m":{"k":{"id":1,"name":"n","z":0},"j":{"id":2,"name":"o"}}}`,
			`{"m":{"k":{"id":1,"name":"n"},"j":{"id":2}}}`, []string{"m.k.z", "m.j.name"}},
		{"wildcard does not match array elements", []string{"meta.*"},
			`{"meta":[1,2]}`, `{"meta":[]}`, []string{"meta.#"}},
		{"# does not match object members", []string{"items.#"},
			`{"items":{"a":1}}`, `{"items":{}}`, []string{"items.a"}},
		{"scalar where an object was expected is removed", []string{"a.b"},
			`{"a":5,"c":1}`, `{}`, []string{"a", "c"}},
		{"duplicate keys are each judged", []string{"a.x"},
			`{"a":{"x":1,"y":2},"a":{"y":3,"x":4},"b":1,"b":2}`, `{"a":{"x":1},"a":{"x":4}}`, []string{"a.y", "b"}},
		{"duplicate keys both allowed whole", []string{"a"},
			`{"a":1,"a":2}`, `{"a":1,"a":2}`, nil},
		{"empty object and array kept", []string{"o", "a", "p.q"},
			`{"o":{},"a":[],"p":{}}`, `{"o":{},"a":[],"p":{}}`, nil},
		{"empty allowlist empties the document", nil,
			`{"a":1,"b":[1]}`, `{}`, []string{"a", "b"}},
		{"numbers are byte-identical", []string{"big", "exp", "negz", "frac"},
			`{"big":123456789012345678901234567890,"exp":1E+400,"negz":-0,"frac":-0.000e-7,"x":1}`,
			`{"big":123456789012345678901234567890,"exp":1E+400,"negz":-0,"frac":-0.000e-7}`, []string{"x"}},
		{"string escapes and unicode kept", []string{"s", "u"},
			`{"s":"a\"b\\c\/d\u00e9\ud83d\ude00\n","u":"日本語 😀","x":"\u0000"}`,
			`{"s":"a\"b\\c\/d\u00e9\ud83d\ude00\n","u":"日本語 😀"}`, []string{"x"}},
		{"escaped key matches its unescaped name and is written as sent", []string{"name"},
			`{"na\u006de":"v","name":"w"}`, `{"na\u006de":"v","name":"w"}`, nil},
		{"key with a dot needs the escape", []string{`a\.b`, `c.d`},
			`{"a.b":1,"a":{"b":2},"c.d":3,"c":{"d":4}}`, `{"a.b":1,"c":{"d":4}}`, []string{`a`, `c\.d`}},
		{"literal star and hash keys", []string{`\*`, `x.\#`},
			`{"*":1,"a":2,"x":{"#":3,"b":4}}`, `{"*":1,"x":{"#":3}}`, []string{"a", "x.b"}},
		{"key order kept", []string{"z", "a", "m"},
			`{"z":1,"m":2,"q":0,"a":3}`, `{"z":1,"m":2,"a":3}`, []string{"q"}},
		{"top-level scalar is not allowed", []string{"a"}, `"secret"`, `null`, []string{"$"}},
		{"literals kept", []string{"t", "f", "n"}, `{"t":true,"f":false,"n":null}`, `{"t":true,"f":false,"n":null}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rep := run(t, mustAllowlist(t, tt.allow...), tt.doc, "")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !reflect.DeepEqual(rep.RemovedPaths, tt.paths) {
				t.Errorf("removed paths %q, want %q", rep.RemovedPaths, tt.paths)
			}
			if rep.Masked != 0 {
				t.Errorf("masked %d in remove mode", rep.Masked)
			}
		})
	}
}

func TestFilterMask(t *testing.T) {
	a := mustAllowlist(t, "id", "items.#.id", "deep.x")
	doc := `{"id":1,"pw":"h","items":[{"id":2,"card":"4111"},7],"deep":{"x":{"k":1},"y":[1,2]},"deep":3}`
	got, rep := run(t, a, doc, `"***"`)
	want := `{"id":1,"pw":"***","items":[{"id":2,"card":"***"},"***"],"deep":{"x":{"k":1},"y":"***"},"deep":"***"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if rep.Masked != 5 || rep.Removed != 0 {
		t.Errorf("masked=%d removed=%d, want 5 and 0", rep.Masked, rep.Removed)
	}
	wantPaths := []string{"pw", "items.#.card", "items.#", "deep.y", "deep"}
	if !reflect.DeepEqual(rep.RemovedPaths, wantPaths) {
		t.Errorf("paths %q, want %q", rep.RemovedPaths, wantPaths)
	}
}

func TestFilterCountsAndPathBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"users":{`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"user` + strings.Repeat("x", i) + `":{"pw":1}`)
	}
	b.WriteString(`},"list":[`)
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":1,"pw":2}`)
	}
	b.WriteString(`]}`)
	_, rep := run(t, mustAllowlist(t, "users.*.id", "list.#.id"), b.String(), "")
	if rep.Removed != 200 {
		t.Errorf("removed %d, want 200", rep.Removed)
	}
	if len(rep.RemovedPaths) != MaxReportedPaths || !rep.PathsTruncated {
		t.Errorf("got %d paths truncated=%v, want %d and true", len(rep.RemovedPaths), rep.PathsTruncated, MaxReportedPaths)
	}
}

func TestFilterDepthAndMalformed(t *testing.T) {
	a := mustAllowlist(t, "a")
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	for _, tc := range []struct {
		doc  string
		want Reason
	}{
		{deep, ReasonDepth},
		{`{"a":` + strings.Repeat("[", 1<<20), ReasonDepth},
		{`{"a":"` + strings.Repeat("[", 100) + `"}`, ReasonNone},
		{strings.Repeat("[", 64) + strings.Repeat("]", 64), ReasonNone},
		{`{"a":1,}`, ReasonMalformed},
		{`{"a":1}{}`, ReasonMalformed},
		{`{"a":01}`, ReasonMalformed},
		{`{"a":"\x"}`, ReasonMalformed},
		{"\ufeff{}", ReasonMalformed},
		{`{"a":NaN}`, ReasonMalformed},
		{``, ReasonMalformed},
	} {
		var rep Report
		_, err := a.filterDocument(nil, []byte(tc.doc), filterOptions{maxDepth: 64}, &rep)
		if got := ReasonOf(err); got != tc.want {
			t.Errorf("%.40q: reason %q, want %q", tc.doc, got, tc.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, p := range []string{"", ".", "a.", ".a", "a..b", `a\`, `a\x`, "a*", "*a", "a#b", `\.#`, "a\x01", `a\.*`,
		strings.Repeat("a.", 70) + "a"} {
		if _, err := compileAllowlist([]string{p}); err == nil {
			t.Errorf("compileAllowlist(%q) accepted", p)
		}
	}
	for _, p := range []string{"a", "#", "*", `\\.a`, `a\\.#`, `\#`, `a\*b`, "a.#.*.b", "é.ü"} {
		if _, err := compileAllowlist([]string{p}); err != nil {
			t.Errorf("compileAllowlist(%q): %v", p, err)
		}
	}
}

func TestEscapeKeyRoundTrip(t *testing.T) {
	for _, k := range []string{"a.b", `x\y`, "*", "#", "a*#", "plain"} {
		p := string(escapeKey(nil, k))
		segs, err := parsePath(p)
		if err != nil || len(segs) != 1 || segs[0].kind != segKey || segs[0].key != k {
			t.Errorf("key %q -> path %q -> %+v, %v", k, p, segs, err)
		}
	}
}

func TestReportedPathsArePrintableAndBounded(t *testing.T) {
	long := strings.Repeat("k", 300)
	doc := `{"a\nb":1,"` + long + `":2,"x.y":{"*":3},"ok":{"z":4}}`
	_, rep := run(t, mustAllowlist(t, "ok.q", `x\.y.q`), doc, "")
	want := []string{"a?b", long[:maxReportedPathBytes-3] + "...", `x\.y.\*`, "ok.z"}
	if !reflect.DeepEqual(rep.RemovedPaths, want) {
		t.Errorf("paths %q\nwant %q", rep.RemovedPaths, want)
	}
}

// TestWildcardExpansionIsBounded: merging "*" into named siblings multiplies
// nodes; a config built to explode must fail fast instead of eating memory.
func TestWildcardExpansionIsBounded(t *testing.T) {
	// Path i is "*" everywhere but a named key at position i; every choice
	// of named-or-wildcard per level is a distinct node: 2^24 of them.
	const n = 24
	var paths []string
	for i := range n {
		segs := make([]string, n)
		for j := range segs {
			segs[j] = "*"
		}
		segs[i] = "k"
		paths = append(paths, strings.Join(segs, "."))
	}
	_, err := compileAllowlist(paths)
	if !errors.Is(err, errTooManyNodes) {
		t.Errorf("got %v, want errTooManyNodes", err)
	}
}
