package inventory_test

import (
	"testing"

	"github.com/apiguard/apiguard/internal/inventory/perf"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
)

// BenchmarkDetectionOnFilteredRoute is detection in the filter's own pass
// (a filtered route): x-filter is the filter's time with the inventory's
// Inspector over its time without (issue 14: at most 1.25 at 100 KiB).
// A quick native check: the figures to quote come from BenchmarkEngines in
// cmd/inventorybench (native, wazero and V8 in interleaved rounds).
func BenchmarkDetectionOnFilteredRoute(b *testing.B) {
	bench(b, (*perf.Bench).Detection)
}

// BenchmarkObservation is observation on an unfiltered route: the Observer
// following the body in 16 KiB chunks, classification included. x-filter
// is its time per sampled response over the filter's on the same document;
// sampling divides the average by the sample rate.
func BenchmarkObservation(b *testing.B) {
	bench(b, (*perf.Bench).Observation)
}

func bench(b *testing.B, measure func(*perf.Bench, []byte, int) (float64, error)) {
	pb, err := perf.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range perf.Sizes {
		doc := benchdoc.Generate(s.N)
		b.Run(s.Name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			var ratios []float64
			for b.Loop() {
				r, err := measure(pb, doc, 1)
				if err != nil {
					b.Fatal(err)
				}
				ratios = append(ratios, r)
			}
			b.ReportMetric(perf.Median(ratios), "x-filter")
		})
	}
}
