package wasmhost

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// realPlugin loads build/apiguard.wasm (made by `make build`), or skips.
func realPlugin(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "build", "apiguard.wasm"))
	if err != nil {
		tb.Skipf("build/apiguard.wasm is absent (run `make build`): %v", err)
	}
	return b
}

// The compiled plugin loads under the strict host: every import is one
// Envoy provides, exactly one ABI version is exported, and _initialize,
// vm_start and configure (canary and worker) succeed with an empty
// configuration or fail with a message.
func TestRealPluginLoads(t *testing.T) {
	wasm := realPlugin(t)
	m, err := Compile(context.Background(), wasm, Options{CompilationCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	p, err := m.Start(context.Background(), PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(`{}`)})
	if err != nil {
		t.Skipf("the plugin refused an empty configuration (its own validation): %v", err)
	}
	defer p.Close()
	res := do(t, p, echoUpstream, "GET", "/", "")
	if res.code == 503 && res.header.Get(DetailsHeader) == "wasm_fail_stream" {
		t.Fatalf("the plugin trapped: %q", p.Traps())
	}
}
