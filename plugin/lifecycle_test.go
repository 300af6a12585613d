package main

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
// the proxytest emulator, in alternating blocks so both see the same machine
// load; demo-ns and chain10k-ns are their CPU time per request.
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
	// Rotating blocks of 20 requests, each timed in process CPU time, as
	// e2e/bench does.
	const block = 20
	var spent [2]time.Duration
	bodies := [2][]byte{small, large}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		body := bodies[n%2]
		t0 := cpuTime()
		for range block {
			serve(body)
		}
		spent[n%2] += cpuTime() - t0
		n++
	}
	rounds := float64(n/2) * block
	b.ReportMetric(float64(spent[0].Nanoseconds())/rounds, "demo-ns")
	b.ReportMetric(float64(spent[1].Nanoseconds())/rounds, "chain10k-ns")
}

// cpuTime is the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
