package inventory

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/apiguard/apiguard/internal/route"
)

// The Performance section of issue 14, as ratios that hold on a busy
// machine: each iteration runs the baseline and the measured work on the
// same document, back to back, and the median of the per-iteration ratios
// is reported, so the iterations another process preempted do not count
// (cmd/inventorybench reports the same ratios under wazero and V8).

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"10KiB", 10 << 10}, {"100KiB", 100 << 10}}

// benchFilter is the response filter on the benchmark documents, as the
// respfilter benchmarks configure it.
func benchFilter(b *testing.B) (*respfilter.Policy, respfilter.Decision) {
	allow, _ := json.Marshal(benchdoc.Allow)
	var cfg respfilter.Config
	if err := config.Decode([]byte(`{"rules":[{"allow":`+string(allow)+`}],"max_body_bytes":4194304}`), &cfg); err != nil {
		b.Fatal(err)
	}
	f, err := respfilter.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p := f.Match(&route.Request{Method: "GET", Path: "/", Header: func(string) (string, bool) { return "", false }})
	return p, p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"})
}

func benchClassifier(b *testing.B) *Classifier {
	c, err := NewClassifier(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkDetectionOnFilteredRoute is detection in the filter's own pass
// (a filtered route): x-filter is the filter's time with the inventory's
// Inspector over its time without (the target is at most 1.25 at 100 KiB).
func BenchmarkDetectionOnFilteredRoute(b *testing.B) {
	p, d := benchFilter(b)
	r := NewResponse(benchClassifier(b))
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			var ratios []float64
			var out []byte
			var o, o2 respfilter.Outcome
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				out, o = p.AppendProcess(out[:0], d, doc, nil)
				t1 := time.Now()
				r.Reset()
				out, o2 = p.AppendProcessInspected(out[:0], d, doc, nil, r)
				ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
				if o.Action != respfilter.ActionReplace || o2.Action != respfilter.ActionReplace || len(r.Fields()) == 0 {
					b.Fatal(o.Reason, o2.Reason)
				}
			}
			b.ReportMetric(median(ratios), "x-filter")
		})
	}
}

// observeChunk is the size of the body chunks the Observer is fed, as
// Envoy passes a body on (its buffers are 16 KiB slices).
const observeChunk = 16 << 10

// BenchmarkObservation is observation on an unfiltered route: the
// Observer following the body chunk by chunk, classification included.
// x-filter is its time per response over the filter's on the same
// document; sampling divides the average cost by the sample rate.
func BenchmarkObservation(b *testing.B) {
	p, d := benchFilter(b)
	r := NewResponse(benchClassifier(b))
	o := NewObserver(r)
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			var ratios []float64
			var out []byte
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				out, _ = p.AppendProcess(out[:0], d, doc, nil)
				t1 := time.Now()
				r.Reset()
				o.Reset()
				for i := 0; i < len(doc); i += observeChunk {
					o.Write(doc[i:min(i+observeChunk, len(doc))])
				}
				o.Close()
				ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
				if r.Incomplete || len(r.Fields()) == 0 {
					b.Fatal("observation failed")
				}
			}
			b.ReportMetric(median(ratios), "x-filter")
		})
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
