package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/apiguard/apiguard/internal/route"
)

// refInspector is the Inspector written the plain way, with none of
// Response's shortcuts (sites, predicted paths, caches of paths, keys and
// segments, prefilters before classification): the path built and
// collapsed for every value, every value classified through the
// Classifier's own methods. Response must record and answer exactly what
// it does.
type refInspector struct {
	c       *Classifier
	fields  []Field
	index   map[string]int
	values  [64]uint32
	found   ClassSet
	action  Policy
	dropped int
}

func (r *refInspector) Kept(v *respfilter.KeptValue) respfilter.Verdict {
	content := v.Content
	if v.Escaped {
		content = refUnescape(content)
	}
	classes := r.c.Key(v.Key)
	if v.Kind == '"' && len(v.Content) > maxValueBytes {
		// A long value: its head classified as a value is, its tail and
		// the whole as a JWT by the built-in classes.
		head, tail, jwt := refLongParts(string(content))
		content = []byte(head)
		if jwt {
			classes |= 1 << detect.JWT
		}
		if dc, ok := detect.Classify(tail, detect.All); ok && tail != "" {
			classes |= 1 << uint(dc)
		}
	}
	// A number is as long as the integer a client reads for it (42e14).
	if len(content) >= r.c.minValue || v.Kind != '"' && refIntegerDigits(string(content)) >= r.c.minValue {
		switch k := v.Kind; {
		case k == '"':
			classes |= r.c.String(v.Key, string(content))
		case k == '-' || k >= '0' && k <= '9':
			classes |= r.c.Number(v.Key, string(content))
		}
	}
	path, _ := collapse(nil, string(v.AppendPath(nil)))
	if len(path) == 0 {
		path = []byte{'$'}
	}
	i, ok := r.index[string(path)]
	switch {
	case ok:
	case len(path) > MaxPathBytes || len(r.fields) >= MaxResponseFields:
		i = -1
	default:
		i = len(r.fields)
		r.index[string(path)] = i
		r.fields = append(r.fields, Field{Path: string(path)})
	}
	if i < 0 {
		r.dropped++
	} else {
		r.fields[i].Types |= kindTypes[v.Kind]
		r.fields[i].Classes |= classes
	}
	p := Observe
	for n := range 64 {
		if classes.Has(n) {
			r.values[n]++
			p = max(p, r.c.Policy(n))
		}
	}
	r.found |= classes
	r.action = max(r.action, p)
	switch p {
	case Mask:
		return respfilter.InspectMask
	case Deny:
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}

func (r *refInspector) KeptKey(v *respfilter.KeptValue) respfilter.Verdict {
	var classes ClassSet
	if len(v.Key) >= r.c.minValue && v.Key != "" {
		classes = r.c.String("", v.Key)
	}
	if classes == 0 {
		return respfilter.InspectKeep
	}
	path, _ := collapse(nil, string(v.AppendPath(nil)))
	i, ok := r.index[string(path)]
	switch {
	case ok:
	case len(path) > MaxPathBytes || len(r.fields) >= MaxResponseFields:
		i = -1
	default:
		i = len(r.fields)
		r.index[string(path)] = i
		r.fields = append(r.fields, Field{Path: string(path)})
	}
	if i < 0 {
		r.dropped++
	} else {
		r.fields[i].Classes |= classes
	}
	p := Observe
	for n := range 64 {
		if classes.Has(n) {
			r.values[n]++
			p = max(p, r.c.Policy(n))
		}
	}
	r.found |= classes
	r.action = max(r.action, p)
	switch p {
	case Mask:
		return respfilter.InspectMask
	case Deny:
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}

func (r *refInspector) Passing(body []byte) respfilter.Verdict {
	enforcing := false
	for i := range r.c.Names() {
		if r.c.Policy(i) != Observe {
			enforcing = true
		}
	}
	switch {
	case r.action >= Mask:
		return respfilter.InspectDeny
	case !enforcing:
		return respfilter.InspectKeep
	case body == nil || len(r.c.custom) > 0 && r.c.Worst(^ClassSet(0)<<uint(builtinCount)) != Observe:
		return respfilter.InspectRefuse
	}
	for _, dc := range detect.Classes() {
		text := string(refUnescape(body))
		if r.c.Policy(int(dc)) != Observe && detect.Contains(text, detect.SetOf(dc)) {
			return respfilter.InspectDeny
		}
	}
	return respfilter.InspectKeep
}

// refIntegerDigits is the digits of the integer part of the JSON number
// num as JSON.parse reads it, leading zeros aside; 0 past 1e400.
func refIntegerDigits(num string) int {
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0
	}
	f = math.Abs(math.Trunc(f))
	if f < 1 {
		return 0
	}
	return len(strconv.FormatFloat(f, 'f', 0, 64))
}

// refLongParts is what longText keeps of a long value's decoded text,
// written the plain way: the text without its invisible characters and
// the padding that opens it; its first maxValueBytes bytes and, when they
// are not all of it (the padding that closes it aside), its last ones,
// whole characters; and whether Classify takes it whole for a JWT.
func refLongParts(text string) (head, tail string, jwt bool) {
	var b strings.Builder
	for _, r := range text {
		if detect.VisibleRune(r) >= 0 {
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeftFunc(b.String(), detect.IsPadding)
	head = s
	if len(head) > maxValueBytes {
		i := maxValueBytes
		for !utf8.RuneStart(s[i]) {
			i--
		}
		head = s[:i]
	}
	if t := strings.TrimRightFunc(s, detect.IsPadding); len(t) > len(head) {
		tail = t[max(0, len(t)-maxValueBytes):]
		for tail != "" && !utf8.RuneStart(tail[0]) {
			tail = tail[1:]
		}
	}
	dc, ok := detect.Classify(s, detect.SetOf(detect.JWT))
	return head, tail, ok && dc == detect.JWT
}

// FuzzLongTextMatchesReference checks longText, fed a text in three
// pieces split anywhere, against refLongParts.
func FuzzLongTextMatchesReference(f *testing.F) {
	for _, s := range []string{
		spread("4111111111111111", strings.Repeat("\u200b", 80)), "eyJ" + strings.Repeat("A", 1200) + ".eyJzdWIiOiJhbGljZSJ9.c2ln  ",
		strings.Repeat("Alice ", 200) + "<alice@example.com>" + strings.Repeat("\u2003", 600), "\xe2\x82" + strings.Repeat("\u00e9", 700) + "\xff",
		"  eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJ\uff11\uff12\uff13\u2010abc.x\u00a0", strings.Repeat(" ", 1100) + "x" + strings.Repeat("\u3000", 400),
	} {
		f.Add(s, uint16(3), uint16(1500))
	}
	f.Fuzz(func(t *testing.T, text string, a, b uint16) {
		i, j := int(a)%(len(text)+1), int(b)%(len(text)+1)
		if i > j {
			i, j = j, i
		}
		var l longText
		l.reset()
		l.write([]byte(text[:i]))
		l.write([]byte(text[i:j]))
		l.write([]byte(text[j:]))
		head, tail, jwt := l.parts()
		wh, wt, wj := refLongParts(text)
		if string(head) != wh || string(tail) != wt || jwt != wj {
			t.Fatalf("%q split at %d, %d: head %q tail %q jwt %v; reference %q %q %v", text, i, j, head, tail, jwt, wh, wt, wj)
		}
	})
}

// refUnescape decodes a JSON string's escapes one byte at a time, as
// unescape must (a broken escape kept as written).
func refUnescape(raw []byte) []byte {
	var dst []byte
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			dst = append(dst, raw[i])
			continue
		}
		i++
		switch c := raw[i]; c {
		case 'b', 'f', 'n', 'r', 't':
			dst = append(dst, map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}[c])
		case 'u':
			if r, ok := hex4(raw[min(i+1, len(raw)):min(i+5, len(raw))]); ok && i+4 < len(raw) {
				i += 4
				if utf16.IsSurrogate(r) && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if lo, ok := hex4(raw[i+3 : i+7]); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r = utf16.DecodeRune(r, lo)
						i += 6
					}
				}
				dst = append(dst, string(r)...)
				continue
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func (r *refInspector) describe() string {
	var lines []string
	for _, f := range r.fields {
		var cls []string
		for i := range 64 {
			if f.Classes.Has(i) {
				cls = append(cls, r.c.Name(i))
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s %s", f.Path, strings.Join(f.Types.Names(), "|"), strings.Join(cls, ",")))
	}
	return strings.Join(lines, "\n")
}

// inspectCorpus is the documents the Inspector is checked on: the filter's
// benchmark documents, the sample with every class, and what stresses the
// shortcuts (repeated and varying paths, data keys, escapes, long values,
// more paths than a response records, paths longer than recorded).
func inspectCorpus() []string {
	docs := []string{
		sampleDoc,
		string(benchdoc.Generate(1 << 10)),
		string(benchdoc.Generate(40 << 10)),
		`[{"a":"4111111111111111","b":{"c":[1,"ada@example.com",{"d":null}]}},{"a":5555555555554444,"b":{"c":[]}},{"b":"x"}]`,
		`{"data":[{"id":1,"name":"\u0034111111111111111","tags":["ada@example.com","\u0041KIAIOSFODNN7EXAMPLE",true]},{"id":"078-05-1120","name":"a\"b","tags":{"x":1}}],"meta":{"k\u0065y":"$2b$12$abcdefghijklmnopqrstuvwx/yz0123456789ABCDEFGHIJKLMN"}}`,
		`{"data":[{"id":1,"address":{"city":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"}},{"id":2,"address":{"city":"Bearer abcdefghijkl"}},{"id":3,"address":null}]}`,
		`{"a.b":{"c\\d":{"#":1,"*":2}},"users":{"alice@example.com":{"card":"4111-1111-1111-1111"},"4111111111111111":{"card":1}}}`,
		`{"long":"` + strings.Repeat("\\u0041", 400) + `","pem":"-----BEGIN PRIVATE KEY-----` + strings.Repeat("A", 2000) + `"}`,
		// Long values: invisible characters between a card's digits, a
		// JWT with a long header, a display name before its address,
		// padding, escapes and characters outside ASCII around the cuts.
		`{"long":["` + spread("4111111111111111", strings.Repeat("\\u200b", 80)) + `","eyJ` + strings.Repeat("A", 1200) + `.eyJzdWIiOiJhbGljZSJ9.c2ln  ","` +
			strings.Repeat("Alice ", 200) + `\u003calice@example.com>` + strings.Repeat(" ", 1100) + `","` + strings.Repeat("\u00e9", 600) + `x` + strings.Repeat("\\u00e9", 300) + `","` +
			strings.Repeat("\\ud83d\\ude00", 300) + `4111111111111111\ud834"],"pem":"` + strings.Repeat("\\t", 1100) + `eyJ` + strings.Repeat("A", 1100) + `.x\u2010y"}`,
		`"ada@example.com"`, `4111111111111111`, `[]`, `{}`,
	}
	// A site that turns quiet (respfilter.InspectQuiet) on short values
	// and then meets long ones, classifiable ones, other types, escapes
	// and containers; arrays of scalars (element sites) likewise.
	docs = append(docs,
		`{"data":[{"id":1,"name":"ab","tags":["a",1,true,null,"4111111111111111",4111111111111111,"ada@example.com",12345,"x\"y","\u0034111111111111111",[1,"4111111111111111"],{"k":"ada@example.com"},-4111111111111111,1.5e2,0,"\u00e9"]},`+
			`{"id":4111111111111111,"name":"ada@example.com","tags":[]},{"id":"4111111111111111","name":null,"tags":"ada@example.com"},`+
			`{"id":true,"name":{"x":"4111111111111111"},"tags":[["a"],{"4111111111111111":1}]},{"id":12,"name":"ab"}]}`,
		`[1,2,"a","b",true,null,42e14,-4.2E15,4111111111111111,"ada@example.com",[3,"4111111111111111"],{"a":1}]`)
	docs = append(docs, generatedDocs(60)...)
	var many strings.Builder
	many.WriteString(`{"data":[`)
	for i := range 300 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `{"field%d":"DE89370400440532013000","n":%d}`, i, 4111111111111111+i)
	}
	many.WriteString(`]}`)
	docs = append(docs, many.String())
	deep := strings.Repeat(`{"`+strings.Repeat("k", 40)+`":`, 10) + `"ada@example.com"` + strings.Repeat("}", 10)
	return append(docs, deep)
}

// generatedDocs returns n documents drawn from a fixed seed: arrays of
// records whose fields, at the same paths, take short and long, plain,
// escaped and classifiable values of every type, so a site turns quiet
// and then meets values it must still show.
func generatedDocs(n int) []string {
	rng := rand.New(rand.NewPCG(14, 25))
	scalars := []string{`1`, `12`, `12345`, `4111111111111111`, `-4111111111111111`, `4.111111111111111e15`, `0`, `-1`, `1.5`, `true`, `false`, `null`,
		`"a"`, `"ab"`, `"abcde"`, `"abcdef"`, `"4111111111111111"`, `"4111 1111 1111 1111"`, `"ada@example.com"`, `"a\"b"`, `"\u0041"`,
		`"\u0034111111111111111"`, `"4111\u200b1111\u200b1111\u200b1111"`, `"Zürich"`, `"é"`, `"\ud83d\ude00"`, `"078-05-1120"`,
		`"DE89370400440532013000"`, `"Bearer abcdefghijkl"`, `"$2b$12$abcdefghijklmnopqrstuvwx/yz0123456789ABCDEFGHIJKLMN"`, `"E123456"`, `""`,
		`"User 12 M\u00fcller \"quoted\""`, `"5f4dcc3b5aa765d61d8327deb882cf99"`, `"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"`,
		`"Ada \u003cada@example.com\u003e"`, `"\u2010\u2010\u2010\u2010BEGIN PRIVATE KEY----\nMIIE"`}
	keys := []string{"id", "name", "tags", "card", "internal_x", "4111111111111111", "ada@example.com", "k\u0065y", "city", "password"}
	var value func(b *strings.Builder, depth int)
	value = func(b *strings.Builder, depth int) {
		switch k := rng.IntN(10); {
		case k < 6 || depth > 2:
			b.WriteString(scalars[rng.IntN(len(scalars))])
		case k < 8:
			b.WriteByte('[')
			for i := range rng.IntN(5) {
				if i > 0 {
					b.WriteByte(',')
				}
				value(b, depth+1)
			}
			b.WriteByte(']')
		default:
			b.WriteByte('{')
			for i := range rng.IntN(4) {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(b, `"%s":`, keys[rng.IntN(len(keys))])
				value(b, depth+1)
			}
			b.WriteByte('}')
		}
	}
	docs := make([]string, 0, n)
	for range n {
		var b strings.Builder
		b.WriteString(`{"data":[`)
		for i := range 1 + rng.IntN(12) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, k := range keys[:4+rng.IntN(len(keys)-3)] {
				if j > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `"%s":`, k)
				value(&b, 0)
			}
			b.WriteByte('}')
		}
		b.WriteString(`],"meta":`)
		value(&b, 0)
		b.WriteByte('}')
		docs = append(docs, b.String())
	}
	return docs
}

