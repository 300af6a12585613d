package inventory

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter"
)

func testClassifier(t testing.TB) *Classifier {
	c, err := NewClassifier(map[string]Policy{"card_number": Mask, "private_key": Deny},
		[]CustomClass{{Name: "employee_id", Value: `^E\d{6}$`}, {Name: "internal", Key: `(?i)^internal_`}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// describe renders the fields of a response: path types [classes].
func describe(r *Response) string {
	var lines []string
	for _, f := range r.Fields() {
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

const sampleDoc = `{"id": 42, "name": "Ada", "email": "ada@example.com",
 "cards": [{"number": "4111 1111 1111 1111", "exp": "12/30"}, {"number": 5555555555554444, "exp": null}],
 "by_id": {"550e8400-e29b-41d4-a716-446655440000": {"ssn": "123-45-6789"}, "12345": {"ssn": "078-05-1121"}},
 "a.b": true, "internal_flags": {"vip": false}, "emp": "E123456", "key": "-----BEGIN PRIVATE KEY-----\nMIIE",
 "esc": "\u0034111111111111111", "deep": [[[]]], "empty": {}}`

const sampleFields = `$ object 
id number 
name string 
email string email
cards array 
cards.# object 
cards.#.number string|number card_number
cards.#.exp string|null 
by_id object 
by_id.* object 
by_id.*.ssn string ssn
* boolean 
internal_flags object internal
internal_flags.vip boolean 
emp string employee_id
key string private_key
esc string card_number
deep array 
deep.# array 
deep.#.# array 
empty object `

func TestObserverRecordsPathsTypesAndClasses(t *testing.T) {
	c := testClassifier(t)
	// Whole, then byte by byte: chunk boundaries must not matter.
	for _, chunk := range []int{len(sampleDoc), 1, 3, 7} {
		r := NewResponse(c)
		o := NewObserver(r)
		for i := 0; i < len(sampleDoc); i += chunk {
			o.Write([]byte(sampleDoc[i:min(i+chunk, len(sampleDoc))]))
		}
		o.Close()
		if got := describe(r); got != sampleFields {
			t.Fatalf("chunk %d:\n%s\nwant:\n%s", chunk, got, sampleFields)
		}
		if r.Incomplete || r.Dropped != 0 {
			t.Errorf("chunk %d: incomplete %v, dropped %d", chunk, r.Incomplete, r.Dropped)
		}
		if r.Action != Deny || r.Values[c.Index("card_number")] != 3 || r.Values[c.Index("ssn")] != 2 {
			t.Errorf("chunk %d: action %v, values %v", chunk, r.Action, r.Values[:12])
		}
	}
}

func TestObserverGivesUpOnWhatIsNotJSON(t *testing.T) {
	c := testClassifier(t)
	for _, doc := range []string{`<html>`, `{"a":1,}`, `{"a" 1}`, `[1,2`, `{"a":tru`, `"unterminated`, `{"a":1}}`, strings.Repeat("[", 65) + strings.Repeat("]", 65)} {
		r := NewResponse(c)
		o := NewObserver(r)
		o.Write([]byte(doc))
		o.Close()
		if !r.Incomplete {
			t.Errorf("%q: not marked incomplete", doc)
		}
	}
	for _, doc := range []string{``, `  `, `1`, `"x"`, `null`, `[]`, ` {"a" : [ 1 , 2 ] } `} {
		r := NewResponse(c)
		o := NewObserver(r)
		o.Write([]byte(doc))
		o.Close()
		if r.Incomplete {
			t.Errorf("%q: marked incomplete", doc)
		}
	}
}

func TestObserverBounds(t *testing.T) {
	c := testClassifier(t)
	r := NewResponse(c)
	o := NewObserver(r)
	// Distinct field names past the per-response bound, a path past
	// MaxPathBytes, and a string far past the classified prefix.
	var b strings.Builder
	b.WriteString(`{`)
	for i := range MaxResponseFields + 10 {
		fmt.Fprintf(&b, `"field_%s%d":1,`, strings.Repeat("name_", i%5), i)
	}
	fmt.Fprintf(&b, `"%s":{"x":1},`, strings.Repeat("k", 60))
	fmt.Fprintf(&b, `"long":"%s"}`, strings.Repeat("a", 1<<20))
	o.Write([]byte(b.String()))
	o.Close()
	if len(r.Fields()) != MaxResponseFields || r.Dropped == 0 {
		t.Errorf("fields %d, dropped %d", len(r.Fields()), r.Dropped)
	}
	if cap(o.str) > 2*maxValueBytes {
		t.Errorf("held %d bytes of one string", cap(o.str))
	}
}

// TestLongValuesAreClassifiedInBoundedMemory: what both passes keep of a
// long string (longText) stays within a few maxValueBytes whatever the
// value holds (text, spaces, invisible characters, escapes, a JWT-like
// run) and however the Observer's chunks split it.
func TestLongValuesAreClassifiedInBoundedMemory(t *testing.T) {
	c := testClassifier(t)
	for _, unit := range []string{"ab c", " ", "\u200b", `\u200b`, "\u3000", `\u00e9 `, "A", "x\u2003\u2003"} {
		value := "eyJ" + strings.Repeat(unit, (1<<20)/len(unit)) + ".x y"
		doc := `{"v":"` + value + `"}`
		r := NewResponse(c)
		o := NewObserver(r)
		for i := 0; i < len(doc); i += 4093 {
			o.Write([]byte(doc[i:min(i+4093, len(doc))]))
		}
		o.Close()
		ri := NewResponse(c)
		list := respfilterAllowAll(t)
		list.AppendProcessInspected(nil, decideJSON(list), []byte(doc), nil, ri)
		for _, l := range []*longText{&o.text, &ri.text} {
			if held := cap(l.head) + cap(l.tail) + cap(l.pad); held > 8*maxValueBytes {
				t.Errorf("%q: longText holds %d bytes", unit, held)
			}
		}
		if cap(o.str) > 2*maxValueBytes || cap(o.unesc) > 2*maxValueBytes || cap(ri.unesc) > 2*maxValueBytes {
			t.Errorf("%q: held %d, %d, %d bytes of one string", unit, cap(o.str), cap(o.unesc), cap(ri.unesc))
		}
	}
}

func TestKeptCollapsesAndEnforces(t *testing.T) {
	c := testClassifier(t)
	r := NewResponse(c)
	kept := func(parent, key string, kind byte, content string) respfilter.Verdict {
		return r.Kept(&respfilter.KeptValue{Site: -1, Parent: []byte(parent), Key: key, Kind: kind, Content: []byte(content), Escaped: strings.Contains(content, `\`)})
	}
	if v := kept(`users.alice@example\.com`, "card", '"', "4111111111111111"); v != respfilter.InspectMask {
		t.Errorf("card: %v", v)
	}
	if v := kept(`users.#`, "key", '"', `-----BEGIN RSA PRIVATE KEY-----\nMII`); v != respfilter.InspectDeny {
		t.Errorf("key: %v", v)
	}
	if v := kept(`users.#`, "n", '1', "12"); v != respfilter.InspectKeep {
		t.Errorf("n: %v", v)
	}
	paths := []string{}
	for _, f := range r.Fields() {
		paths = append(paths, f.Path)
	}
	if want := []string{"users.*.card", "users.#.key", "users.#.n"}; !slices.Equal(paths, want) {
		t.Errorf("paths %q, want %q", paths, want)
	}
}

// TestResponseStaysBoundedUnderDataKeys feeds the Inspector a response
// whose paths are all different (deep maps keyed by ids, as an upstream
// could send): the caches a Response keeps across responses stay within
// their bounds.
func TestResponseStaysBoundedUnderDataKeys(t *testing.T) {
	r := NewResponse(testClassifier(t))
	for n := range 50 {
		r.Reset()
		for i := range 200 {
			parent := strings.Repeat(fmt.Sprintf("u%08d.", n*1000+i), 1+i%80)
			r.Kept(&respfilter.KeptValue{Site: -1, Parent: []byte(strings.TrimSuffix(parent, ".")), Key: fmt.Sprint("k", i%300), Kind: '1', Content: []byte("1")})
		}
	}
	held := r.internBytes + r.collapsedBytes + r.segmentBytes
	raw := 0
	for k := range r.byRaw {
		raw += len(k)
	}
	if held > 3*maxInternedBytes+3*maxRawBytes || raw > MaxResponseFields*maxRawBytes || len(r.Fields()) > MaxResponseFields {
		t.Errorf("caches hold %d bytes, byRaw %d bytes, %d fields", held, raw, len(r.Fields()))
	}
}

// FuzzObserver checks that the Observer never fails on any body, stays
// within its bounds, and records the same fields whatever the chunking.
func FuzzObserver(f *testing.F) {
	f.Add([]byte(sampleDoc), uint8(7))
	f.Add([]byte(`[{"a":"\u0041"},{"b":[1,2,{"c":null}]}]`), uint8(1))
	f.Add([]byte(`{"a":1,}`), uint8(3))
	f.Add([]byte(`{"c":"`+strings.Repeat(`\udb40\udc20`, 90)+`4111\ud834\udd73111111111111"}`), uint8(5))
	c := testClassifier(f)
	f.Fuzz(func(t *testing.T, doc []byte, chunk uint8) {
		whole := NewResponse(c)
		o := NewObserver(whole)
		o.Write(doc)
		o.Close()
		parts := NewResponse(c)
		o = NewObserver(parts)
		n := max(int(chunk), 1)
		for i := 0; i < len(doc); i += n {
			o.Write(doc[i:min(i+n, len(doc))])
		}
		o.Close()
		if describe(whole) != describe(parts) || whole.Incomplete != parts.Incomplete {
			t.Fatalf("chunks of %d change the fields:\n%s\nvs\n%s", n, describe(whole), describe(parts))
		}
		if len(whole.Fields()) > MaxResponseFields || cap(o.str) > 2*maxValueBytes {
			t.Fatalf("over its bounds: %d fields, %d string bytes", len(whole.Fields()), cap(o.str))
		}
	})
}

func TestWholeUnitsDropsWhatTheCutSplit(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`ab`, `ab`}, {`a\u200`, `a`}, {`a\u200b`, `a\u200b`}, {`a\`, `a`}, {`a\\`, `a\\`}, {`a\\\`, `a\\`},
		{`a\udb40\udc2`, `a`}, {`a\udb40\`, `a`}, {`a\udb40`, `a`}, {`a\udb40\udc20`, `a\udb40\udc20`},
		{"a\u200b"[:3], "a"}, {"a\U000E0020"[:4], "a"}, {"a\u00e9", "a\u00e9"}, {`\uzzzz` + "xxxxxxxxxxx\xe2", `\uzzzzxxxxxxxxxxx`},
	} {
		if got := string(wholeUnits([]byte(c.in))); got != c.want {
			t.Errorf("wholeUnits(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
