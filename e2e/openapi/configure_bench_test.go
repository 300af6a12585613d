package openapie2e

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// BenchmarkGitHubConfigure is what GitHub's whole-API configuration costs
// at plugin start (issue 14: a large generated configuration must stay
// usable with one VM per Envoy worker).
//
// "native" runs what the plugin's configure spends its time in, natively:
// settings.Parse (strict decoding, every section's validation) and
// respfilter.New (the compiled filter). ns/op and B/op are one configure;
// heap-MiB is the heap the parsed settings and the compiled filter keep
// once the garbage is collected, which the plugin holds for its life.
//
// "wasm" starts the compiled plugin with one worker VM, as Envoy does
// (the configuration canary first); start-s is the wall time of the
// start and vm-MiB the worker VM's linear memory after it. A Wasm VM's
// memory never shrinks, so vm-MiB is the peak of configure, kept
// forever, per worker. Run it with -benchtime 1x: one start is tens of
// seconds on a loaded machine.
func BenchmarkGitHubConfigure(b *testing.B) {
	loadGitHub(b)
	cfg := gitHub.res.Config
	b.Logf("configuration: %d bytes, %d response_filter rules", len(cfg), gitHub.res.ResponseRules)
	configure := func(b *testing.B) (*settings.Settings, *respfilter.Filter) {
		s, err := settings.Parse(cfg)
		if err != nil {
			b.Fatal(err)
		}
		f, err := respfilter.New(*s.ResponseFilter)
		if err != nil {
			b.Fatal(err)
		}
		return s, f
	}
	b.Run("native", func(b *testing.B) {
		heap := func() uint64 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			return m.HeapAlloc
		}
		before := heap()
		s, f := configure(b)
		kept := heap() - before
		runtime.KeepAlive(s)
		runtime.KeepAlive(f)
		b.ReportAllocs()
		for b.Loop() {
			configure(b)
		}
		b.ReportMetric(float64(kept)/(1<<20), "heap-MiB")
	})
	b.Run("wasm", func(b *testing.B) {
		var took time.Duration
		var mem uint64
		for b.Loop() {
			began := time.Now()
			p, err := module.Start(context.Background(), wasmhost.PluginConfig{
				Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
				Configuration: cfg, Workers: 1, AllowOnHeadersStopIteration: true,
			})
			if err != nil {
				b.Fatalf("start: %v", err)
			}
			took += time.Since(began)
			mem = p.MemorySizes()[0]
			p.Close()
		}
		b.ReportMetric(took.Seconds()/float64(b.N), "start-s")
		b.ReportMetric(float64(mem)/(1<<20), "vm-MiB")
	})
}
