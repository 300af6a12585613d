package bench

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// TestPassThroughAllocations asserts that a pass-through request (config
// `{}`, GET) allocates nothing in the guest beyond what the Proxy-Wasm ABI
// makes it allocate: the host hands every value over in a buffer it asks the
// guest's allocator for (here, the one block of request headers). It runs
// the plugin built with apiguard_testexport, which exports the Go runtime's
// allocation count (plugin/testexport.go), and compares it with the
// allocations the host asked for, batch by batch.
func TestPassThroughAllocations(t *testing.T) {
	wasm, err := os.ReadFile(wasmbuild.ForTestTagged(t, "./plugin", "apiguard_testexport"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := wasmhost.Compile(context.Background(), wasm, wasmhost.Options{LogLevel: logLevel})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	p, err := m.Start(context.Background(), wasmhost.PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(`{}`), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := p.Middleware(upstream)
	w := &discardWriter{h: http.Header{}}
	req := passThroughRequest()
	counts := func() (guest, host uint64) {
		out, err := p.CallExport(0, "apiguard_test_mallocs")
		if err != nil {
			t.Fatal(err)
		}
		return out[0], p.GuestAllocations()[0]
	}
	// Warm up: the stream pool, the SDK's context maps and the runtime's
	// first collection reach their steady state.
	for range 200 {
		serveOnce(t, h, w, req)
	}
	// Batches of requests, each counted alone: the plugin's 200 ms tick
	// (runtime sampling, exports) allocates too, and lands in some batches.
	// A request that allocates shows in every one, so the least is what a
	// request costs.
	const batches, batch = 25, 20
	least := int64(-1)
	var guest, host uint64
	for range batches {
		guest0, host0 := counts()
		for range batch {
			serveOnce(t, h, w, req)
		}
		guest1, host1 := counts()
		guest, host = guest+guest1-guest0, host+host1-host0
		if own := int64(guest1-guest0) - int64(host1-host0); least < 0 || own < least {
			least = own
		}
	}
	t.Logf("%d pass-through requests: %d guest allocations, %d of them asked for by the host (%.2f per request); "+
		"fewest of the guest's own in a batch of %d: %d", batches*batch, guest, host, float64(host)/(batches*batch), batch, least)
	if least != 0 {
		t.Errorf("every batch of %d pass-through requests allocated in the guest beyond the host's asks, at least %d times, want 0",
			batch, least)
	}
}
