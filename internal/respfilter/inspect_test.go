package respfilter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// recorder is an Inspector that records what it sees and masks or denies
// values equal to chosen strings.
type recorder struct {
	seen       []string
	mask, deny string
}

func (r *recorder) KeptKey(*KeptValue) Verdict { return InspectKeep }

func (r *recorder) Passing([]byte) Verdict { return InspectKeep }

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
		"user|user|{|", "user.email|email|\"|a@b.co", "user.n|n|[|", "user.n.#|n|1|1", "user.n.#|n|{|", "user.n.#.k|k|n|",
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

// keyRecorder is a recorder that also judges member keys: a key equal to
// maskKey is masked, to denyKey denied.
type keyRecorder struct {
	recorder
	keys             []string
	maskKey, denyKey string
}

func (r *keyRecorder) KeptKey(v *KeptValue) Verdict {
	r.keys = append(r.keys, string(v.AppendPath(nil)))
	switch v.Key {
	case r.denyKey:
		return InspectDeny
	case r.maskKey:
		return InspectMask
	}
	return InspectKeep
}

// TestInspectorJudgesEveryKeyTheOutputCarries: a member key that leaves in
// the output is shown to the Inspector wherever it is (the top of a kept
// subtree, inside one, on the way to a deeper allowed path, a masked
// member's key in mask mode) and is masked (the key becomes SensitiveMask,
// the document stays valid) or denied as it answers. Removed members'
// keys never leave and are not shown.
func TestInspectorJudgesEveryKeyTheOutputCarries(t *testing.T) {
	const card = "4111111111111111"
	list := mustAllowlist(t, "top", "deep.*.name")
	doc := `{"top":{"` + card + `":{"n":1}}, "deep":{"` + card + `":{"name":"x","gone":1}}}`
	rec := &keyRecorder{maskKey: card}
	out, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: rec}, &Report{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"top":{"*********":{"n":1}},"deep":{"*********":{"name":"x"}}}`; string(out) != want {
		t.Errorf("masked keys:\n%s\nwant\n%s", out, want)
	}
	if want := "top top." + card + " top." + card + ".n deep deep." + card + " deep." + card + ".name"; strings.Join(rec.keys, " ") != want {
		t.Errorf("keys shown: %q\nwant %q", strings.Join(rec.keys, " "), want)
	}
	all := mustAllowlist(t, "*")
	if out, err := all.filterDocument(nil, []byte(`{"a":1,"`+card+`" : 2}`), filterOptions{maxDepth: 64, insp: &keyRecorder{maskKey: card}}, &Report{}); err != nil || string(out) != `{"a":1,"*********":2}` {
		t.Errorf("a key the wildcard keeps: %s, %v", out, err)
	}
	for _, doc := range []string{`{"top":{"a":{"` + card + `":1}}}`, `{"deep":{"` + card + `":{}}}`} {
		_, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: &keyRecorder{denyKey: card}}, &Report{})
		if ReasonOf(err) != ReasonSensitive {
			t.Errorf("%s: denied key: err %v", doc, err)
		}
	}
	// Mask mode: a removed member keeps its key, so the key is judged.
	list = mustAllowlist(t, "id")
	rec = &keyRecorder{maskKey: card}
	out, err = list.filterDocument(nil, []byte(`{"id":1,"`+card+`":"x"}`), filterOptions{maxDepth: 64, mask: []byte(`"***"`), insp: rec}, &Report{})
	if want := `{"id":1,"*********":"***"}`; err != nil || string(out) != want {
		t.Errorf("mask mode: %s, %v; want %s", out, err, want)
	}
	// Remove mode: the removed member's key is gone, and not shown.
	rec = &keyRecorder{denyKey: card}
	if out, err = list.filterDocument(nil, []byte(`{"id":1,"`+card+`":"x"}`), filterOptions{maxDepth: 64, insp: rec}, &Report{}); err != nil || string(out) != `{"id":1}` {
		t.Errorf("remove mode: %s, %v", out, err)
	}
}

// FuzzMaskedKeysLeaveValidJSON checks that masking member keys (here every
// key holding a '4') keeps the output valid JSON with none of them left,
// whatever the document and allowlist, in remove and mask modes.
func FuzzMaskedKeysLeaveValidJSON(f *testing.F) {
	f.Add([]byte(`{"4111111111111111":{"a4":1,"b":[{"4":2}]},"x":{"y4":3}}`), "*\nx", false)
	f.Add([]byte(`{"a":{"4":1},"b":2}`), "a.*", true)
	f.Fuzz(func(t *testing.T, doc []byte, pathSpec string, mask bool) {
		list, err := compileAllowlist(strings.Split(pathSpec, "\n"))
		if err != nil {
			return
		}
		opts := filterOptions{maxDepth: 64, insp: &fourKeys{}}
		if mask {
			opts.mask = []byte(`"***"`)
		}
		out, err := list.filterDocument(nil, doc, opts, &Report{})
		if err != nil {
			return
		}
		var v any
		if json.Unmarshal(out, &v) != nil {
			if json.Valid(doc) {
				t.Fatalf("doc %q: output %q is not JSON", doc, out)
			}
			return
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					if strings.Contains(k, "4") {
						t.Fatalf("doc %q: key %q left in %q", doc, k, out)
					}
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(v)
	})
}

// fourKeys masks every member key holding a '4'.
type fourKeys struct{ recorder }

func (fourKeys) KeptKey(v *KeptValue) Verdict {
	if strings.Contains(v.Key, "4") {
		return InspectMask
	}
	return InspectKeep
}

// passJudge is an Inspector that records what would pass unjudged and
// answers a fixed verdict for it; it denies values equal to deny.
type passJudge struct {
	recorder
	passing [][]byte
	verdict Verdict
}

func (j *passJudge) Passing(body []byte) Verdict {
	j.passing = append(j.passing, body)
	return j.verdict
}

// TestUnjudgedBodiesAskTheInspector: where on_error or non_json "allow"
// would pass a body the filter did not judge whole (malformed after a
// denied value, text that is not JSON, a coding it cannot read, too
// large), the Inspector decides whether it may pass: InspectDeny refuses
// it as sensitive_data, InspectRefuse under the failure's own reason.
func TestUnjudgedBodiesAskTheInspector(t *testing.T) {
	f := newFilter(t, `{"rules": [{"name": "n", "allow": ["id", "note"]}], "on_error": "allow", "non_json": "allow", "max_body_bytes": 64}`)
	p := policyFor(t, f, "GET", "/")
	cases := []struct {
		name string
		meta ResponseMeta
		body string
		want Reason
	}{
		{"malformed after a denied value", jsonMeta(), `{"id":1,"note":"secret","x":}`, ReasonMalformed},
		{"not JSON, starts like it", ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "text/plain"}, `{card 4111111111111111`, ReasonMalformed},
		{"not JSON", ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "text/html"}, `<p>4111111111111111</p>`, ReasonNotJSON},
		{"too large", jsonMeta(), `{"id":1,"note":"` + strings.Repeat("x", 100) + `"}`, ReasonTooLarge},
		{"undecodable", ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json", ContentEncoding: "gzip"}, `not gzip`, ReasonDecodeFailed},
	}
	for _, c := range cases {
		for _, v := range []Verdict{InspectKeep, InspectDeny, InspectRefuse} {
			j := &passJudge{verdict: v}
			d := p.DecideHeaders(c.meta)
			_, o := p.AppendProcessInspected(nil, d, []byte(c.body), nil, j)
			want := Outcome{Action: ActionPass, Reason: c.want}
			switch v {
			case InspectDeny:
				want = Outcome{Action: ActionDeny, Reason: ReasonSensitive}
			case InspectRefuse:
				want = Outcome{Action: ActionDeny, Reason: c.want}
			}
			if o.Action != want.Action || o.Reason != want.Reason || len(j.passing) != 1 {
				t.Errorf("%s, inspector %v: %v %s (asked %d times); want %v %s", c.name, v, o.Action, o.Reason, len(j.passing), want.Action, want.Reason)
			}
		}
	}
	// Headers time, and a failure the plugin finds (a body over the limit
	// before its end): the body is not held, so the Inspector gets nil.
	for _, v := range []Verdict{InspectKeep, InspectDeny, InspectRefuse} {
		j := &passJudge{verdict: v}
		d := p.DecideHeadersInspected(ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json", ContentEncoding: "br"}, j)
		o := p.Failure(ReasonTooLarge, j)
		if (v == InspectKeep) != (d.Action == ActionPass && o.Action == ActionPass) || len(j.passing) != 2 || j.passing[0] != nil || j.passing[1] != nil {
			t.Errorf("inspector %v: headers %v %s, failure %v %s, asked %q", v, d.Action, d.Reason, o.Action, o.Reason, j.passing)
		}
	}
}

// quietRecorder answers InspectQuiet for every value and key (a
// QuietInspector when below > 0) and records what it is shown.
type quietRecorder struct {
	recorder
	below int
	keys  []string
}

func (q *quietRecorder) Kept(v *KeptValue) Verdict {
	q.recorder.Kept(v)
	return InspectQuiet
}

func (q *quietRecorder) KeptKey(v *KeptValue) Verdict {
	q.keys = append(q.keys, v.Key)
	return InspectQuiet
}

type quietInspector struct{ *quietRecorder }

func (q quietInspector) QuietBelow() int { return q.below }

// TestQuietInspectorSkipsWhatItSaid: after InspectQuiet, a value at the
// same site of the same type is not shown again when shorter than
// QuietBelow (a literal or a container always), a longer one is, and so
// is every value inside a container; a key under the same allowlist node
// is not shown again. An Inspector that is not a QuietInspector is shown
// everything, whatever it answers. The output is the filter's either way.
func TestQuietInspectorSkipsWhatItSaid(t *testing.T) {
	list := mustAllowlist(t, "d.#.a", "d.#.t", "d.#.o", "m.*")
	doc := `{"d":[{"a":"x","t":[1,"y"],"o":{"k":1}},{"a":"yz","t":[22,"abcdef",true],"o":{"k":2}},{"a":"abcdef","t":[],"o":{}},{"a":7,"t":[3]},{"a":12345678}],"m":{"p":"q","r":"s"}}`
	plain, _ := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64}, &Report{})
	for _, quiet := range []bool{true, false} {
		q := &quietRecorder{below: 5}
		var insp Inspector = q
		if quiet {
			insp = quietInspector{q}
		}
		out, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: insp}, &Report{})
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("quiet %v: output %s (%v), want %s", quiet, out, err, plain)
		}
		want := []string{
			"d.#.a|a|\"|x", "d.#.t|t|[|", "d.#.t.#|t|1|1", "d.#.t.#|t|\"|y", "d.#.o|o|{|", "d.#.o.k|k|1|1",
			"d.#.t.#|t|\"|abcdef", "d.#.t.#|t|t|", "d.#.o.k|k|2|2",
			"d.#.a|a|\"|abcdef", "d.#.a|a|7|7", "d.#.a|a|1|12345678",
			"m.p|p|\"|q", "m.r|r|\"|s",
		}
		// Keys inside a kept value, or under "*", have no node of their own.
		wantKeys := "d a t o k k m p r"
		if !quiet {
			want = []string{
				"d.#.a|a|\"|x", "d.#.t|t|[|", "d.#.t.#|t|1|1", "d.#.t.#|t|\"|y", "d.#.o|o|{|", "d.#.o.k|k|1|1",
				"d.#.a|a|\"|yz", "d.#.t|t|[|", "d.#.t.#|t|2|22", "d.#.t.#|t|\"|abcdef", "d.#.t.#|t|t|", "d.#.o|o|{|", "d.#.o.k|k|2|2",
				"d.#.a|a|\"|abcdef", "d.#.t|t|[|", "d.#.o|o|{|", "d.#.a|a|7|7", "d.#.t|t|[|", "d.#.t.#|t|3|3", "d.#.a|a|1|12345678",
				"m.p|p|\"|q", "m.r|r|\"|s",
			}
			wantKeys = "d a t o k a t o k a t o a t a m p r"
		}
		if got := strings.Join(q.seen, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("quiet %v: seen\n%s\nwant\n%s", quiet, got, strings.Join(want, "\n"))
		}
		if got := strings.Join(q.keys, " "); got != wantKeys {
			t.Errorf("quiet %v: keys %s, want %s", quiet, got, wantKeys)
		}
	}
}

// stringJudge answers InspectQuiet for a string without a '4' (and for any
// value shorter than below) and for any other value, InspectMask for a
// string holding "41", and records the strings it is shown; quietStrings
// is it as a StringQuieter whose QuietString accepts the strings without
// a '4'.
type stringJudge struct {
	below int
	seen  []string
}

func (j *stringJudge) KeptKey(*KeptValue) Verdict { return InspectKeep }
func (j *stringJudge) Passing([]byte) Verdict     { return InspectKeep }
func (j *stringJudge) QuietBelow() int            { return j.below }

func (j *stringJudge) Kept(v *KeptValue) Verdict {
	if v.Kind != '"' {
		return InspectQuiet
	}
	j.seen = append(j.seen, string(v.AppendPath(nil))+"|"+string(v.Content))
	switch c := v.Content; {
	case bytes.Contains(c, []byte("41")):
		return InspectMask
	case !bytes.ContainsRune(c, '4') || len(c) < j.below:
		return InspectQuiet
	}
	return InspectKeep
}

type quietStrings struct{ *stringJudge }

func (q quietStrings) QuietString() func([]byte) bool {
	return func(c []byte) bool { return !bytes.ContainsRune(c, '4') }
}

// TestStringQuieterSkipsWhatItAccepts: after InspectQuiet for a string, a
// string at the same site that the StringQuieter's QuietString accepts is
// not shown, whatever its length and escapes (a member, an array element,
// a kept array's element); one it does not accept is, and is masked as the
// Inspector says. A plain QuietInspector is shown every long string.
func TestStringQuieterSkipsWhatItAccepts(t *testing.T) {
	list := mustAllowlist(t, "d.#.a", "d.#.t", "e")
	doc := `{"d":[{"a":"ab","t":["x"]},{"a":"long name","t":["long tag","caf\u00e9 \"q\"","a 4","a 41"]},{"a":"M\u00fcller \"x\"","t":[]},{"a":"4 is shown","t":["x"]},{"a":"4111"}],"e":["ab","long element","\u00e9l\u00e8ve","4 too"]}`
	want := `{"d":[{"a":"ab","t":["x"]},{"a":"long name","t":["long tag","caf\u00e9 \"q\"","a 4","*********"]},{"a":"M\u00fcller \"x\"","t":[]},{"a":"4 is shown","t":["x"]},{"a":"*********"}],"e":["ab","long element","\u00e9l\u00e8ve","4 too"]}`
	for _, quiet := range []bool{true, false} {
		j := &stringJudge{below: 3}
		var insp Inspector = j
		if quiet {
			insp = quietStrings{j}
		}
		out, err := list.filterDocument(nil, []byte(doc), filterOptions{maxDepth: 64, insp: insp}, &Report{})
		if err != nil || string(out) != want {
			t.Fatalf("quiet %v: %s, %v\nwant %s", quiet, out, err, want)
		}
		seen := []string{"d.#.a|ab", "d.#.t.#|x", "d.#.t.#|a 4", "d.#.t.#|a 41", "d.#.a|4 is shown", "d.#.a|4111", "e.#|ab", "e.#|4 too"}
		if !quiet {
			seen = []string{"d.#.a|ab", "d.#.t.#|x", "d.#.a|long name", "d.#.t.#|long tag", `d.#.t.#|caf\u00e9 \"q\"`, "d.#.t.#|a 4", "d.#.t.#|a 41",
				`d.#.a|M\u00fcller \"x\"`, "d.#.a|4 is shown", "d.#.a|4111", "e.#|ab", "e.#|long element", `e.#|\u00e9l\u00e8ve`, "e.#|4 too"}
		}
		if got := strings.Join(j.seen, "\n"); got != strings.Join(seen, "\n") {
			t.Errorf("quiet %v: seen\n%s\nwant\n%s", quiet, got, strings.Join(seen, "\n"))
		}
	}
}

