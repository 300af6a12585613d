package telemetry

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/config"
)

func TestBurstCrossesTheThresholdOnce(t *testing.T) {
	var crossings []int
	for n := 0; n <= 30; n++ {
		if CrossesThreshold(n, 10) {
			crossings = append(crossings, n)
		}
	}
	if len(crossings) != 1 || crossings[0] != 10 {
		t.Fatalf("crossings at %v, want only at 10", crossings)
	}
	if CrossesThreshold(0, 0) {
		t.Fatal("a zero threshold (not counted) crossed")
	}
	c := netip.MustParseAddr("203.0.113.7")
	ev := BurstEvent(Burst{Client: c, Failures: 10, Window: time.Minute}, t0)
	if line, err := Encode(ev); err != nil || !strings.Contains(string(line), `"type":"auth_failure_burst"`) ||
		!strings.Contains(string(line), `"failures":10`) || !strings.Contains(string(line), `"203.0.113.7"`) {
		t.Fatalf("burst event %s %v", line, err)
	}
}

func TestIsNearLimit(t *testing.T) {
	for _, c := range []struct {
		remaining, limit int64
		want             bool
	}{{20, 100, true}, {21, 100, false}, {0, 100, true}, {100, 100, false}, {-1, 100, false}, {5, 0, false}, {0, 1, true}} {
		if got := IsNearLimit(c.remaining, c.limit, 0.8); got != c.want {
			t.Errorf("IsNearLimit(%d, %d) = %v", c.remaining, c.limit, got)
		}
	}
}

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

func TestRuntimeReaderAndForcedGC(t *testing.T) {
	r := NewRuntimeReader()
	s, d := r.Read()
	if s.TotalBytes == 0 || s.HeapInUseBytes == 0 || d != 0 {
		t.Fatalf("first sample %+v delta %d", s, d)
	}
	garbage := make([][]byte, 0, 256)
	for i := 0; i < 256; i++ {
		garbage = append(garbage, make([]byte, 16<<10))
	}
	garbage = nil
	_ = garbage
	r.ForceGC()
	if _, d := r.Read(); d < 1 {
		t.Errorf("forced GC not seen in the next delta (%d)", d)
	}
}

func BenchmarkRuntimeRead(b *testing.B) {
	r := NewRuntimeReader()
	b.ReportAllocs()
	for b.Loop() {
		r.Read()
	}
}

func TestReplyDetails(t *testing.T) {
	for _, c := range [][3]string{
		{"authn", "expired", "apiguard_authn_expired"},
		{"ratelimit.per_user", "limited", "apiguard_ratelimit_per_user_limited"},
		{"respfilter", "", "apiguard_respfilter"},
		{"Auth N", "bad reason!", "apiguard_auth_n_bad_reason_"},
	} {
		if got := ReplyDetails(c[0], c[1]); got != c[2] {
			t.Errorf("ReplyDetails(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
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
			r := NewRuntimeReader()
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
