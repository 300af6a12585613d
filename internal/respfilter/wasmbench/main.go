// Command wasmbench measures the response filter's throughput on the same
// generated documents as the native benchmarks (package benchdoc), so the
// figures compare across engines. Build it for WASI and run it under wazero
// and under Node's WASI, i.e. V8, the engine Envoy embeds:
//
//	GOOS=wasip1 GOARCH=wasm go build -o build/respfilter-bench.wasm ./internal/respfilter/wasmbench
//	go run github.com/tetratelabs/wazero/cmd/wazero run build/respfilter-bench.wasm -time 2s
//	node --no-warnings internal/respfilter/wasmbench/run-wasi.mjs build/respfilter-bench.wasm -time 2s
//
// Run natively (go run ./internal/respfilter/wasmbench) for the denominator of
// the wasm/native ratio. Each output line is a case, a size, MB/s of decoded
// JSON and the iteration count, then MB/s per CPU second where the host has a
// process CPU clock (natively and in Node; not in wazero). Cases: filter (Process on an identity body),
// filter+gzip (decompress, filter, recompress), gjson-valid and gjson-scan
// (the gjson floor: validation, and one ForEach pass), naive (encoding/json
// into any, filter, marshal). -run selects cases by substring; -iters fixes
// the iteration count for CPU-time measurements taken from outside, e.g.
// with perf stat.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/apiguard/apiguard/internal/route"
)

func main() {
	perCase := flag.Duration("time", time.Second, "minimum measuring time per case")
	naive := flag.Bool("naive", true, "also measure the encoding/json baseline")
	only := flag.String("run", "", "measure only the cases whose \"name size\" contains this text")
	iters := flag.Int("iters", 0, "run exactly this many iterations per case instead of -time (for CPU-time measurements from outside)")
	flag.Parse()
	runOnly, fixedIters = *only, *iters
	if err := run(*perCase, *naive); err != nil {
		fmt.Fprintln(os.Stderr, "wasmbench:", err)
		os.Exit(1)
	}
}

func run(perCase time.Duration, withNaive bool) error {
	f, err := respfilter.New(respfilter.Config{
		Rules:        []respfilter.Rule{{Allow: respfilter.Paths(benchdoc.Allow...)}},
		MaxBodyBytes: 4 << 20,
	})
	if err != nil {
		return err
	}
	p := f.Match(&route.Request{Method: "GET", Path: "/", Header: func(string) (string, bool) { return "", false }})
	if p == nil {
		return fmt.Errorf("no policy for /")
	}
	fmt.Printf("# %s/%s %s\n", runtime.GOOS, runtime.GOARCH, runtime.Version())
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}} {
		doc := benchdoc.Generate(size.n)
		identity := p.DecideHeaders(respfilter.ResponseMeta{Status: 200, ContentType: "application/json"})
		var out []byte
		if err := measure("filter", size.name, len(doc), perCase, func() error {
			var o respfilter.Outcome
			out, o = p.AppendProcess(out[:0], identity, doc, nil)
			if o.Action != respfilter.ActionReplace {
				return fmt.Errorf("filter: %v %s", o.Action, o.Reason)
			}
			return nil
		}); err != nil {
			return err
		}
		// Only a selected case pays for its input (gzip is slow in Wasm).
		if selected("filter+gzip", size.name) {
			if err := measureGzip(p, size.name, doc, perCase); err != nil {
				return err
			}
		}
		if err := floor(size.name, doc, perCase); err != nil {
			return err
		}
		if withNaive {
			if err := measure("naive", size.name, len(doc), perCase, func() error {
				_, err := naiveFilter(doc, benchdoc.Allow)
				return err
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// runOnly selects cases by substring; "" runs every case. fixedIters, when
// positive, replaces the time budget with an iteration count.
var (
	runOnly    string
	fixedIters int
)

// measure runs fn until perCase has passed (at least 3 times) and prints
// the throughput over n bytes per call.
func measure(name, size string, n int, perCase time.Duration, fn func() error) error {
	if !selected(name, size) {
		return nil
	}
	if err := fn(); err != nil { // warm-up, and fail fast
		return err
	}
	iters := 0
	cpu0, haveCPU := cpuNow()
	start := time.Now()
	more := func() bool {
		if fixedIters > 0 {
			return iters < fixedIters
		}
		return iters < 3 || time.Since(start) < perCase
	}
	for more() {
		if err := fn(); err != nil {
			return err
		}
		iters++
	}
	elapsed := time.Since(start)
	mbps := float64(n) * float64(iters) / elapsed.Seconds() / 1e6
	fmt.Printf("%-12s %-7s %8.1f MB/s  %6d iterations", name, size, mbps, iters)
	// Per CPU second too, which a busy machine moves much less.
	if cpu1, ok := cpuNow(); ok && haveCPU && cpu1 > cpu0 {
		fmt.Printf("  %8.1f cpu-MB/s", float64(n)*float64(iters)/(float64(cpu1-cpu0)/1e9)/1e6)
	}
	fmt.Println()
	return nil
}

func gzipped(doc []byte) ([]byte, error) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(doc); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// naiveFilter is the baseline: encoding/json into any, keep the allowed
// paths (plain dotted paths with "#" and "*", no escapes), marshal.
func naiveFilter(doc []byte, allow []string) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	paths := make([][]string, len(allow))
	for i, a := range allow {
		paths[i] = strings.Split(a, ".")
	}
	return json.Marshal(keep(v, paths))
}

func keep(v any, paths [][]string) any {
	for _, p := range paths {
		if len(p) == 0 {
			return v
		}
	}
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			sub := descend(paths, k, false)
			if len(sub) == 0 {
				delete(t, k)
				continue
			}
			t[k] = keep(c, sub)
		}
		return t
	case []any:
		sub := descend(paths, "", true)
		out := t[:0]
		if len(sub) > 0 {
			for _, c := range t {
				out = append(out, keep(c, sub))
			}
		}
		return out
	}
	return nil
}

func descend(paths [][]string, key string, elem bool) [][]string {
	var out [][]string
	for _, p := range paths {
		if (elem && p[0] == "#") || (!elem && (p[0] == "*" || p[0] == key)) {
			out = append(out, p[1:])
		}
	}
	return out
}

// measureGzip measures the filter on doc gzipped: decompress, filter,
// recompress.
func measureGzip(p *respfilter.Policy, size string, doc []byte, perCase time.Duration) error {
	var out []byte
	gz, err := gzipped(doc)
	if err != nil {
		return err
	}
	d := p.DecideHeaders(respfilter.ResponseMeta{Status: 200, ContentType: "application/json", ContentEncoding: "gzip"})
	return measure("filter+gzip", size, len(doc), perCase, func() error {
		var o respfilter.Outcome
		out, o = p.AppendProcess(out[:0], d, gz, nil)
		if o.Action != respfilter.ActionReplace {
			return fmt.Errorf("filter+gzip: %v %s", o.Action, o.Reason)
		}
		return nil
	})
}

// selected reports whether -run selects the case.
func selected(name, size string) bool { return strings.Contains(name+" "+size, runOnly) }