// FuzzQuietStringsMatch checks that a StringQuieter changes nothing but
// the calls: the output and error are those of the same Inspector shown
// every value, and every string its QuietString does not accept is shown
// all the same, in order, on any document and allowlist.
func FuzzQuietStringsMatch(f *testing.F) {
	for _, seed := range []struct{ doc, paths string }{
		{`{"d":[{"a":"ab","t":["x"]},{"a":"long name","t":["long tag","a 41"]},{"a":"M\u00fcller \"x\""},{"a":"4 is shown"}],"e":["ab","long","4 too"]}`, "d.#.a\nd.#.t\ne"},
		{`[{"a":"xyz"},{"a":"41"},{"a":"\u0034\u0031"},{"a":[1,"4"]}]`, "#.a"},
		{`{"a":{"b":"xyz","c":["q","41"]}}`, "a"},
		{`{"d":[{"t":["ab",1]},{"t":["long",12,"x"]},{"t":[ "long" , 3 ]},{"t":["a4"]},{"t":[1.5,"x"]},{"t":[]},{"t":["\u0041"]}]}`, "d.#.t"},
	} {
		f.Add([]byte(seed.doc), seed.paths, uint8(3))
	}
	f.Fuzz(func(t *testing.T, doc []byte, pathSpec string, below uint8) {
		list, err := compileAllowlist(strings.Split(pathSpec, "\n"))
		if err != nil {
			return
		}
		checkQuietStrings(t, list, doc, int(below%8))
	})
}

