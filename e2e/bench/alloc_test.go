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
// allocations the host asked for.
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
	const requests = 500
	guest0, host0 := counts()
	for range requests {
		serveOnce(t, h, w, req)
	}
	guest1, host1 := counts()
	guest, host := guest1-guest0, host1-host0
	t.Logf("%d pass-through requests: %d guest allocations, %d of them asked for by the host (%.2f per request)",
		requests, guest, host, float64(host)/requests)
	if own := int64(guest) - int64(host); own != 0 {
		t.Errorf("the guest allocated %d times of its own in %d pass-through requests (%.2f per request), want 0",
			own, requests, float64(own)/requests)
	}
}
