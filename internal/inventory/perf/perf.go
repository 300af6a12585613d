// Package perf measures the cost ratios of issue 14's Performance section
// on the response filter's benchmark documents (package benchdoc), the same
// way natively (the inventory benchmarks) and compiled to Wasm
// (cmd/inventorybench under wazero and V8): each iteration runs the filter
// and the measured work back to back on one document, and the median of
// the per-iteration time ratios is the result, so iterations another
// process preempted do not count.
package perf

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/apiguard/apiguard/internal/route"
)

// Sizes are the body sizes of the Performance section.
var Sizes = []struct {
	Name string
	N    int
}{{"1KiB", 1 << 10}, {"10KiB", 10 << 10}, {"100KiB", 100 << 10}}

// ObserveChunk is the size of the body chunks the Observer is fed, as
// Envoy passes a body on in 16 KiB slices.
const ObserveChunk = 16 << 10

// Bench holds the filter and the inventory's reusable state.
type Bench struct {
	policy   *respfilter.Policy
	decision respfilter.Decision
	resp     *inventory.Response
	obs      *inventory.Observer
	out      []byte
}

// New builds the filter the respfilter benchmarks use, and a response
// inventory with every built-in class.
func New() (*Bench, error) {
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Allow: respfilter.Paths(benchdoc.Allow...)}}, MaxBodyBytes: 4 << 20})
	if err != nil {
		return nil, err
	}
	p := f.Match(&route.Request{Method: "GET", Path: "/", Header: func(string) (string, bool) { return "", false }})
	c, err := inventory.NewClassifier(nil, nil)
	if err != nil {
		return nil, err
	}
	r := inventory.NewResponse(c)
	return &Bench{
		policy: p, decision: p.DecideHeaders(respfilter.ResponseMeta{Status: 200, RequestMethod: "GET", ContentType: "application/json"}),
		resp: r, obs: inventory.NewObserver(r),
	}, nil
}

// filter runs the filter alone and returns its time.
func (b *Bench) filter(doc []byte) (time.Duration, error) {
	t0 := time.Now()
	var o respfilter.Outcome
	b.out, o = b.policy.AppendProcess(b.out[:0], b.decision, doc, nil)
	d := time.Since(t0)
	if o.Action != respfilter.ActionReplace {
		return 0, fmt.Errorf("filter: %v %s", o.Action, o.Reason)
	}
	return d, nil
}

// Detection returns the filter's time with the inventory's Inspector over
// its time without, on doc, as the median of iters ratios.
func (b *Bench) Detection(doc []byte, iters int) (float64, error) {
	return b.ratios(doc, iters, func() error {
		var o respfilter.Outcome
		b.out, o = b.policy.AppendProcessInspected(b.out[:0], b.decision, doc, nil, b.resp)
		if o.Action != respfilter.ActionReplace || len(b.resp.Fields()) == 0 {
			return fmt.Errorf("inspected filter: %v %s", o.Action, o.Reason)
		}
		return nil
	})
}

// Observation returns the Observer's time on doc, fed in ObserveChunk
// chunks, over the filter's, as the median of iters ratios.
func (b *Bench) Observation(doc []byte, iters int) (float64, error) {
	return b.ratios(doc, iters, func() error {
		b.obs.Reset()
		for i := 0; i < len(doc); i += ObserveChunk {
			b.obs.Write(doc[i:min(i+ObserveChunk, len(doc))])
		}
		b.obs.Close()
		if b.resp.Incomplete || len(b.resp.Fields()) == 0 {
			return fmt.Errorf("observation failed")
		}
		return nil
	})
}

// ratios times work against the filter alone on doc, iters times, and
// returns the median ratio. The inventory is reset before each work. The
// two alternate which runs first, so neither always finds the document
// in the cache the other warmed.
func (b *Bench) ratios(doc []byte, iters int, work func() error) (float64, error) {
	ratios := make([]float64, 0, iters)
	timed := func() (time.Duration, error) {
		b.resp.Reset()
		t0 := time.Now()
		err := work()
		return time.Since(t0), err
	}
	for i := range iters {
		var plain, d time.Duration
		var err, werr error
		if i%2 == 0 {
			plain, err = b.filter(doc)
			d, werr = timed()
		} else {
			d, werr = timed()
			plain, err = b.filter(doc)
		}
		if err = cmp.Or(err, werr); err != nil {
			return 0, err
		}
		ratios = append(ratios, float64(d)/float64(plain))
	}
	return Median(ratios), nil
}

// Median is the median of xs (sorted in place).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