// quietKeys is quietStrings answering InspectQuiet for every key, so
// that a member's value at a quiet position takes the filter's shortest
// path (quietKept), where a string the StringQuieter accepted may be
// remembered (sameAsQuiet).
type quietKeys struct{ quietStrings }

func (quietKeys) KeptKey(*KeptValue) Verdict { return InspectQuiet }

// checkQuietStrings fails unless a StringQuieter changes nothing but the
// calls on doc under list: the output and error are those of the same
// Inspector shown every value, and every string its QuietString does not
// accept is shown all the same, in order; with quiet keys too.
func checkQuietStrings(t *testing.T, list *allowlist, doc []byte, below int) {
	t.Helper()
	all := &stringJudge{below: below}
	want, wantErr := list.filterDocument(nil, doc, filterOptions{maxDepth: 64, insp: all}, &Report{})
	var must []string
	for _, s := range all.seen {
		if strings.Contains(s[strings.LastIndexByte(s, '|'):], "4") {
			must = append(must, s)
		}
	}
	for _, keys := range []bool{false, true} {
		q := &stringJudge{below: below}
		var insp Inspector = quietStrings{q}
		if keys {
			insp = quietKeys{quietStrings{q}}
		}
		got, gotErr := list.filterDocument(nil, doc, filterOptions{maxDepth: 64, insp: insp}, &Report{})
		if gotErr != wantErr || !bytes.Equal(got, want) {
			t.Fatalf("doc %q (quiet keys %v): with QuietString %q, %v; shown everything %q, %v", doc, keys, got, gotErr, want, wantErr)
		}
		var shown []string
		for _, s := range q.seen {
			if strings.Contains(s[strings.LastIndexByte(s, '|'):], "4") {
				shown = append(shown, s)
			}
		}
		if strings.Join(shown, "\n") != strings.Join(must, "\n") {
			t.Fatalf("doc %q (quiet keys %v): strings with a 4 shown\n%s\nwant\n%s", doc, keys, strings.Join(shown, "\n"), strings.Join(must, "\n"))
		}
	}
}

