package main

import (
	"fmt"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/ratelimit"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

// rateLimitState is the rate-limit policies of one plugin configuration.
type rateLimitState struct {
	limiter   *ratelimit.Limiter // nil without rate_limits
	nearRatio float64
	// dispatchWarned limits the log of a callout Envoy refuses to send (an
	// unknown cluster) to once per worker; the errors metric counts each.
	dispatchWarned bool
}

// rateLimitStream is the rate-limit state of one stream.
type rateLimitStream struct {
	result *ratelimit.Result // &checked once the limiter has run
	// checked holds the result in the stream, so a check allocates none.
	checked ratelimit.Result
	// outstanding counts the global callouts still unanswered.
	outstanding int
	// recorded is set once the outcomes went to metrics and the audit event.
	recorded bool
}

// configureRateLimits compiles the policies over Envoy shared data. It only
// builds: nothing is written to shared data until a request arrives, so the
// configuration canary leaves no trace.
func (p *pluginContext) configureRateLimits(s *settings.Settings) error {
	p.rateLimits = rateLimitState{}
	if len(s.RateLimits) == 0 {
		return nil
	}
	l, err := ratelimit.New(s.RateLimits, sharedData{}, ratelimit.SharedNamespace(p.rootID))
	if err != nil {
		return fmt.Errorf("rate_limits: %w", err)
	}
	ratio := 0.8
	if r := s.Telemetry.Signals.NearLimitRatio; r != nil {
		ratio = *r
	}
	p.rateLimits = rateLimitState{limiter: l, nearRatio: ratio}
	for _, w := range l.Warnings() {
		proxywasm.LogWarnf("apiguard: %s", w)
	}
	if w := s.UnsaltedKeyHashWarning(); w != "" {
		proxywasm.LogWarnf("apiguard: %s", w)
	}
	proxywasm.LogInfof("apiguard: %d rate-limit policies, at most %d bytes of shared data", len(s.RateLimits), l.MaxBytes())
	return nil
}

// rateLimit is the second request stage. The first run checks the local
// budgets and sends the global callouts; the stream then waits, and the last
// callout answer resumes it, re-running this stage to decide.
func (h *httpContext) rateLimit() stageResult {
	rl := &h.plugin.rateLimits
	if rl.limiter == nil {
		return stageNext
	}
	st := &h.rateLimitStream
	if st.result == nil {
		st.result = rl.limiter.CheckInto(&st.checked, h.rateLimitRequest(), h.stageTime())
		h.dispatchRateLimitCallouts()
	}
	if st.outstanding > 0 {
		return stageWait
	}
	h.recordRateLimit()
	refusal := st.result.Refusal()
	if refusal == nil {
		return stageNext
	}
	// apiguard's own reply: the response callbacks skip it, so it is never
	// charged or judged again.
	h.sendOwnReplyGRPC(uint32(refusal.Status), refusal.Reason, refusal.GRPCStatus, refusal.Headers, refusal.Body)
	return stageReplied
}

// clientKey is the client's network as rate limits key it
// (clientip.Resolver.NetworkKey). When that network is the client IP
// itself, it is the stream's one text of it (clientIPText), which the
// audit event logs too.
func (h *httpContext) clientKey() string {
	ip := h.clientAddr()
	if h.fromSource {
		return h.netKey
	}
	return clientKeyOf(h.plugin.settings.ClientIP, ip, h.clientIPText())
}

// rateLimitRequest gathers what the policies' keys and matchers read.
func (h *httpContext) rateLimitRequest() *ratelimit.Request {
	h.rateReq = ratelimit.Request{
		Method:     h.requestMethod(),
		Path:       h.path,
		Header:     h.headerFn,
		ClientIP:   h.clientAddr(),
		ClientKey:  h.clientKey(),
		Claims:     h.verifiedClaims(), // nil without a verified token
		EnvoyRoute: h.envoyRoute(),
	}
	return &h.rateReq
}

// dispatchRateLimitCallouts sends every global check of the result. A callout that
// cannot even be sent (unknown cluster) is resolved at once as Envoy's 503,
// so it follows the policy's failure_mode like any unavailable service.
func (h *httpContext) dispatchRateLimitCallouts() {
	st := &h.rateLimitStream
	for i, c := range st.result.Callouts {
		timeout := uint32(c.Timeout / time.Millisecond)
		if timeout == 0 {
			timeout = 1
		}
		idx, policy := i, c.Policy
		h.shared = true // the answer closure holds h
		_, err := proxywasm.DispatchHttpCall(c.Cluster, c.Headers, c.Body, nil, timeout,
			func(numHeaders, bodySize, numTrailers int) {
				// A stream resumed from a tick or a JWKS answer dispatches
				// this callout while the SDK's active context is the root:
				// the SDK then runs this callback with the root effective,
				// where Envoy drops a resume or a local reply and refuses
				// header edits. Act as the stream, or not at all.
				if err := proxywasm.SetEffectiveContext(h.id); err != nil {
					proxywasm.LogDebugf("apiguard: rate limit %q: answer for a finished stream: %v", policy, err)
					h.plugin.metrics.RateLimitError(policy, verdict.Other)
					return
				}
				h.onRateLimitAnswer(idx, numHeaders, bodySize)
			})
		if err != nil {
			if rl := &h.plugin.rateLimits; !rl.dispatchWarned {
				rl.dispatchWarned = true
				proxywasm.LogWarnf("apiguard: rate limit %q: dispatch to cluster %q: %v (logged once)", c.Policy, c.Cluster, err)
			}
			h.countRateLimitFailure(st.result.ResolveCallout(idx, 503, nil), 503)
			continue
		}
		st.outstanding++
	}
}

// onRateLimitAnswer takes the rate-limit service's answer (the callback made
// this stream the effective context). The last answer resumes the request.
func (h *httpContext) onRateLimitAnswer(i, numHeaders, bodySize int) {
	defer recoverCallback("rate limit callout", func() { h.failClosed() })
	st := &h.rateLimitStream
	st.outstanding--
	status := 0 // a reset: no headers at all
	var out ratelimit.Outcome
	switch {
	case numHeaders > 0 && bodySize > ratelimit.MaxAnswerBytes:
		// Never read: a service answering megabytes is broken or hostile.
		status = calloutStatus()
		out = st.result.ResolveOversized(i)
	default:
		var body []byte
		if numHeaders > 0 {
			status = calloutStatus()
			if bodySize > 0 {
				body, _ = proxywasm.GetHttpCallResponseBody(0, bodySize)
			}
		}
		out = st.result.ResolveCallout(i, status, body)
	}
	h.countRateLimitFailure(out, status)
	// The SDK drops the answers of a deleted stream, so the stream is alive.
	if st.outstanding == 0 {
		h.resume()
	}
}

// countRateLimitFailure counts a service failure (any answer that is neither
// a pass nor "limited") by its reason.
func (h *httpContext) countRateLimitFailure(out ratelimit.Outcome, status int) {
	if !out.ServiceFailed() {
		return
	}
	proxywasm.LogDebugf("apiguard: rate limit %q: service answer %d: %s", out.Policy, status, out.Reason)
	h.plugin.metrics.RateLimitError(out.Policy, out.Reason)
}

// recordRateLimit counts the final outcomes and fills the audit event, once.
func (h *httpContext) recordRateLimit() {
	st := &h.rateLimitStream
	if st.recorded {
		return
	}
	st.recorded = true
	rl := &h.plugin.rateLimits
	m := h.plugin.metrics
	for i, o := range st.result.Outcomes {
		if !o.Final() {
			continue
		}
		if o.Attempts > 1 {
			// Rare (a lost CAS race on a hot key); the benchmarks read it.
			proxywasm.LogDebugf("apiguard: rate limit %q: %d CAS attempts", o.Policy, o.Attempts)
		}
		decision := o.Verdict()
		m.RateLimit(o.Policy, decision, o.Reason)
		if o.Evicted {
			m.RateLimitEviction(o.Policy)
		}
		if o.Broken() {
			m.RateLimitError(o.Policy, o.Reason)
		}
		h.addDecision(audit.Decision{
			Policy: st.result.AuditPolicy(i), Decision: decision, Reason: o.Reason,
		})
		if o.Decision == ratelimit.Allowed {
			if r, q, ok := st.result.Standing(i); ok && audit.IsNearLimit(r, q, rl.nearRatio) {
				m.NearLimit(o.Policy)
				h.audit().AddSignal(audit.SignalNearLimit)
			}
		}
	}
	// Hashed only for an audit trail that records events, with its salt.
	if a := h.plugin.telemetry.auditor; a != nil && a.Enabled() {
		if key := st.result.AuditKey(); key != "" {
			h.audit().RateLimitKey = a.HashKey(key)
		}
	}
}

// addRateLimitHeaders adds the RateLimit headers to an admitted response.
func (h *httpContext) addRateLimitHeaders() {
	res := h.rateLimitStream.result
	if res == nil {
		return
	}
	for _, kv := range res.Headers() {
		if err := proxywasm.ReplaceHttpResponseHeader(kv[0], kv[1]); err != nil {
			proxywasm.LogWarnf("apiguard: add response header %s: %v", kv[0], err)
		}
	}
}

// chargeResponseCost settles response-cost budgets when the stream ends:
// the bytes reserved at request time are replaced by the upstream body bytes
// delivered. An own reply (apiguard answered instead of the upstream's body)
// delivered none of them, so it settles 0 and gives the reservation back.
func (h *httpContext) chargeResponseCost() {
	st := &h.rateLimitStream
	if st.result == nil || !st.result.ChargesResponse() {
		return
	}
	n := h.telemetryStream.Out.Seen() // the upstream body bytes delivered
	if h.ownReply {
		n = 0
	}
	for _, o := range st.result.ChargeResponse(n, time.Now()) {
		if o.Reason != ratelimit.ReasonOK {
			h.plugin.metrics.RateLimitError(o.Policy, o.Reason)
		}
	}
}
