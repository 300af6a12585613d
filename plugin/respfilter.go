package main

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

// respFilterState is the response field allowlist of one plugin
// configuration. filter is nil when no `response_filter` section is set.
type respFilterState struct {
	filter *respfilter.Filter
	out    respfilter.Buffer // this worker's output buffer
}

// configureResponseFilter compiles the response_filter section and says
// which Envoy header mode it expects: a mismatch either stalls responses
// (held without allow_on_headers_stop_iteration) or weakens the guarantee.
func (p *pluginContext) configureResponseFilter(s *settings.Settings) error {
	if s.ResponseFilter == nil {
		return nil
	}
	f, err := respfilter.New(*s.ResponseFilter)
	if err != nil {
		return fmt.Errorf("response_filter: %w", err)
	}
	p.respFilter.filter = f
	proxywasm.LogInfof("apiguard: %s", f.ModeNote())
	return nil
}

// prepareResponseFilter runs once the request stages have all passed: it
// picks the response policy and, on filtered routes, asks the upstream only
// for whole documents in codings apiguard can decode.
func (h *httpContext) prepareResponseFilter() {
	rs := &h.plugin.respFilter
	if rs.filter == nil || h.respFilterStream.Policy() != nil {
		return
	}
	p := rs.filter.Match(h.routeRequest())
	if p == nil {
		return
	}
	h.respFilterStream.Begin(p, &rs.out, rs.filter.HeadersHeld())
	// A failed rewrite is not fatal: a coding apiguard cannot decode is an
	// unsupported_encoding failure on the response, never a bypass.
	ae, _ := h.requestHeader("accept-encoding")
	upstreamAE := respfilter.UpstreamAcceptEncoding(ae)
	if !h.requestHeaderIs("accept-encoding", upstreamAE) {
		_ = h.editRequestHeader("response_filter", opReplace, "accept-encoding", upstreamAE)
	}
	for _, name := range respfilter.RequestHeadersToRemove() {
		if h.mayHaveRequestHeader(name) {
			_ = h.editRequestHeader("response_filter", opRemove, name, "")
		}
	}
}

// filterResponseHeaders, filterResponseBody and filterResponseTrailers
// drive the stream's respfilter.Stream from the response callbacks. The body
// the filter reads is lent by direct.ResponseBody and taken back when the
// callback's filtering is over (after a panic, by the recovery of
// OnHttpResponseBody and OnHttpResponseTrailers): nothing the filter leaves
// behind views it (responseHost.ResponseBody lists what sees it). Not
// deferred: the recovery releases it after a panic, and a block left lent
// would only make later reads allocate.
func (h *httpContext) filterResponseHeaders(endOfStream bool) types.Action {
	if h.respFilterStream.Policy() == nil {
		return types.ActionContinue
	}
	reqType, _ := h.requestHeader("content-type")
	return h.respFilterStep(h.respFilterStream.Headers(responseHost{h}, h.requestMethod(), reqType, endOfStream))
}

func (h *httpContext) filterResponseBody(bodySize int, endOfStream bool) types.Action {
	step, r := h.respFilterStream.Body(responseHost{h}, bodySize, endOfStream)
	direct.ReleaseResponseBody()
	return h.respFilterStep(step, r)
}

func (h *httpContext) filterResponseTrailers() types.Action {
	step, r := h.respFilterStream.Trailers(responseHost{h})
	direct.ReleaseResponseBody()
	return h.respFilterStep(step, r)
}

// respFilterStep carries out what the response filter decided.
func (h *httpContext) respFilterStep(step respfilter.Step, r respfilter.Reason) types.Action {
	switch step {
	case respfilter.StepPause:
		return types.ActionPause
	case respfilter.StepDeny:
		// The filter's 502 instead of the upstream's response; apiguard's
		// own reply from then on.
		rep := respfilter.DenyReply(r)
		return h.sendOwnReply(uint32(rep.Status), r, [][2]string{{"content-type", rep.ContentType}}, rep.Body)
	case respfilter.StepFailClosed:
		return h.failClosed()
	}
	return types.ActionContinue
}

// collectAfterLargeBody runs a garbage collection at the end of a stream
// whose response filtering handled a large body (its input, decoded form
// and output are garbage now). Wasm memory never shrinks, and Go's collector
// lets the heap double between automatic cycles, so megabytes of garbage
// from a few large bodies in a row would otherwise raise the VM's peak for
// good; collecting here keeps the peak at one body's work (docs/memory.md).
// It costs a collection of a small heap per large response, next to the
// milliseconds the body itself took.
func (h *httpContext) collectAfterLargeBody() {
	if !h.respFilterStream.TakeLarge() {
		return
	}
	if r := h.plugin.telemetry.runtime; r != nil {
		h.plugin.metrics.ForcedGC(r.ForceGC())
		return
	}
	runtime.GC()
}

