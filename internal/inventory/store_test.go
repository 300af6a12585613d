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
