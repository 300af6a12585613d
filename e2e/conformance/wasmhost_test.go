package conformance

import (
	"context"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// kitMemoryCap is the VM's memory cap the kit runs wasmhost with: below
// Envoy's 1 GiB so the memory cases stay cheap, as Options.MemoryLimitBytes
// allows.
const kitMemoryCap = 512 << 20

// TestWasmhost runs the kit against wasmhost, with a reverse proxy to the
// kit's upstream in the place of Envoy's router.
func TestWasmhost(t *testing.T) {
	Run(t, Host{MemoryCap: kitMemoryCap, Start: func(t *testing.T, wasm, upstream string, clusters map[string]string) string {
		b, err := os.ReadFile(wasm)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		m, err := wasmhost.Compile(ctx, b, wasmhost.Options{MemoryLimitBytes: kitMemoryCap})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(ctx) })
		p, err := m.Start(ctx, wasmhost.PluginConfig{Name: "conformance", RootID: "conformance", VMID: "conformance",
			Configuration: []byte(Config), Clusters: clusters, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("traps: %q", p.Traps())
			}
			p.Close()
		})
		target, err := url.Parse(upstream)
		if err != nil {
			t.Fatal(err)
		}
		router := httputil.NewSingleHostReverseProxy(target)
		router.FlushInterval = -1 // as Envoy's router: each piece goes on as it arrives
		front := httptest.NewServer(p.Middleware(router))
		t.Cleanup(front.Close)
		return front.URL
	}})
}
