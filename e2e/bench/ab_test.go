package bench

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// An A/B comparison of two builds of the plugin on the same request
// lifecycles: "how much faster than that commit", which a ratio to native
// cannot say once native changes too. The old build and its era's demo
// configuration (config keys were renamed since) come from the environment:
//
//	git worktree add --detach /tmp/old 15b4f16
//	(cd /tmp/old && go run ./internal/sdkabi/cmd/wasmbuild -o build/apiguard.wasm ./plugin)
//	APIGUARD_BENCH_OLD_WASM=/tmp/old/build/apiguard.wasm \
//	APIGUARD_BENCH_OLD_CONFIG=/tmp/old/envoy/demo-config.json \
//	  go test -run '^$' -bench 'AB$' -benchtime 60x ./e2e/bench
//
// The new side is this tree's plugin and demo configuration, or
// APIGUARD_BENCH_NEW_WASM and APIGUARD_BENCH_NEW_CONFIG. Both
// configurations go through perfscenario.DemoConfig (rate limits out of
// reach, no response inventory). The benchmarks skip when
// APIGUARD_BENCH_OLD_WASM is unset.

// abSide is one build and its demo configuration.
type abSide struct {
	wasm   string // path of the module
	config []byte // the demo configuration, through perfscenario.DemoConfig
}

