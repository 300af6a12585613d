package respfilter

import (
	"slices"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/apiguard/apiguard/internal/route"
)

type noop struct{}

func (noop) Kept(v *KeptValue) Verdict { return InspectKeep }

func BenchmarkScratchNoop(b *testing.B) {
	f, _ := New(Config{Rules: []Rule{{Allow: benchdoc.Allow}}, MaxBodyBytes: 4 << 20})
	p := f.Match(&route.Request{Method: "GET", Path: "/", Header: func(string) (string, bool) { return "", false }})
	d := p.DecideHeaders(ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"})
	doc := benchdoc.Generate(100 << 10)
	var out []byte
	var rs []float64
	for b.Loop() {
		t0 := time.Now()
		out, _ = p.AppendProcessInspected(out[:0], d, doc, nil, nil)
		t1 := time.Now()
		out, _ = p.AppendProcessInspected(out[:0], d, doc, nil, noop{})
		t2 := time.Now()
		rs = append(rs, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
	}
	slices.Sort(rs)
	b.ReportMetric(rs[len(rs)/2], "x")
}
