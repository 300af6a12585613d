package telemetry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// benchEnv starts a one-worker plugin whose upstream answers at once, and
// returns a handler to call without a network in between.
func benchEnv(b *testing.B, telemetryExtra string, clusters map[string]string) (*env, http.Handler) {
	e := start(b, telemetryExtra, 1<<30, 1, clusters)
	return e, e.srv.Config.Handler
}

func serve(b *testing.B, h http.Handler, req *http.Request) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
}

// BenchmarkRequest is the whole per-request cost through the compiled
// plugin in wazero (host overhead included) for an unauthenticated route,
// with the audit trail off, on the log sink, and on the OTLP sink. The
// differences between the three are the cost of the audit trail.
func BenchmarkRequest(b *testing.B) {
	c := discardCollector(b)
	for _, bc := range []struct{ name, extra string }{
		{"audit_off", ``},
		{"log_sink", `, "audit": {"sink": "log", "headers": ["user-agent"]}`},
		{"otlp_sink", otlpSection("otel", `, "batch_size": 200, "max_buffered_events": 5000`)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, h := benchEnv(b, bc.extra, map[string]string{"otel": c.URL})
			req := httptest.NewRequest("GET", "/public/items?page=2&password="+password, nil)
			req.Header.Set("user-agent", "bench/1")
			req.Header.Set("traceparent", traceparent)
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h, req)
			}
			b.StopTimer()
			// apiguard's own time inside the VM, as its histograms saw it.
			for _, ph := range []string{"request_headers", "response_body", "stream_done"} {
				b.ReportMetric(mean(e.histogram(b, "http.phase."+ph+".processing_us")), ph+"-us")
			}
		})
	}
}

func mean(xs []uint64) float64 {
	var sum uint64
	for _, x := range xs {
		sum += x
	}
	return float64(sum) / float64(max(len(xs), 1))
}

// discardCollector accepts every export without decoding it, so benchmarks
// measure the plugin rather than the test's protojson oracle.
func discardCollector(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkMemoryPerVM sends b.N requests (run it with
// -benchtime=200000x) through one worker on the OTLP sink, then reports the
// worker's last runtime sample: Go-mapped memory (≈ Wasm linear memory,
// which never shrinks) and the Go heap in use, without and with a GC policy.
func BenchmarkMemoryPerVM(b *testing.B) {
	c := discardCollector(b)
	for _, bc := range []struct{ name, gc string }{
		{"gc_off", ``},
		{"gc_every_1000", `, "gc": {"mode": "every_requests", "every_requests": 1000, "min_interval": "10ms"}`},
		{"gc_heap_above_4mib", `, "gc": {"mode": "heap_above", "heap_above_bytes": 4194304, "min_interval": "10ms"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, h := benchEnv(b, otlpSection("otel", `, "batch_size": 200`)+bc.gc, map[string]string{"otel": c.URL})
			req := httptest.NewRequest("GET", "/public/items?page=2", nil)
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h, req)
			}
			b.StopTimer()
			mem := e.histogram(b, "runtime.memory_kib")
			before := len(mem)
			waitFor(b, "a runtime sample after the load", 2*time.Second, func() bool {
				mem = e.histogram(b, "runtime.memory_kib")
				return len(mem) > before
			})
			heap := e.histogram(b, "runtime.heap_inuse_kib")
			var peak uint64
			for _, v := range mem {
				peak = max(peak, v)
			}
			b.ReportMetric(float64(mem[len(mem)-1]), "wasm-KiB")
			b.ReportMetric(float64(peak), "peak-wasm-KiB")
			b.ReportMetric(float64(heap[len(heap)-1]), "heap-KiB")
			forced, _ := e.p.Stats().Counter("apiguard." + e.instance + ".runtime.forced_gc_total")
			b.ReportMetric(float64(forced), "forced-gcs")
		})
	}
}
