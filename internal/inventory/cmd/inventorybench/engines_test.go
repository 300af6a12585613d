//go:build unix

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/perfscenario"
)

// BenchmarkEngines reports the Performance section's ratios at 100 KiB
// compiled for wasip1, under wazero (in process) and under V8 (Node, when
// it is installed): detection-wazero and detection-v8 are the filter's
// time with detection over its time without; observation-wazero and
// observation-v8 are observation's time over the filter's.
func BenchmarkEngines(b *testing.B) {
	ctx := context.Background()
	cmd, err := perfscenario.BuildWASICommand(ctx, "./internal/inventory/cmd/inventorybench", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rt, mod, root, wasmPath := cmd.Runtime, cmd.Module, cmd.Root, cmd.Path
	defer rt.Close(ctx)
	const iters = "60"
	node, nodeErr := exec.LookPath("node")
	for b.Loop() {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithStdout(&out).WithStderr(&out).WithName("").WithArgs("inventorybench", "-iters", iters).
			WithSysWalltime().WithSysNanotime()
		m, err := rt.InstantiateModule(ctx, mod, cfg)
		if err != nil {
			b.Fatalf("wazero: %v\n%s", err, out.String())
		}
		m.Close(ctx)
		report(b, out.String(), "wazero")
		if nodeErr == nil {
			cmd := exec.Command(node, "--no-warnings", filepath.Join(root, "internal/respfilter/wasmbench/run-wasi.mjs"), wasmPath, "-iters", iters)
			v8, _ := cmd.Output() // a crash at exit after the figures is fine
			report(b, string(v8), "v8")
		}
	}
	b.ReportMetric(0, "ns/op")
}

// report turns the program's 100 KiB lines into metrics.
func report(b *testing.B, out, engine string) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[1] == "100KiB" && f[3] == "x-filter" {
			if v, err := strconv.ParseFloat(f[2], 64); err == nil {
				b.ReportMetric(v, f[0]+"-"+engine)
			}
		}
	}
}
