package telemetry

import (
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

func TestGCPolicy(t *testing.T) {
	p := NewGCPolicy(GCConfig{Mode: GCEveryRequests, EveryRequests: 3, MinInterval: config.Duration{Duration: time.Second}})
	var fired []int
	for i := 1; i <= 9; i++ {
		if p.RequestDone(t0.Add(time.Duration(i) * 400 * time.Millisecond)) {
			fired = append(fired, i)
		}
	}
	// request 3 fires; request 6 is only 1.2s later: fires; 9 fires.
	if len(fired) != 3 || fired[0] != 3 {
		t.Errorf("fired at %v", fired)
	}
	if p.Tick(t0.Add(time.Hour), 1<<40) {
		t.Error("every_requests policy fired on a tick")
	}
	h := NewGCPolicy(GCConfig{Mode: GCHeapAbove, HeapAboveBytes: 16 << 20})
	if h.Tick(t0, 15<<20) || !h.Tick(t0, 17<<20) || h.Tick(t0.Add(500*time.Millisecond), 17<<20) || !h.Tick(t0.Add(time.Second), 17<<20) {
		t.Error("heap_above policy")
	}
	if NewGCPolicy(GCConfig{Mode: GCOff}).RequestDone(t0) {
		t.Error("off policy fired")
	}
}

// BenchmarkGCPolicyEffect runs 200k audited requests (log sink) per
// iteration and reports the heap high-water mark the VM keeps, with and
// without the GC policy. Run it compiled to wasip1 for Wasm figures, one
// sub-benchmark per VM: memory a Wasm VM grows never shrinks, so the peak
// is what it keeps, and a second run in the same VM inherits the first's.
func BenchmarkGCPolicyEffect(b *testing.B) {
	for _, c := range []struct {
		name string
		gc   GCConfig
	}{
		{"gc=off", GCConfig{Mode: GCOff}},
		{"gc=every_1000_requests", GCConfig{Mode: GCEveryRequests, EveryRequests: 1000, MinInterval: config.Duration{Duration: time.Nanosecond}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, err := Config{Instance: "bench", Audit: AuditConfig{Sink: SinkLog}}.Resolve("")
			if err != nil {
				b.Fatal(err)
			}
			r := metrics.NewRuntimeReader()
			var peakHeap, peakTotal, forced uint64
			tmpl := sampleEvent()
			b.ReportAllocs()
			for b.Loop() {
				a := NewAuditor(cfg, nil, "v")
				p := NewGCPolicy(c.gc)
				now := t0
				for i := 0; i < 200_000; i++ {
					now = now.Add(time.Millisecond)
					e := *tmpl
					a.Record(&e, now)
					if p.RequestDone(now) {
						r.ForceGC()
						forced++
					}
					if i%1000 == 0 {
						s, _ := r.Read()
						peakHeap, peakTotal = max(peakHeap, s.HeapInUseBytes), max(peakTotal, s.TotalBytes)
					}
				}
			}
			b.ReportMetric(float64(peakHeap)/1024, "peak-heap-KiB")
			b.ReportMetric(float64(peakTotal)/1024, "peak-total-KiB")
			b.ReportMetric(float64(forced)/float64(b.N), "forced-GCs/op")
		})
	}
}