// TestSameQuietStringOnlyWhenEqual: a member's string the StringQuieter
// accepted is remembered at its position, and one equal to it is kept
// unshown (sameAsQuiet); one of the same length and the same first and
// last bytes but a '4' anywhere (or "41", masked) must be shown all the
// same, at every length around the eight-byte words compared.
func TestSameQuietStringOnlyWhenEqual(t *testing.T) {
	list := mustAllowlist(t, "d.#.a", "d.#.b")
	for n := 1; n <= 40; n++ {
		plain := strings.Repeat("x", n)
		for p := 0; p < n; p++ {
			for _, ins := range []string{"4", "41"} {
				if p+len(ins) > n {
					continue
				}
				other := plain[:p] + ins + plain[p+len(ins):]
				doc := `{"d":[{"a":"` + plain + `","b":"` + plain + `"},{"a":"` + plain + `","b":"` + other + `"},{"a":"` + other + `","b":"` + plain + `"},{"a":"` + plain + `"}]}`
				checkQuietStrings(t, list, []byte(doc), 3)
			}
		}
	}
}

// TestSameAsQuietComparesWholeStrings: sameAsQuiet is true only for a
// string equal, byte for byte and in length, to the one remembered,
// whatever the lengths and wherever they differ, and for every such
// string of eight bytes or more (quotes included).
func TestSameAsQuietComparesWholeStrings(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for m := 1; m <= 40; m++ {
			a := `"` + strings.Repeat("ab", n)[:n] + `"`
			for p := 0; p <= m; p++ {
				b := []byte(`"` + strings.Repeat("ab", m)[:m] + `"`)
				if p < m {
					b[1+p] = 'z'
				}
				doc := a + "," + string(b)
				r := &filterRun{doc: []byte(doc), lastQuiet: [][2]int{{0, len(a)}}}
				got := r.sameAsQuiet(0, len(a)+1, len(doc))
				if want := a == string(b); got && !want || want && len(a) >= 8 && !got {
					t.Fatalf("sameAsQuiet(%s, %s) = %v", a, b, got)
				}
			}
		}
	}
}
