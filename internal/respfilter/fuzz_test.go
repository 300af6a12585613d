package respfilter

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// keptValue is one value the allowlist keeps whole, with its path.
type keptValue struct{ path, raw string }

// oracle judges paths straight from the parsed allow paths, independently
// of the compiled trie and its wildcard merging.
type oracle struct{ allow [][]segment }

func segMatches(s segment, step string) bool {
	switch s.kind {
	case segAnyElem:
		return step == "\x00#"
	case segAnyKey:
		return step != "\x00#"
	}
	return step == s.key
}

// kept reports whether some allow path is a prefix of path; ancestor whether
// path is a proper prefix of some allow path.
func (o oracle) classify(path []string) (kept, ancestor bool) {
	for _, a := range o.allow {
		n := min(len(a), len(path))
		ok := true
		for i := 0; i < n && ok; i++ {
			ok = segMatches(a[i], path[i])
		}
		if !ok {
			continue
		}
		if len(a) <= len(path) {
			kept = true
		} else {
			ancestor = true
		}
	}
	return kept, ancestor
}

// walk collects the kept values of raw in document order. bad reports a
// value that is neither kept, nor an allowed ancestor, nor the mask.
func (o oracle) walk(raw string, path []string, mask string, out *[]keptValue, bad *string) {
	kept, ancestor := o.classify(path)
	if kept {
		*out = append(*out, keptValue{strings.Join(path, "/"), raw})
		return
	}
	if ancestor && isContainer(raw) {
		gjson.Parse(raw).ForEach(func(k, v gjson.Result) bool {
			step := "\x00#"
			if raw[0] == '{' {
				step = k.Str
			}
			o.walk(v.Raw, append(path[:len(path):len(path)], step), mask, out, bad)
			return true
		})
		return
	}
	if raw == mask || (len(path) == 0 && raw == "null") {
		return
	}
	*bad = strings.Join(path, "/") + " = " + raw
}

func FuzzFilter(f *testing.F) {
	for _, seed := range []struct{ doc, paths string }{
		{userDoc, "id\nname\norders.#.id"},
		{`[{"a":{"b":1,"c":[1,2]}},{"a":2}]`, "#.a.b\n#.a.c.#"},
		{`{"m":{"k":{"id":1,"x":2},"j":[{"id":3}]}}`, "m.*.id\nm.k.x\nm.j.#"},
		{`{"a.b":1,"a":{"b":2},"*":3,"#":[4]}`, `a\.b` + "\n" + `\*` + "\n" + `\#.#`},
		{`{"s":"\u00e9\"","n":-0.0e+1,"a":{"a":{}},"a":[]}`, "s\nn\na.a"},
		{`"x"`, "a"},
		{`{"a":1,}`, "a"},
	} {
		f.Add([]byte(seed.doc), seed.paths, false)
		f.Add([]byte(seed.doc), seed.paths, true)
	}
	f.Fuzz(func(t *testing.T, doc []byte, pathSpec string, maskMode bool) {
		paths := strings.Split(pathSpec, "\n")
		list, err := compileAllowlist(paths)
		if err != nil {
			return
		}
		var o oracle
		for _, p := range paths {
			segs, _ := parsePath(p)
			o.allow = append(o.allow, segs)
		}
		opts := filterOptions{maxDepth: 32}
		mask := "\x00" // cannot be a JSON value
		if maskMode {
			opts.mask = []byte(`"***"`)
			mask = `"***"`
		}
		var rep Report
		out, err := list.filterDocument(nil, doc, opts, &rep)
		if err != nil {
			if gjson.ValidBytes(doc) && depthWithin(doc, opts.maxDepth) {
				t.Fatalf("valid document refused: %v", err)
			}
			return
		}
		if !gjson.ValidBytes(doc) {
			t.Fatalf("invalid document accepted")
		}
		if !gjson.ValidBytes(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
		var inKept, outKept []keptValue
		var bad string
		o.walk(trimSpace(string(doc)), nil, "", &inKept, new(string))
		o.walk(string(out), nil, mask, &outKept, &bad)
		if bad != "" {
			t.Fatalf("output holds a value that is not allowed: %q\ndoc %q\nout %q", bad, doc, out)
		}
		if len(inKept) != len(outKept) {
			t.Fatalf("kept %d values, want %d\ndoc %q\nout %q", len(outKept), len(inKept), doc, out)
		}
		for i := range inKept {
			if inKept[i] != outKept[i] {
				t.Fatalf("kept value %d: got %q, want %q (byte-identical)", i, outKept[i], inKept[i])
			}
		}
		if len(rep.RemovedPaths) > MaxReportedPaths {
			t.Fatalf("%d reported paths", len(rep.RemovedPaths))
		}
		seen := map[string]bool{}
		for _, p := range rep.RemovedPaths {
			if seen[p] {
				t.Fatalf("path %q reported twice", p)
			}
			seen[p] = true
		}
		if (rep.Removed+rep.Masked == 0) != (len(rep.RemovedPaths) == 0) {
			t.Fatalf("counts %d/%d but paths %q", rep.Removed, rep.Masked, rep.RemovedPaths)
		}
	})
}

// FuzzProcess feeds arbitrary bodies through the plugin-facing path under
// every encoding: it must never panic, and whatever it replaces a body with
// must decode to valid JSON.
func FuzzProcess(f *testing.F) {
	f.Add([]byte(userDoc), uint8(0))
	f.Add(compress(f, "gzip", []byte(userDoc)), uint8(1))
	f.Add(compress(f, "deflate", []byte(userDoc)), uint8(2))
	f.Add(compress(f, "rawdeflate", []byte(`[{"id":1}]`)), uint8(2))
	f.Add([]byte("<html>"), uint8(3))
	p := policyFor(f, newFilter(f, usersConfig), "GET", "/users/1")
	encs := []string{"", "gzip", "deflate", ""}
	cts := []string{"application/json", "application/json", "application/json", "text/html"}
	f.Fuzz(func(t *testing.T, body []byte, sel uint8) {
		i := int(sel) % len(encs)
		m := ResponseMeta{Status: 200, ContentType: cts[i], ContentEncoding: encs[i]}
		out, o := process(t, p, m, body, map[string]any{"scope": "admin"})
		if o.Action != ActionReplace {
			if out != nil {
				t.Fatalf("%v with a body", o.Action)
			}
			return
		}
		doc := out
		if encs[i] != "" {
			doc, _, _ = decodeBody(nil, out, map[string]coding{"gzip": codingGzip, "deflate": codingDeflate}[encs[i]], 1<<20)
		}
		if !gjson.ValidBytes(doc) {
			t.Fatalf("replacement is not valid JSON: %q", doc)
		}
	})
}

// FuzzParsePath checks that any accepted path compiles and that reported
// key escapes parse back to the same key.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"a.b", `a\.b`, "#.*", `\#`, `a\\`, "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if segs, err := parsePath(p); err == nil {
			if _, err := compileAllowlist([]string{p}); err != nil {
				t.Fatalf("parsed but did not compile: %v", err)
			}
			for _, s := range segs {
				if s.kind == segKey && s.key == "" {
					t.Fatal("empty key segment")
				}
			}
		}
		if p == "" {
			return
		}
		esc := string(escapeKey(nil, p))
		segs, err := parsePath(esc)
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return // control characters are reported as '?'
		}
		if err != nil || len(segs) != 1 || segs[0].key != p {
			t.Fatalf("key %q -> %q -> %+v, %v", p, esc, segs, err)
		}
	})
}