var inspectAllowlists = [][]string{
	{"*", "#"},
	benchdoc.Allow,
	{"data.#.id", "data.#.name", "data.#.tags", "data.#.card", "data.#.4111111111111111", "data.#.internal_x", "meta.#", "#"},
	{"data.#.*", "meta"},
	{"data.#.id", "data.#.name", "data.#.tags", "meta", "*.b", "#.a", "#.b.c", "users.*.card", "a\\.b"},
	{"data.#.address.city", "long", "pem", "#"},
}

// TestInspectorMatchesReference checks that Response, through the
// filter's pass, records the same fields, types and classes, counts the
// same values and answers the same verdicts as refInspector, on every
// document of the corpus and allowlist, with classifiers that mask and
// deny and with key classes; the Response is reused across documents, as
// a worker reuses it.
func TestInspectorMatchesReference(t *testing.T) {
	checkAgainstReference(t, referenceClassifiers(t), inspectCorpus())
}

// FuzzInspectorMatchesReference is TestInspectorMatchesReference on any
// document: Response's shortcuts (sites, quiet sites and keys, the
// prefilters) must never change what is recorded or answered.
func FuzzInspectorMatchesReference(f *testing.F) {
	for _, doc := range inspectCorpus() {
		if len(doc) < 1<<10 {
			f.Add(doc)
		}
	}
	cs := referenceClassifiers(f)
	f.Fuzz(func(t *testing.T, doc string) {
		checkAgainstReference(t, cs, []string{doc})
	})
}