// responseHost is respfilter.Host over the SDK's response calls; it logs
// every failure. The response headers and body are read through
// internal/sdkabi/direct: no allocation of the guest's own per read, the
// headers decoded into the stream's reused slice.
type responseHost struct{ h *httpContext }

func (r responseHost) ResponseHeaders() ([][2]string, error) {
	all, err := direct.ResponseHeaders(r.h.respPairsBuf)
	if err != nil {
		proxywasm.LogErrorf("apiguard: response_filter: read response headers: %v", err)
		return nil, err
	}
	r.h.respPairsBuf = all[:0]
	return all, nil
}

func (r responseHost) RemoveResponseHeader(name string) {
	if err := proxywasm.RemoveHttpResponseHeader(name); err != nil {
		proxywasm.LogWarnf("apiguard: response_filter: remove response header %s: %v", name, err)
	}
}

func (r responseHost) ReplaceResponseHeader(name, value string) {
	if err := proxywasm.ReplaceHttpResponseHeader(name, value); err != nil {
		proxywasm.LogWarnf("apiguard: response_filter: set %s: %v", name, err)
	}
}

// ResponseBody reads the body into the VM's reused body block
// (direct.ResponseBody), lent until filterResponseBody or
// filterResponseTrailers releases it. What sees the bytes, and why none of
// it keeps a view past the release (TestReusedBodyBlockLeavesNothing, in
// e2e/respfilter, holds it to that):
//   - respfilter's pass (filterDocument): its run views the document and
//     its keys (memberKey) and drops every view when it goes back to its
//     pool (filterRun.release); reported paths are built in the run's own
//     buffer and copied into the Report as strings (finishPaths), which the
//     audit event's removed_fields takes; the output is written into the
//     worker's output buffer, which the host copies; a coded body is
//     decoded into a pooled buffer first, and the pass reads that.
//   - the Inspector, the stream's inventory.Response: KeptValue's key and
//     content are classified in place (detect, the Classifier: no state),
//     decoded into its own buffers, and every path or key it keeps is a
//     copy (AppendPath into r.raw, string(path), strings.Clone of a key).
//   - Inspector.Passing (on_error "allow"): searched, decoded into a new
//     buffer, not kept.
//   - telemetry: the replaced body's length only (BodyReplaced).
func (r responseHost) ResponseBody(size int) ([]byte, error) {
	body, err := direct.ResponseBody(0, size)
	if err != nil {
		proxywasm.LogErrorf("apiguard: response_filter: read response body: %v", err)
	}
	return body, err
}

func (r responseHost) ReplaceResponseBody(body []byte) error {
	err := proxywasm.ReplaceHttpResponseBody(body)
	if err != nil {
		proxywasm.LogErrorf("apiguard: response_filter: replace response body: %v", err)
	}
	return err
}

func (r responseHost) Record(o respfilter.Outcome)     { r.h.recordFilter(o) }
func (r responseHost) Replaced(body []byte)            { r.h.telemetryStream.BodyReplaced(body) }
func (r responseHost) Claims() map[string]any          { return r.h.verifiedClaims() }
func (r responseHost) Inspector() respfilter.Inspector { return r.h.inspector() }

// recordFilter counts an outcome and adds it to the audit event: removed
// paths only, never values.
func (h *httpContext) recordFilter(o respfilter.Outcome) {
	decision, reason, counted := o.Verdict()
	if !counted {
		return // not subject to filtering: empty body
	}
	if o.Action == respfilter.ActionReplace {
		e := h.audit()
		if e.RemovedFields == nil {
			// The outcome's own list, clipped so a later append copies it.
			e.RemovedFields = slices.Clip(o.RemovedPaths)
		} else {
			e.RemovedFields = append(e.RemovedFields, o.RemovedPaths...)
		}
	}
	m := h.plugin.metrics
	m.Filter(decision, reason, o.Removed, o.Masked)
	if o.Failed() {
		m.FilterError(o.Reason)
	}
	h.addDecision(audit.Decision{Policy: string(verdict.PolicyRespFilter), Decision: decision, Reason: reason})
}
