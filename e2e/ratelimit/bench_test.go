package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// benchPolicy limits /limited per tenant with a budget that never runs out
// (the clock is frozen), so every checked request is admitted and writes.
const benchPolicy = `[{"name": "bench", "match": {"prefix": "/limited"}, "key": ["header:x-tenant"],
	"limits": [{"requests": 1000000000, "per": "1s", "burst": 1000000000000}]}]`

// benchRequest sends one request straight to the handler, without the
// recorder's allocations dominating: the body is discarded.
func benchRequest(b *testing.B, h http.Handler, path string) {
	r := httptest.NewRequest("GET", "http://api.example"+path, nil)
	r.RemoteAddr = "192.0.2.1:40000"
	r.Header.Set("x-tenant", "acme")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 {
		b.Fatalf("%s: %d %q", path, rec.Code, rec.Body.String())
	}
}

// BenchmarkPassThrough is a request the policy does not select: the cost of
// the plugin and the host without a rate-limit check, the baseline.
func BenchmarkPassThrough(b *testing.B) {
	e := start(b, benchPolicy, opts{})
	b.ReportAllocs()
	for b.Loop() {
		benchRequest(b, e.h, "/other")
	}
}

// BenchmarkCheckUncontended is one admitted rate-limit check (shared-data
// read and CAS write) on one worker VM.
func BenchmarkCheckUncontended(b *testing.B) {
	e := start(b, benchPolicy, opts{})
	b.ReportAllocs()
	for b.Loop() {
		benchRequest(b, e.h, "/limited")
	}
}

// BenchmarkCheckContended8VMs runs checks of one key on 8 worker VMs at
// once. It reports the CAS attempt distribution, from the plugin's debug log
// of every check that needed more than one attempt: the share of checks with
// 1, 2, 3-4 and 5+ attempts, and of those that ran out (contended).
func BenchmarkCheckContended8VMs(b *testing.B) {
	e := start(b, benchPolicy, opts{workers: 8, module: debugModule(b)})
	b.ReportAllocs()
	b.SetParallelism(8) // at least 8 goroutines whatever GOMAXPROCS
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchRequest(b, e.h, "/limited")
		}
	})
	b.StopTimer()
	var hist [4]int // 1, 2, 3-4, 5+
	retried := 0
	for _, line := range e.p.LogsAt(wasmhost.LogDebug) {
		m := attemptsLog.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		retried++
		switch {
		case n == 2:
			hist[1]++
		case n <= 4:
			hist[2]++
		default:
			hist[3]++
		}
	}
	hist[0] = b.N - retried
	for i, name := range []string{"attempts_1_%", "attempts_2_%", "attempts_3-4_%", "attempts_5+_%"} {
		b.ReportMetric(100*float64(hist[i])/float64(b.N), name)
	}
	b.ReportMetric(100*float64(e.errors(b, "bench", "store_contended"))/float64(b.N), "exhausted_%")
}

var attemptsLog = regexp.MustCompile(`"bench": (\d+) CAS attempts`)

var (
	debugOnce sync.Once
	debugMod  *wasmhost.Module
	debugErr  error
)

// debugModule is the plugin compiled with debug logs kept.
func debugModule(b testing.TB) *wasmhost.Module {
	debugOnce.Do(func() {
		debugMod, debugErr = e2eutil.Compile(wasmhost.Options{LogLevel: wasmhost.LogDebug})
	})
	if debugErr != nil {
		b.Fatal(debugErr)
	}
	return debugMod
}

// BenchmarkPassThrough8VMs is the contended benchmark's baseline.
func BenchmarkPassThrough8VMs(b *testing.B) {
	e := start(b, benchPolicy, opts{workers: 8})
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchRequest(b, e.h, "/other")
		}
	})
}
