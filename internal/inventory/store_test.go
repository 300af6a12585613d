package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/castable"
)

func observe(t testing.TB, c *Classifier, doc string) *Response {
	t.Helper()
	r := NewResponse(c)
	o := NewObserver(r)
	o.Write([]byte(doc))
	o.Close()
	return r
}

func newStore(t testing.TB, mem *castable.MemStore, entries int) *Store {
	t.Helper()
	s, err := NewStore(mem, StoreOptions{Namespace: "apiguard/test/inventory", MaxEntries: entries})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMergeReportsEachClassOnceAcrossWorkers(t *testing.T) {
	c := testClassifier(t)
	mem := &castable.MemStore{}
	w1, w2 := newStore(t, mem, 64), newStore(t, mem, 64)

	f, st, err := w1.Merge("users", observe(t, c, `{"id":1,"name":"a"}`))
	if err != nil || len(f) != 0 || st.NewPaths != 3 {
		t.Fatalf("plain fields: findings %v, stats %+v, err %v", f, st, err)
	}
	if !w1.ClaimExport() || w2.ClaimExport() || w1.ClaimExport() {
		t.Error("one change must be exported once, by one worker")
	}
	// The first card on the route: a finding that is the route's first class.
	f, _, _ = w2.Merge("users", observe(t, c, `{"id":1,"card":"4111111111111111"}`))
	if len(f) != 1 || f[0] != (Finding{Route: "users", Path: "card", Class: "card_number", FirstOnRoute: true}) {
		t.Fatalf("first card: %+v", f)
	}
	// The same on the other worker: nothing new.
	if f, _, _ = w1.Merge("users", observe(t, c, `{"card":"5555555555554444"}`)); len(f) != 0 {
		t.Fatalf("known card reported again: %+v", f)
	}
	// A new class on a route that has one: a finding, not a first.
	f, _, _ = w1.Merge("users", observe(t, c, `{"mail":"a@example.com"}`))
	if len(f) != 1 || f[0].FirstOnRoute || f[0].Class != "email" {
		t.Fatalf("second class: %+v", f)
	}
	// Another route starts from nothing.
	f, _, _ = w1.Merge("", observe(t, c, `{"mail":"a@example.com"}`))
	if len(f) != 1 || !f[0].FirstOnRoute || f[0].Route != OtherRoute {
		t.Fatalf("other route: %+v", f)
	}

	snap, err := w2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(snap)
	want := `{"routes":[{"route":"_other","fields":[{"path":"$","types":["object"]},{"path":"mail","types":["string"],"classes":["email"]}]},` +
		`{"route":"users","fields":[{"path":"$","types":["object"]},{"path":"card","types":["string"],"classes":["card_number"]},{"path":"id","types":["number"]},{"path":"mail","types":["string"],"classes":["email"]},{"path":"name","types":["string"]}]}]}`
	if string(got) != want {
		t.Errorf("snapshot\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(string(got), "4111") || strings.Contains(string(got), "a@example.com") {
		t.Error("a value reached the inventory")
	}
}

func TestStoreIsBounded(t *testing.T) {
	c := testClassifier(t)
	mem := &castable.MemStore{}
	s := newStore(t, mem, 32)
	full := 0
	for i := range 100 {
		var b strings.Builder
		b.WriteString("{")
		for j := range 20 {
			fmt.Fprintf(&b, `"f%c%c":%d,`, 'a'+i%26, 'a'+j, j)
		}
		fmt.Fprintf(&b, `"%s":1}`, strings.Repeat("k", 60)+fmt.Sprint(i))
		_, st, err := s.Merge(fmt.Sprint("route", i%300), observe(t, c, b.String()))
		if err != nil {
			t.Fatal(err)
		}
		full += st.Full
	}
	snap, _ := s.Snapshot()
	n := 0
	for _, r := range snap.Routes {
		n += len(r.Fields)
	}
	if n > 32 || full == 0 {
		t.Errorf("%d entries stored, %d refused; want at most 32 and refusals", n, full)
	}
	if mem.Bytes() > s.MaxBytes() {
		t.Errorf("shared data %d bytes, over the stated bound %d", mem.Bytes(), s.MaxBytes())
	}
}

func TestExportPartsAndReadBack(t *testing.T) {
	e := Export{Routes: []RouteExport{{Route: "users", Fields: []FieldExport{
		{Path: "id", Types: []string{"number"}}, {Path: "card", Types: []string{"string"}, Classes: []string{"card_number"}},
		{Path: strings.Repeat("p", 300), Types: []string{"string"}},
	}}}}
	parts, dropped := e.Parts(140)
	if len(parts) != 2 || dropped != 1 {
		t.Fatalf("parts %+v, dropped %d", parts, dropped)
	}
	var log strings.Builder
	log.WriteString("not an event\n")
	for _, p := range parts {
		b, _ := json.Marshal(map[string]any{"type": "inventory", "inventory": p})
		fmt.Fprintf(&log, "[info] apiguard audit: %s\n", b)
	}
	back, err := ReadExport(strings.NewReader(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Routes) != 1 || len(back.Routes[0].Fields) != 2 || back.Routes[0].Fields[0].Path != "card" {
		t.Errorf("read back %+v", back)
	}
	doc, _ := json.Marshal(back)
	again, err := ReadExport(strings.NewReader(string(doc)))
	if err != nil || len(again.Routes[0].Fields) != 2 {
		t.Errorf("document read back %+v, %v", again, err)
	}
}

// TestFullTableStillSignalsNewExposures: once the inventory's table is
// full, a route's first sensitive class still raises its finding (the
// security signal and its audit event), once for the fleet of workers,
// from the values found in the response, though its field cannot be
// stored; a class new on a route that has one is still reported.
func TestFullTableStillSignalsNewExposures(t *testing.T) {
	c := testClassifier(t)
	mem := &castable.MemStore{}
	w1, w2 := newStore(t, mem, 8), newStore(t, mem, 8)
	// Fill the table with plain fields.
	var b strings.Builder
	b.WriteString("{")
	for i := range 64 {
		fmt.Fprintf(&b, `"plain%c%c":1,`, 'a'+i/26, 'a'+i%26)
	}
	b.WriteString(`"z":1}`)
	if _, st, _ := w1.Merge("filler", observe(t, c, b.String())); st.Full == 0 {
		t.Fatalf("the table did not fill: %+v", st)
	}
	doc := `{"card_number_of_the_customer_on_file":"4111111111111111"}`
	f, st, err := w2.Merge("payments", observe(t, c, doc))
	if err != nil || st.Full == 0 {
		t.Fatalf("the field was stored (%+v, %v): the test needs a full table", st, err)
	}
	if len(f) != 1 || f[0] != (Finding{Route: "payments", Path: "card_number_of_the_customer_on_file", Class: "card_number", FirstOnRoute: true}) {
		t.Fatalf("first class on a route, table full: findings %+v", f)
	}
	// Once for the fleet: neither worker reports it again.
	for _, w := range []*Store{w1, w2} {
		if f, _, _ := w.Merge("payments", observe(t, c, doc)); len(f) != 0 {
			t.Errorf("reported again: %+v", f)
		}
	}
	// A new class on the route: reported, not as the first.
	f, _, _ = w1.Merge("payments", observe(t, c, `{"contact_address_of_the_customer":"a@example.com"}`))
	if len(f) != 1 || f[0].Class != "email" || f[0].FirstOnRoute {
		t.Errorf("second class, table full: %+v", f)
	}
	// A value in a field the response itself could not record (its path
	// over MaxPathBytes) still counts, with no path.
	var deep strings.Builder
	for i := range 10 {
		fmt.Fprintf(&deep, `{"%s_%d":`, strings.Repeat("level", 8), i)
	}
	deep.WriteString(`"078-05-1120"` + strings.Repeat("}", 10))
	r := observe(t, c, deep.String())
	f, _, _ = w2.Merge("people", r)
	if r.Dropped == 0 || len(f) != 1 || f[0] != (Finding{Route: "people", Class: "ssn", FirstOnRoute: true}) {
		t.Errorf("unrecorded field (dropped %d): %+v", r.Dropped, f)
	}
}
