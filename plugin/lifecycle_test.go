package main

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/verdict"
)

// BenchmarkNativeLifecycle is the native denominator of the wasm/native
// ratios of issue 12 (e2e/bench BenchmarkLifecycle runs the same requests
// compiled): the demo request with a 400-byte and a 10 KiB record, through
// the proxytest emulator. Each iteration runs one request of each, so both
// see the same machine load; demo-ns and chain10k-ns are their costs.
func BenchmarkNativeLifecycle(b *testing.B) {
	read := func(p string) []byte {
		data, err := os.ReadFile(filepath.Join("..", p))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	cfg, err := perfscenario.DemoConfig(read(perfscenario.DemoConfigPath))
	if err != nil {
		b.Fatal(err)
	}
	token, err := perfscenario.Token(read(perfscenario.DemoKeyPath), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	// The emulator prints every guest log line (the audit event of each
	// request) through the log package; a terminal is not what is measured.
	log.SetOutput(io.Discard)
	defer log.SetOutput(os.Stderr)
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration(cfg).
		WithProperty([]string{"source", "address"}, []byte("203.0.113.7:50000"))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		b.Fatal("plugin start failed")
	}
	headers := perfscenario.RequestHeaders(token)
	small, large := perfscenario.Record(perfscenario.SmallRecord), perfscenario.Record(perfscenario.LargeRecord)
	respHeaders := [][2]string{{":status", "200"}, {"content-type", "application/json"}}
	serve := func(body []byte) {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers, true); a != types.ActionContinue {
			b.Fatalf("request headers: %v, reply %+v", a, host.GetSentLocalResponse(id))
		}
		host.CallOnResponseHeaders(id, respHeaders, false)
		if a := host.CallOnResponseBody(id, body, true); a != types.ActionContinue {
			b.Fatalf("response body: %v", a)
		}
		host.CompleteHttpContext(id)
	}
	serve(small) // warm: the token is verified once, then cached
	if logs := host.GetInfoLogs(); len(logs) == 0 || strings.Count(logs[len(logs)-1], `"reason":"`+string(verdict.WithinLimit)+`"`) != 2 {
		b.Fatalf("both rate limits must count the request; audit event: %q", logs)
	}
	b.ReportAllocs()
	var demo, chain time.Duration
	for b.Loop() {
		t0 := time.Now()
		serve(small)
		t1 := time.Now()
		serve(large)
		demo += t1.Sub(t0)
		chain += time.Since(t1)
	}
	b.ReportMetric(float64(demo.Nanoseconds())/float64(b.N), "demo-ns")
	b.ReportMetric(float64(chain.Nanoseconds())/float64(b.N), "chain10k-ns")
}
