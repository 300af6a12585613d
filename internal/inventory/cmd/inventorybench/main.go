// Command inventorybench prints the cost ratios of issue 14's Performance
// section (package perf), natively or compiled for WASI, so they can be
// compared across engines:
//
//	go run ./internal/inventory/cmd/inventorybench
//	GOOS=wasip1 GOARCH=wasm go build -o build/inventory-bench.wasm ./internal/inventory/cmd/inventorybench
//	go run github.com/tetratelabs/wazero/cmd/wazero run build/inventory-bench.wasm
//	node --no-warnings internal/respfilter/wasmbench/run-wasi.mjs build/inventory-bench.wasm
//
// Each line is a measurement, a body size and the median ratio to the
// filter's time ("x-filter"). BenchmarkEngines runs it natively, under
// wazero and under V8 in interleaved rounds and reports the medians.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/apiguard/apiguard/internal/inventory/perf"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
)

func main() {
	iters := flag.Int("iters", 200, "iterations per measurement")
	flag.Parse()
	b, err := perf.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventorybench:", err)
		os.Exit(1)
	}
	fmt.Printf("# %s/%s %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
	for _, m := range measurements {
		for _, s := range perf.Sizes {
			r, err := m.fn(b, benchdoc.Generate(s.N), *iters)
			if err != nil {
				fmt.Fprintln(os.Stderr, "inventorybench:", err)
				os.Exit(1)
			}
			fmt.Printf("%-12s %-7s %6.3f x-filter\n", m.name, s.Name, r)
		}
	}
}

// measurements are the ratios of the Performance section, by name.
var measurements = []struct {
	name string
	fn   func(*perf.Bench, []byte, int) (float64, error)
}{{"detection", (*perf.Bench).Detection}, {"observation", (*perf.Bench).Observation}}