// abSides reads the two sides from the environment, or skips.
func abSides(tb testing.TB) (old, cur abSide) {
	tb.Helper()
	oldWasm := os.Getenv("APIGUARD_BENCH_OLD_WASM")
	if oldWasm == "" {
		tb.Skip("APIGUARD_BENCH_OLD_WASM is not set: no old build to compare with")
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	side := func(wasmEnv, configEnv, defaultConfig string) abSide {
		var s abSide
		if s.wasm = os.Getenv(wasmEnv); s.wasm == "" {
			s.wasm = wasmbuild.ForTest(tb, "./plugin")
		}
		path := os.Getenv(configEnv)
		if path == "" {
			if defaultConfig == "" {
				tb.Fatalf("%s is set, %s is not: the old build needs its own era's demo configuration", wasmEnv, configEnv)
			}
			path = defaultConfig
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		if s.config, err = perfscenario.DemoConfig(raw); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		return s
	}
	old = side("APIGUARD_BENCH_OLD_WASM", "APIGUARD_BENCH_OLD_CONFIG", "")
	cur = side("APIGUARD_BENCH_NEW_WASM", "APIGUARD_BENCH_NEW_CONFIG", filepath.Join(root, perfscenario.DemoConfigPath))
	return old, cur
}

// abLifecycles are the lifecycles compared, as BenchmarkLifecycle runs them.
var abLifecycles = []string{"pass", "demo", "chain10k"}

// BenchmarkAB runs the pass-through ({}), demo and 10 KiB chain lifecycles
// of the old and the new build in one wazero host process. Each iteration
// is a round: one block of every lifecycle of both builds, in an order that
// rotates, each block timed in process CPU time and sized to about 5 ms.
// It reports, per lifecycle, the median over rounds of old / new (x-old-
// NAME: above 1 means the new build is faster) and each side's mean CPU ns
// per request. Run at least 20 rounds (-benchtime 20x).
func BenchmarkAB(b *testing.B) {
	old, cur := abSides(b)
	_, token := demoInputs(b)
	type lifecycle struct {
		name, side string
		h          http.Handler
		req        *http.Request
		block      int
		total      time.Duration
		requests   int
		perRound   []float64 // ns per request in each round
	}
	var lcs []*lifecycle
	for _, s := range []struct {
		name string
		abSide
	}{{"old", old}, {"new", cur}} {
		wasm, err := os.ReadFile(s.wasm)
		if err != nil {
			b.Fatal(err)
		}
		m, err := wasmhost.Compile(context.Background(), wasm, wasmhost.Options{LogLevel: logLevel})
		if err != nil {
			b.Fatalf("%s: %v", s.wasm, err)
		}
		b.Cleanup(func() { m.Close(context.Background()) })
		start := func(config []byte) *wasmhost.Plugin {
			p, err := m.Start(context.Background(), wasmhost.PluginConfig{Name: "apiguard", RootID: "apiguard",
				VMID: "apiguard", Configuration: config, Workers: 1, AllowOnHeadersStopIteration: true})
			if err != nil {
				b.Fatalf("%s: %v", s.wasm, err)
			}
			b.Cleanup(func() { p.Close() })
			return p
		}
		pass, demo := start([]byte(`{}`)), start(s.config)
		lcs = append(lcs,
			&lifecycle{name: "pass", side: s.name, h: pass.Middleware(upstream), req: passThroughRequest()},
			&lifecycle{name: "demo", side: s.name, req: demoRequest(token),
				h: demo.Middleware(jsonUpstream(perfscenario.Record(perfscenario.SmallRecord)))},
			&lifecycle{name: "chain10k", side: s.name, req: demoRequest(token),
				h: demo.Middleware(jsonUpstream(perfscenario.Record(perfscenario.LargeRecord)))})
	}
	w := &discardWriter{h: http.Header{}}
	for _, lc := range lcs {
		// Warm (the token verified once), then size the block to ~5 ms.
		for range 20 {
			serveOnce(b, lc.h, w, lc.req)
		}
		t0 := cpuTime()
		for range 20 {
			serveOnce(b, lc.h, w, lc.req)
		}
		per := (cpuTime() - t0) / 20
		lc.block = 10
		if per > 0 {
			lc.block = max(lc.block, int(5*time.Millisecond/per))
		}
	}
	rounds := 0
	for b.Loop() {
		for i := range lcs {
			lc := lcs[(i+rounds)%len(lcs)]
			t0 := cpuTime()
			for range lc.block {
				serveOnce(b, lc.h, w, lc.req)
			}
			d := cpuTime() - t0
			lc.total += d
			lc.requests += lc.block
			lc.perRound = append(lc.perRound, float64(d.Nanoseconds())/float64(lc.block))
		}
		rounds++
	}
	find := func(name, side string) *lifecycle {
		for _, lc := range lcs {
			if lc.name == name && lc.side == side {
				return lc
			}
		}
		return nil
	}
	for _, name := range abLifecycles {
		o, n := find(name, "old"), find(name, "new")
		ratios := make([]float64, rounds)
		for r := range rounds {
			ratios[r] = o.perRound[r] / n.perRound[r]
		}
		b.ReportMetric(median(ratios), "x-old-"+name)
		b.ReportMetric(float64(o.total.Nanoseconds())/float64(o.requests), "old-"+name+"-ns")
		b.ReportMetric(float64(n.total.Nanoseconds())/float64(n.requests), "new-"+name+"-ns")
	}
	b.ReportMetric(0, "ns/op") // each lifecycle has its own figure
}

// BenchmarkV8AB is BenchmarkAB under V8 (e2e/v8/host.mjs in Node, Liftoff
// off): each iteration is a round running every lifecycle's node process
// for both builds, old and new in alternating order, and x-old-NAME is the
// median over rounds of old / new CPU time per request.
func BenchmarkV8AB(b *testing.B) {
	old, cur := abSides(b)
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not on PATH (.ci/run installs it)")
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	host := filepath.Join(root, "e2e", "v8", "host.mjs")
	dir := b.TempDir()
	_, token := demoInputs(b)
	iters := map[string]int{"pass": 50000, "demo": 5000, "chain10k": 2000}
	scenario := func(s abSide, name string) v8Scenario {
		sc := v8Scenario{Wasm: s.wasm, PluginName: "apiguard", RootID: "apiguard", VMID: "apiguard",
			LogLevel: 2, BenchIterations: iters[name]}
		switch name {
		case "pass":
			sc.PluginConfig, sc.Requests = "{}", []v8Request{v8PassRequest()}
		case "demo":
			sc.PluginConfig, sc.Requests = string(s.config), []v8Request{v8DemoRequest(token, perfscenario.SmallRecord)}
		default:
			sc.PluginConfig, sc.Requests = string(s.config), []v8Request{v8DemoRequest(token, perfscenario.LargeRecord)}
		}
		return sc
	}
	ratios := map[string][]float64{}
	sum := map[string]float64{}
	rounds := 0
	for b.Loop() {
		for _, name := range abLifecycles {
			var o, n float64
			if rounds%2 == 0 {
				o = runV8(b, node, host, dir, scenario(old, name))
				n = runV8(b, node, host, dir, scenario(cur, name))
			} else {
				n = runV8(b, node, host, dir, scenario(cur, name))
				o = runV8(b, node, host, dir, scenario(old, name))
			}
			ratios[name] = append(ratios[name], o/n)
			sum["old-"+name] += o
			sum["new-"+name] += n
		}
		rounds++
	}
	for _, name := range abLifecycles {
		b.ReportMetric(median(ratios[name]), "x-old-"+name)
		b.ReportMetric(sum["old-"+name]/float64(rounds), "old-"+name+"-ns")
		b.ReportMetric(sum["new-"+name]/float64(rounds), "new-"+name+"-ns")
	}
	b.ReportMetric(0, "ns/op")
}

// median returns the middle of xs (the mean of the two middle ones for an
// even count); it sorts xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
