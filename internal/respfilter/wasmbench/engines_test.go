//go:build unix

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
)

// engineIters is the filter iterations per measurement on the 100 KiB
// document, under wazero and for the naive baseline.
const engineIters = 40

// BenchmarkFilterEngines is the filter row of issue 12's table: the filter
// on the 100 KiB document compiled for wasip1 and run under wazero and under
// V8 (Node), against the naive encoding/json round trip run natively, all in
// process CPU time, one measurement of each per iteration so they share the
// machine's load. (wazero has no WASI CPU clock: its runs are timed from
// here, as the difference between 41 and 1 iterations; Node's are timed by
// the program.) It reports x-naive-wazero and x-naive-v8: how many times the naive
// native baseline's CPU time per document the compiled filter's is
// (higher is better; 1 is parity).
func BenchmarkFilterEngines(b *testing.B) {
	ctx := context.Background()
	cmd, err := perfscenario.BuildWASICommand(ctx, "./internal/respfilter/wasmbench", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rt, mod, root, wasmPath := cmd.Runtime, cmd.Module, cmd.Root, cmd.Path
	defer rt.Close(ctx)
	// wazeroRun runs iters filter iterations in a fresh instance and returns
	// the process CPU time it took (instantiation included, the same for
	// every count, so it cancels in a difference).
	wazeroRun := func(iters int) time.Duration {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithStdout(&out).WithStderr(&out).WithName("").
			WithArgs("wasmbench", "-naive=false", "-run", "filter 100KiB", "-iters", itoa(iters))
		t0 := cpuTime()
		m, err := rt.InstantiateModule(ctx, mod, cfg)
		d := cpuTime() - t0
		if err != nil {
			b.Fatalf("wazero: %v\n%s", err, out.String())
		}
		m.Close(ctx)
		return d
	}
	node, nodeErr := exec.LookPath("node")
	// nodeRun runs the filter for about a second under V8 and returns its
	// MB/s per CPU second, which the program measures with WASI's process
	// CPU clock.
	nodeRun := func() float64 {
		cmd := exec.Command(node, "--no-warnings", "--no-liftoff", filepath.Join(root, "internal/respfilter/wasmbench/run-wasi.mjs"),
			wasmPath, "-naive=false", "-run", "filter 100KiB", "-time", "1s")
		out, _ := cmd.Output() // a crash at exit after the figures is fine
		f := strings.Fields(string(out))
		for i := 1; i < len(f); i++ {
			if f[i] == "cpu-MB/s" {
				if v, err := strconv.ParseFloat(f[i-1], 64); err == nil {
					return v
				}
			}
		}
		b.Fatalf("node printed no cpu-MB/s:\n%s", out)
		return 0
	}
	doc := benchdoc.Generate(100 << 10)
	mb := float64(len(doc)) * engineIters / 1e6
	var wz, naive time.Duration
	var v8 []float64
	for b.Loop() {
		wz += wazeroRun(engineIters+1) - wazeroRun(1)
		if nodeErr == nil {
			v8 = append(v8, nodeRun())
		}
		t0 := cpuTime()
		for range engineIters {
			if _, err := naiveFilter(doc, benchdoc.Allow); err != nil {
				b.Fatal(err)
			}
		}
		naive += cpuTime() - t0
	}
	naiveMBps := mb * float64(b.N) / naive.Seconds()
	b.ReportMetric(float64(naive)/float64(wz), "x-naive-wazero")
	if len(v8) > 0 {
		sum := 0.0
		for _, v := range v8 {
			sum += v
		}
		b.ReportMetric(sum/float64(len(v8))/naiveMBps, "x-naive-v8")
	}
	b.ReportMetric(0, "ns/op")
}

func itoa(n int) string { return strconv.Itoa(n) }

// cpuTime is the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
