// Command gofloor is the Go floor of the pass-through benchmark (issue 12):
// a Go guest built like the plugin (internal/sdkabi/cmd/wasmbuild: the SDK
// with the sdkabi glue, the patched runtime) that makes exactly the host
// calls of e2e/bench/floor.wat, through the SDK's callbacks and
// internal/sdkabi/direct as the plugin does, and nothing else. Its cost over
// floor.wat's is what any Go guest on this SDK pays before apiguard does
// anything: entries into the Go runtime per callback, the SDK's dispatch,
// the header block the host makes the guest allocate and the collections
// it causes, decoding the header pairs. Package bare is the same guest with
// no SDK at all. e2e/bench's BenchmarkLifecycle reports both as x-floor
// figures beside the plugin's.
package main

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/sdkabi/direct"
)

func init() { proxywasm.SetVMContext(&vm{}) }

func main() {}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

// plugin defines floor.wat's two metrics and hands out streams from a free
// list, as the plugin pools its stream contexts.
type plugin struct {
	types.DefaultPluginContext
	requests, latency uint32
	free              []*stream
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	p.requests = uint32(proxywasm.DefineCounterMetric("gofloor.requests_total"))
	p.latency = uint32(proxywasm.DefineHistogramMetric("gofloor.latency_ms"))
	return types.OnPluginStartStatusOK
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext {
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		return s
	}
	return &stream{plugin: p}
}

// decisionPath is the filter-state property floor.wat sets.
var decisionPath = direct.NewPath("apiguard.decision")

// stream makes floor.wat's calls, callback by callback; spent is the time
// its callbacks took, as the plugin keeps it per phase.
type stream struct {
	types.DefaultHttpContext
	plugin *plugin
	pairs  [][2]string
	spent  time.Duration
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	start := direct.Monotonic()
	direct.IncrementMetric(s.plugin.requests, 1)
	s.pairs, _ = direct.RequestHeaders(s.pairs)
	s.spent += direct.Monotonic() - start
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	start := direct.Monotonic()
	_ = direct.SetProperty(decisionPath, "allow")
	s.spent += direct.Monotonic() - start
	return types.ActionContinue
}

func (s *stream) OnHttpResponseBody(int, bool) types.Action {
	start := direct.Monotonic()
	s.spent += direct.Monotonic() - start
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	start := direct.Monotonic()
	for range 4 {
		direct.RecordMetric(s.plugin.latency, 1)
	}
	s.spent += direct.Monotonic() - start
	direct.RecordMetric(s.plugin.latency, 1)
	s.pairs, s.spent = s.pairs[:0], 0
	s.plugin.free = append(s.plugin.free, s)
}
