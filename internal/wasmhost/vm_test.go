package wasmhost

import (
	"context"
	"strings"
	"testing"
)

// During _initialize only cpp-host's allow-list is callable; defining a
// metric in init() traps the VM, so the plugin cannot start.
func TestForbiddenHostCallDuringInitializeTraps(t *testing.T) {
	m := compileGuest(t, "initforbidden", Options{})
	_, err := m.Start(context.Background(), PluginConfig{Name: "x", RootID: "x", VMID: "x"})
	if err == nil || !strings.Contains(err.Error(), "env.proxy_define_metric is not allowed during _initialize") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "configuration canary") {
		t.Fatalf("the canary should be the first VM to fail: %v", err)
	}
}

func TestWorkersRunConcurrentlyWithOwnContexts(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.Workers = 3
	p := startConformance(t, Options{}, cfg)
	if p.Workers() != 3 {
		t.Fatalf("workers %d", p.Workers())
	}
	for i := 0; i < 6; i++ {
		if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != 200 {
			t.Fatalf("%d %q", res.code, res.body)
		}
	}
	// _initialize ran once per worker plus once for the canary.
	starts := 0
	for _, e := range p.Logs() {
		if strings.HasPrefix(e.Message, "cb on_vm_start") {
			starts++
		}
	}
	if starts != 4 {
		t.Fatalf("vm_start ran %d times, want 4 (canary + 3 workers)", starts)
	}
}

// During the guest allocator only proxy_log, fd_write, clock_time_get and
// poll_oneoff are allowed (cpp-host WasmBase::allocMemory).
func TestForbiddenHostCallDuringAllocationTraps(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "define-in-malloc")
	if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
		t.Fatalf("got %d", res.code)
	}
	traps := p.Traps()
	if len(traps) != 1 || !strings.Contains(traps[0], "env.proxy_define_metric is not allowed during proxy_on_memory_allocate") {
		t.Fatalf("traps %q", traps)
	}
}
