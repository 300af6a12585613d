package wasmhost

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a reusable ResponseWriter, so the benchmarks measure
// the host, not the recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header  { return d.h }
func (d *discardWriter) WriteHeader(code int) { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.code == 0 {
		d.code = 200
	}
	return len(b), nil
}

var benchUpstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}`))
})

func benchRequest() *http.Request {
	req := httptest.NewRequest("GET", "/api/orders/42", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("X-Request-Id", "3f2b9a")
	req.Header.Set("Authorization", "Bearer not-a-real-token")
	return req
}

func runHandler(b *testing.B, h http.Handler) { runRequest(b, h, benchRequest()) }

func runRequest(b *testing.B, h http.Handler, req *http.Request) {
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkPassThrough compares one GET through the host with no plugin
// against the same request through a guest; report the ratio.
func BenchmarkPassThrough(b *testing.B) {
	b.Run("no-plugin", func(b *testing.B) { runHandler(b, benchUpstream) })
	b.Run("minimal-guest", func(b *testing.B) {
		m := compileGuest(b, "minimal", Options{})
		p, err := m.Start(context.Background(), PluginConfig{Name: "m", RootID: "m", VMID: "m"})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		runHandler(b, p.Middleware(benchUpstream))
	})
	b.Run("conformance-guest", func(b *testing.B) {
		p := startConformance(b, Options{LogLevel: LogWarn}, conformanceConfig("plain"))
		runHandler(b, p.Middleware(benchUpstream))
	})
	b.Run("conformance-guest-40-headers", func(b *testing.B) {
		p := startConformance(b, Options{LogLevel: LogWarn}, conformanceConfig("plain"))
		req := benchRequest()
		for i := 0; i < 36; i++ {
			req.Header.Set("X-Extra-Header-"+itoa(int64(i)), "value")
		}
		runRequest(b, p.Middleware(benchUpstream), req)
	})
	b.Run("apiguard", func(b *testing.B) {
		wasm := realPlugin(b)
		m, err := Compile(context.Background(), wasm, Options{CompilationCache: cache, LogLevel: LogWarn})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(context.Background())
		for _, noCM := range []bool{false, true} {
			p, err := m.Start(context.Background(), PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
				Configuration: []byte(`{}`), NoConnectionManagerHeaders: noCM})
			if err != nil {
				b.Skip(err)
			}
			b.Run(fmt.Sprintf("no-cm-headers=%v", noCM), func(b *testing.B) { runHandler(b, p.Middleware(benchUpstream)) })
			p.Close()
		}
	})
}

// BenchmarkStartVM measures one worker VM start: instantiate, _initialize,
// context_create, vm_start and configure; compilation is excluded.
func BenchmarkStartVM(b *testing.B) {
	b.Run("conformance-guest", func(b *testing.B) {
		p := startConformance(b, Options{LogLevel: LogWarn}, conformanceConfig("plain"))
		benchStart(b, p)
	})
	b.Run("apiguard", func(b *testing.B) {
		m, err := Compile(context.Background(), realPlugin(b), Options{CompilationCache: cache, LogLevel: LogWarn})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(context.Background())
		p, err := m.Start(context.Background(), PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard", Configuration: []byte(`{}`)})
		if err != nil {
			b.Skip(err)
		}
		defer p.Close()
		benchStart(b, p)
	})
}

func benchStart(b *testing.B, p *Plugin) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := p.newWorker(context.Background(), 0, p.config)
		if err != nil {
			b.Fatal(err)
		}
		v.close()
	}
}
