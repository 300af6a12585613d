package wasmhost

import (
	"strconv"
	"sync"
	"testing"
)

// Mirrors cpp-host shared_data.cc semantics.
func TestSharedDataCAS(t *testing.T) {
	d := newSharedDataStore().forVM("vm")
	if _, _, ok := d.Get("k"); ok {
		t.Fatal("missing key found")
	}
	if !d.Set("k", []byte("a"), 12345) {
		t.Fatal("setting a missing key with any cas must succeed")
	}
	_, cas1, _ := d.Get("k")
	if cas1 != 1 {
		t.Fatalf("first cas %d, want 1 (one global counter from 1)", cas1)
	}
	if d.Set("k", []byte("b"), cas1+7) {
		t.Fatal("a stale cas must fail")
	}
	if !d.Set("k", []byte("b"), cas1) {
		t.Fatal("the current cas must succeed")
	}
	if !d.Set("k", []byte("c"), 0) {
		t.Fatal("cas 0 sets unconditionally")
	}
	v, cas3, _ := d.Get("k")
	if string(v) != "c" || cas3 != 3 {
		t.Fatalf("got %q cas %d", v, cas3)
	}
	other := d.store.forVM("other")
	if _, _, ok := other.Get("k"); ok {
		t.Fatal("vm_ids must not share keys")
	}
}

// Hammer: 8 worker VMs increment one key concurrently with CAS; no update
// may be lost. Run with -race.
func TestSharedDataHammer(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.Workers = 8
	p := startConformance(t, Options{}, cfg)
	// Seed the key: in cpp-host a set on a missing key succeeds whatever
	// the cas, so two first writers can both "create" it. Creation is not
	// atomic in Envoy either; only updates of an existing key are.
	p.SharedData().Set("hits", []byte("0"), 0)
	const goroutines, perG = 16, 25
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "cas:hits"); res.code != 200 {
					t.Errorf("got %d", res.code)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, _, ok := p.SharedData().Get("hits")
	if !ok {
		t.Fatal("key missing")
	}
	if n, _ := strconv.Atoi(string(v)); n != goroutines*perG {
		t.Fatalf("counter %d, want %d: lost updates; errors %q", n, goroutines*perG, p.LogsAt(LogError))
	}
}

// Two module versions with the same vm_id share keys when they share the
// process state, as in an Envoy rollout.
func TestSharedStateAcrossModules(t *testing.T) {
	state := NewSharedState()
	a := startConformance(t, Options{SharedState: state}, conformanceConfig("plain"))
	b := startConformance(t, Options{SharedState: state}, conformanceConfig("plain"))
	do(t, a, echoUpstream, "GET", "/", "", "x-do", "cas:shared")
	do(t, b, echoUpstream, "GET", "/", "", "x-do", "cas:shared")
	if v, _, _ := state.SharedData("conformance").Get("shared"); string(v) != "2" {
		t.Fatalf("got %q", v)
	}
}