// referenceClassifiers are the classifiers Response is checked with: the
// built-in classes alone, masking and denying ones, key classes (every
// value under their key counts) and a custom value class.
func referenceClassifiers(t testing.TB) []*Classifier {
	plain, err := NewClassifier(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	keyed, err := NewClassifier(map[string]Policy{"email": Mask, "api_key": Deny, "jwt": Mask},
		[]CustomClass{{Name: "city", Key: "^city$", Policy: Mask}, {Name: "de_iban", Key: "^field", Value: "^DE"}})
	if err != nil {
		t.Fatal(err)
	}
	masking, err := NewClassifier(map[string]Policy{"card_number": Mask, "email": Deny, "ssn": Mask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	valued, err := NewClassifier(map[string]Policy{"card_number": Mask}, []CustomClass{{Name: "employee_id", Value: `^E\d{6}$`, Policy: Mask}})
	if err != nil {
		t.Fatal(err)
	}
	return []*Classifier{plain, testClassifier(t), keyed, masking, valued}
}

// checkAgainstReference checks that Response, through the filter's pass,
// records the same fields, types and classes, counts the same values and
// answers the same verdicts as refInspector, on every document and
// allowlist, with each classifier; the Response is reused across
// documents, as a worker reuses it.
func checkAgainstReference(t *testing.T, classifiers []*Classifier, docs []string) {
	for ci, c := range classifiers {
		resp := NewResponse(c)
		for li, allow := range inspectAllowlists {
			f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Allow: respfilter.Paths(allow...)}}, MaxBodyBytes: 4 << 20})
			if err != nil {
				t.Fatal(err)
			}
			p := f.Match(&route.Request{Method: "GET", Path: "/", Header: func(string) (string, bool) { return "", false }})
			d := p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"})
			for di, doc := range docs {
				ref := &refInspector{c: c, index: map[string]int{}}
				want, wo := p.AppendProcessInspected(nil, d, []byte(doc), nil, ref)
				for round := range 2 { // the second time with the caches warm
					resp.Reset()
					got, o := p.AppendProcessInspected(nil, d, []byte(doc), nil, resp)
					name := fmt.Sprintf("classifier %d, allowlist %d, doc %d, round %d", ci, li, di, round)
					if !bytes.Equal(got, want) || o.Action != wo.Action || o.Reason != wo.Reason {
						t.Fatalf("%s: output %.200s (%v %s), reference %.200s (%v %s)", name, got, o.Action, o.Reason, want, wo.Action, wo.Reason)
					}
					if g, w := describe(resp), ref.describe(); g != w {
						t.Fatalf("%s: fields\n%s\nreference\n%s", name, g, w)
					}
					if resp.Values != ref.values || resp.Found != ref.found || resp.Action != ref.action || resp.Dropped != ref.dropped {
						t.Fatalf("%s: found %b action %v dropped %d values %v; reference %b %v %d %v", name,
							resp.Found, resp.Action, resp.Dropped, resp.Values[:16], ref.found, ref.action, ref.dropped, ref.values[:16])
					}
				}
			}
		}
	}
}

func TestUnescapeMatchesReference(t *testing.T) {
	for _, s := range []string{``, `plain`, `a\"b`, `\u00e9l\u00e8ve`, `\ud83d\ude00`, `\udb40\udc20`, `\ud83d`, `a\ud83dx`, `\ude00\ud83d`, `\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\u12`, `x\`, `\\\/\b\f\n\r\t`, `\q`, `\u00zz`, strings.Repeat(`ab\n`, 100)} {
		if got, want := unescape(nil, []byte(s)), refUnescape([]byte(s)); !bytes.Equal(got, want) {
			t.Errorf("unescape(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestUnescapeMatchesEncodingJSON: surrogate pairs, lone surrogates and
// every other escape decode as a JSON decoder reads them.
func TestUnescapeMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{`\ud83d\ude00`, `4111\udb40\udc20111111111111`, `\ud834\udd73`, `\ud83d`, `a\ud83dx`, `\ude00\ud83d`,
		`\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\ud83d\n`, `\u00e9\t\"\\\/`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if got := unescape(nil, []byte(s)); string(got) != want {
			t.Errorf("unescape(%q) = %q, want %q", s, got, want)
		}
	}
}