// FuzzDecideHeaders feeds arbitrary (possibly joined, repeated) header
// values: no panic, and a header-time decision never replaces a body.
func FuzzDecideHeaders(f *testing.F) {
	for _, s := range [][2]string{{"identity,gzip", "40, 40"}, {"gzip", "10,40"}, {"", "+1,-1"}, {"x-gzip", "99999999999999999999,"}} {
		f.Add(s[0], s[1], 200)
	}
	p := policyFor(f, newFilter(f, usersConfig), "GET", "/users/1")
	f.Fuzz(func(t *testing.T, enc, length string, status int) {
		d := p.DecideHeaders(ResponseMeta{Status: status, ContentEncoding: enc, ContentLength: length})
		if d.Action == ActionReplace {
			t.Fatalf("DecideHeaders returned ActionReplace for %q %q", enc, length)
		}
		if d.Action == ActionFilter && strings.Contains(enc, ",") {
			t.Fatalf("a list of codings %q was accepted", enc)
		}
	})
}

// FuzzFilterMatchesReference runs the single-pass filter and the gjson-based
// reference on the same input: the same output bytes and report, or the same
// failure, for every document, allowlist, mode and depth limit.
func FuzzFilterMatchesReference(f *testing.F) {
	for _, seed := range []struct{ doc, paths string }{
		{userDoc, "id\nname\norders.#.id"},
		{`[{"a":{"b":1,"c":[1,2]}},{"a":2}]`, "#.a.b\n#.a.c.#"},
		{`{"m":{"k":{"id":1,"x":2},"j":[{"id":3}]}}`, "m.*.id\nm.k.x\nm.j.#"},
		{`{"a.b":1,"a":{"b":2},"*":3,"#":[4]}`, `a\.b` + "\n" + `\*` + "\n" + `\#.#`},
		{`{"s":"\u00e9\"","n":-0.0e+1,"a":{"a":{}},"a":[]}`, "s\nn\na.a"},
		{`{"na\u006de":1,"\ud800\u0041":2,"x\"":{"y":[1e5,-0,0.5E-3]}}`, "name\nx\\\".y"},
		{" \t[ [ [ [1] ] ], {\"a\" : true , \"b\":null} ]\r\n", "#.#\n#.a"},
		{`"x"`, "a"},
		{`{"a":1,}`, "a"},
		{`{"a":[1,2,]}`, "a"},
		{`[[[[[[[[[[x`, "#"},
		{`{"a":01}`, "a"},
		{"{\"a\":\"\x01\"}", "b"},
	} {
		for _, depth := range []uint8{3, 64} {
			f.Add([]byte(seed.doc), seed.paths, false, depth)
			f.Add([]byte(seed.doc), seed.paths, true, depth)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, pathSpec string, maskMode bool, depth uint8) {
		list, err := compileAllowlist(strings.Split(pathSpec, "\n"))
		if err != nil {
			return
		}
		opts := filterOptions{maxDepth: int(depth)}
		if maskMode {
			opts.mask = []byte(`"***"`)
		}
		// A report that already holds a path, as after an earlier document.
		var wantRep, gotRep Report
		wantRep.RemovedPaths = []string{"x"}
		gotRep.RemovedPaths = []string{"x"}
		want, wantErr := list.refFilterDocument([]byte("prefix"), doc, opts, &wantRep)
		got, gotErr := list.filterDocument([]byte("prefix"), doc, opts, &gotRep)
		if gotErr != wantErr {
			t.Fatalf("error %v, reference %v\ndoc %q", gotErr, wantErr, doc)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output differs\ndoc %q\ngot  %q\nwant %q", doc, got, want)
		}
		if !reflect.DeepEqual(gotRep, wantRep) {
			t.Fatalf("report differs\ndoc %q\ngot  %+v\nwant %+v", doc, gotRep, wantRep)
		}
	})
}
