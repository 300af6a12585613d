package main

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

// respFilterState is the response field allowlist of one plugin
// configuration. filter is nil when no `response_filter` section is set.
type respFilterState struct {
	filter *respfilter.Filter
	// out is reused for every filtered body on this worker: the host copies
	// a replaced body, so the storage is free again once the call returns.
	out []byte
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

// respFilterPhase is where a filtered response stands.
type respFilterPhase uint8

const (
	// rfIdle: not filtered (no policy, or decided without buffering).
	rfIdle respFilterPhase = iota
	// rfBuffering: the body is paused until end of stream.
	rfBuffering
	// rfDiscarding: the headers have left (streamed mode) and the body was
	// replaced by an error document; the rest of the upstream body is dropped.
	rfDiscarding
	// rfDone: the body has been decided.
	rfDone
)

// respFilterStream is the response filter's state for one stream.
type respFilterStream struct {
	prepared bool
	policy   *respfilter.Policy // nil when the response is not filtered
	decision respfilter.Decision
	phase    respFilterPhase
	// headersHeld is set while the response headers are paused (headers_mode
	// "held"): the status can still change.
	headersHeld bool
	// large is set when filtering this response handled a large body: the
	// worker collects its garbage when the stream ends.
	large bool
}

// prepareResponseFilter runs once the request stages have all passed: it
// picks the response policy and, on filtered routes, asks the upstream only
// for whole documents in codings apiguard can decode.
func (h *httpContext) prepareResponseFilter() {
	st := &h.respFilterStream
	f := h.plugin.respFilter.filter
	if st.prepared || f == nil {
		return
	}
	st.prepared = true
	st.policy = f.Match(&route.Request{Method: h.requestMethod(), Path: h.path, Header: h.requestHeader})
	if st.policy == nil {
		return
	}
	// A failed rewrite is not fatal: a coding apiguard cannot decode is an
	// unsupported_encoding failure on the response, never a bypass.
	ae, _ := h.requestHeader("accept-encoding")
	upstreamAE := respfilter.UpstreamAcceptEncoding(ae)
	if err := proxywasm.ReplaceHttpRequestHeader("accept-encoding", upstreamAE); err != nil {
		proxywasm.LogWarnf("apiguard: response_filter: set accept-encoding: %v", err)
		h.invalidateRequestHeaders()
	} else {
		h.viewReplace("accept-encoding", upstreamAE)
	}
	for _, name := range respfilter.RequestHeadersToRemove() {
		if err := proxywasm.RemoveHttpRequestHeader(name); err != nil {
			proxywasm.LogWarnf("apiguard: response_filter: remove request header %s: %v", name, err)
			h.invalidateRequestHeaders()
		} else {
			h.viewRemove(name)
		}
	}
}

// filterResponseHeaders decides all the response headers can tell. In held
// mode it pauses the headers until the body is decided; in streamed mode it
// drops the headers that a changed body would contradict before they leave.
func (h *httpContext) filterResponseHeaders(endOfStream bool) types.Action {
	st := &h.respFilterStream
	if st.policy == nil {
		return types.ActionContinue
	}
	meta, err := h.responseMeta()
	if err != nil {
		// Headers that cannot be read cannot be judged: fail closed.
		proxywasm.LogErrorf("apiguard: response_filter: read response headers: %v", err)
		h.recordFilter(respfilter.Outcome{Action: respfilter.ActionDeny, Reason: respfilter.ReasonInternal})
		return h.denyResponse(respfilter.ReasonInternal)
	}
	st.decision = st.policy.DecideHeadersInspected(meta, h.inspector())
	switch st.decision.Action {
	case respfilter.ActionDeny:
		h.recordFilter(respfilter.Outcome{Action: respfilter.ActionDeny, Reason: st.decision.Reason})
		return h.denyResponse(st.decision.Reason)
	case respfilter.ActionPass:
		h.recordFilter(respfilter.Outcome{Action: respfilter.ActionPass, Reason: st.decision.Reason})
		return types.ActionContinue
	case respfilter.ActionFilter:
		if endOfStream {
			return types.ActionContinue // no body: nothing to filter
		}
		st.phase = rfBuffering
		if h.plugin.respFilter.filter.HeadersHeld() {
			st.headersHeld = true
			return types.ActionPause
		}
		removeResponseHeaders(respfilter.ResponseHeadersToRemove())
		return types.ActionContinue
	case respfilter.ActionSkip:
		if meta.RequestMethod == "HEAD" {
			// No body to filter, but the upstream's length and digests
			// describe the unfiltered GET body: they would tell how long
			// the removed fields are.
			removeResponseHeaders(respfilter.ResponseHeadersToRemove())
		}
	}
	return types.ActionContinue
}

// responseMeta reads what DecideHeaders needs from the response headers, in
// one host call (respfilter.MetaFromHeaders).
func (h *httpContext) responseMeta() (respfilter.ResponseMeta, error) {
	all, err := proxywasm.GetHttpResponseHeaders()
	if err != nil {
		return respfilter.ResponseMeta{}, err
	}
	reqType, _ := h.requestHeader("content-type")
	return respfilter.MetaFromHeaders(all, h.requestMethod(), reqType), nil
}

// filterResponseBody buffers a filtered body (Envoy keeps it while the
// callback pauses) and decides it at end of stream. bodySize is everything
// buffered so far.
func (h *httpContext) filterResponseBody(bodySize int, endOfStream bool) types.Action {
	st := &h.respFilterStream
	switch st.phase {
	case rfDiscarding:
		if bodySize > 0 {
			if err := proxywasm.ReplaceHttpResponseBody(nil); err != nil {
				// The error document is out; the rest must not follow it.
				return h.failClosed()
			}
		}
		return types.ActionContinue
	case rfIdle, rfDone:
		return types.ActionContinue
	}
	// rfBuffering: decide once the whole body is in.
	p := st.policy
	if bodySize > p.MaxBodyBytes() {
		// Stop early: waiting for the rest would only hit Envoy's buffer limit.
		return h.finishBody(nil, p.Failure(respfilter.ReasonTooLarge, h.inspector()))
	}
	if !endOfStream {
		return types.ActionPause
	}
	return h.processBody(bodySize)
}

// filterResponseTrailers ends a body that has trailers: its last body
// callback did not see end of stream. A body that cannot be read here is
// never let through unfiltered.
func (h *httpContext) filterResponseTrailers() types.Action {
	if h.respFilterStream.phase != rfBuffering {
		return types.ActionContinue
	}
	return h.processBody(h.respFilterStream.policy.MaxBodyBytes() + 1)
}

// processBody reads the buffered body (at most size bytes) and filters it.
func (h *httpContext) processBody(size int) types.Action {
	st := &h.respFilterStream
	var body []byte
	if size > 0 {
		var err error
		body, err = proxywasm.GetHttpResponseBody(0, size)
		if err != nil {
			proxywasm.LogErrorf("apiguard: response_filter: read response body: %v", err)
			return h.finishBody(nil, respfilter.Outcome{Action: respfilter.ActionDeny, Reason: respfilter.ReasonInternal})
		}
	}
	rs := &h.plugin.respFilter
	out, o := st.policy.AppendProcessInspected(rs.out, st.decision, body, h.verifiedClaims(), h.inspector())
	if o.Action == respfilter.ActionReplace {
		rs.out = out[:0]
	}
	action := h.finishBody(out, o)
	// The host has copied the new body. A buffer grown by one large body
	// is not kept for the next: the heap may reuse it, and a worker's
	// steady state stays that of its usual bodies.
	st.large = len(body) >= keepOutputBytes || cap(out) > keepOutputBytes ||
		o.Reason == respfilter.ReasonTooLarge || o.Reason == respfilter.ReasonDecodeFailed
	if cap(rs.out) > keepOutputBytes {
		rs.out = nil
	}
	return action
}

// keepOutputBytes is the largest output buffer a worker keeps between
// responses, and the body size from which the worker collects garbage when
// the stream ends.
const keepOutputBytes = 256 << 10

// collectAfterLargeBody runs a garbage collection at the end of a stream
// whose response filtering handled a large body (its input, decoded form
// and output are garbage now). Wasm memory never shrinks, and Go's collector
// lets the heap double between automatic cycles, so megabytes of garbage
// from a few large bodies in a row would otherwise raise the VM's peak for
// good; collecting here keeps the peak at one body's work (docs/memory.md).
// It costs a collection of a small heap per large response, next to the
// milliseconds the body itself took.
func (h *httpContext) collectAfterLargeBody() {
	st := &h.respFilterStream
	if !st.large {
		return
	}
	st.large = false
	if r := h.plugin.telemetry.runtime; r != nil {
		h.plugin.metrics.ForcedGC(r.ForceGC())
		return
	}
	runtime.GC()
}

// finishBody applies a body-time outcome.
func (h *httpContext) finishBody(out []byte, o respfilter.Outcome) types.Action {
	st := &h.respFilterStream
	st.phase = rfDone
	h.recordFilter(o)
	switch o.Action {
	case respfilter.ActionReplace:
		if err := proxywasm.ReplaceHttpResponseBody(out); err != nil {
			proxywasm.LogErrorf("apiguard: response_filter: replace response body: %v", err)
			return h.bodyFailure(respfilter.ReasonInternal)
		}
		h.telemetryStream.BodyReplaced(out)
		if st.headersHeld {
			removeResponseHeaders(respfilter.ResponseHeadersToRemove())
			if err := proxywasm.ReplaceHttpResponseHeader("content-length", strconv.Itoa(len(out))); err != nil {
				proxywasm.LogWarnf("apiguard: response_filter: set content-length: %v", err)
			}
		}
		return types.ActionContinue
	case respfilter.ActionDeny:
		return h.bodyFailure(o.Reason)
	}
	return types.ActionContinue // skip (empty body) or an opted-in pass
}

// bodyFailure fails a response closed once its body showed the failure:
// a real 502 while the headers are held, else the body becomes the error
// document under the status already sent, and the rest of the body is
// dropped.
func (h *httpContext) bodyFailure(r respfilter.Reason) types.Action {
	st := &h.respFilterStream
	if st.headersHeld {
		return h.denyResponse(r)
	}
	doc := respfilter.ErrorDocument(st.decision, r)
	if err := proxywasm.ReplaceHttpResponseBody(doc); err != nil {
		proxywasm.LogErrorf("apiguard: response_filter: replace response body: %v", err)
		return h.failClosed() // Envoy resets a stream whose headers left
	}
	h.telemetryStream.BodyReplaced(doc)
	st.phase = rfDiscarding
	return types.ActionContinue
}

// denyResponse answers the stream with the filter's 502 instead of the
// upstream's response; it is apiguard's own reply from then on.
func (h *httpContext) denyResponse(r respfilter.Reason) types.Action {
	h.respFilterStream.phase = rfDone
	h.respFilterStream.headersHeld = false
	rep := respfilter.DenyReply(r)
	return h.sendOwnReply(uint32(rep.Status), r, [][2]string{{"content-type", rep.ContentType}}, rep.Body)
}

// removeResponseHeaders drops headers a changed body would contradict.
func removeResponseHeaders(names []string) {
	for _, name := range names {
		if err := proxywasm.RemoveHttpResponseHeader(name); err != nil {
			proxywasm.LogWarnf("apiguard: response_filter: remove response header %s: %v", name, err)
		}
	}
}

// recordFilter counts an outcome and adds it to the audit event: removed
// paths only, never values.
func (h *httpContext) recordFilter(o respfilter.Outcome) {
	decision, reason, counted := o.Verdict()
	if !counted {
		return // not subject to filtering: empty body
	}
	if o.Action == respfilter.ActionReplace {
		e := h.audit()
		e.RemovedFields = append(e.RemovedFields, o.RemovedPaths...)
	}
	m := h.plugin.metrics
	m.Filter(decision, reason, o.Removed, o.Masked)
	if o.Reason != respfilter.ReasonNone && o.Reason != respfilter.ReasonSensitive {
		m.FilterError(o.Reason) // a denied class is a policy's decision, not an error
	}
	h.addDecision(audit.Decision{Policy: string(verdict.PolicyRespFilter), Decision: decision, Reason: reason})
}
