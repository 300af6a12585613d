//go:build soak

package envoycompat

import (
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// TestSoakOldestEnvoy sends SOAK_REQUESTS (default 200,000) requests of the
// README's demo mix through 4 workers under the oldest profile (Envoy 1.33,
// streamed mode), 8 at a time, with the demo config as shipped (no forced
// GC: the runtime collects on its own, under load). Run it with `make soak`.
func TestSoakOldestEnvoy(t *testing.T) {
	total := 200000
	if v := os.Getenv("SOAK_REQUESTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("SOAK_REQUESTS=%q", v)
		}
		total = n
	}
	envoy := wasmhost.Envoy133
	wasm := readWasm(t, wasmbuild.ForTest(t, "./plugin"))
	m, err := wasmhost.Compile(t.Context(), wasm, wasmhost.Options{Envoy: &envoy, CompilationCache: cache, LogLevel: wasmhost.LogWarn})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(t.Context())
	cfg := demoConfig(t, envoy)
	p, err := m.Start(t.Context(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard", Configuration: cfg, Workers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := p.Middleware(demoapi.New().Handler())
	tokens := make([]string, 64)
	for i := range tokens {
		tokens[i] = userTokenFor(t, fmt.Sprintf("soak-user-%d", i))
	}
	paths := []string{"/healthz", "/users/1", "/users/2", "/admin/stats", "/users/1"}
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[int]int{}
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					break
				}
				req := httptest.NewRequest("GET", paths[i%len(paths)], nil)
				if i%len(paths) != 4 { // every fifth request has no token
					req.Header.Set("authorization", "Bearer "+tokens[i%len(tokens)])
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				local[rec.Code]++
			}
			mu.Lock()
			for k, v := range local {
				codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("%d requests through 4 workers under %s (%s) in %v: %.0f req/s; status counts %v; poll_oneoff %v",
		total, envoy.Releases, envoy.CppHost, elapsed.Round(time.Second), float64(total)/elapsed.Seconds(), codes, p.PollOneoffCalls())
	if traps := p.Traps(); len(traps) > 0 {
		t.Fatalf("%d traps, first: %s", len(traps), traps[0])
	}
	if n := p.FailedWorkers(); n > 0 {
		t.Fatalf("%d failed workers", n)
	}
	for code, n := range codes {
		if code >= 500 {
			t.Errorf("%d answers %d", n, code)
		}
	}
}
