package main

import (
	"encoding/binary"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/canon"
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/verdict"
)

// configureRequest builds the request guard (internal/canon) from every
// policy's inputs: the headers apiguard sets, the headers decisions read,
// and every rule's match. It runs after the policies are configured.
func (p *pluginContext) configureRequest(s *settings.Settings) error {
	in := canon.Inputs{Config: s.Config, Matches: s.Matches()}
	if a := p.jwt.auth; a != nil {
		in.Protected = a.OutputHeaders()
		in.Watched = append(in.Watched, a.InputHeaders()...)
	}
	in.Watched = append(in.Watched, s.RateLimits.Headers()...)
	for _, m := range in.Matches {
		for _, h := range m.Headers {
			in.Watched = append(in.Watched, h.Name)
		}
	}
	if s.ClientIP.TrustedHops > 0 {
		in.Watched = append(in.Watched, "x-forwarded-for")
	}
	g, err := canon.New(in)
	if err != nil {
		return err
	}
	p.guard = g
	return nil
}

// readRequest judges whether the request can be judged at all, and makes
// what the upstream receives exactly what the policies judge: the guard's
// canonical :path and :authority replace the client's, and spellings of
// protected headers are removed, before any stage runs. A request that
// cannot be judged is refused with 400 and the guard's reason.
//
// Every request header is read here in one host call: repeats, underscore
// spellings and forged claim headers can hide in any request.
func (h *httpContext) readRequest() bool {
	pairs, err := direct.RequestHeaders(h.pairsBuf)
	if err != nil {
		h.failClosed()
		return false
	}
	h.pairsBuf = pairs[:0]
	h.headers.Keep(pairs)
	h.captureAuditHeaders() // before a policy removes a credential header
	plan := h.plugin.guard.Inspect(pairs, h.destinationPort)
	if plan.Refuse != "" {
		h.reply(verdict.PolicyRequest, 400, plan.Refuse, plan.Message)
		return false
	}
	h.path, h.method, h.methodRead = plan.Path, plan.Method, true
	if !plan.Changes() {
		return true
	}
	if err := applyPlan(plan); err != nil {
		proxywasm.LogErrorf("apiguard: request: %v", err)
		h.failClosed()
		return false
	}
	h.headers.Keep(plan.Applied(pairs))
	return true
}

// applyPlan makes the guard's changes to the request headers.
func applyPlan(plan canon.Plan) error {
	for _, name := range plan.RemoveHeaders {
		if err := proxywasm.RemoveHttpRequestHeader(name); err != nil {
			return err
		}
	}
	if plan.SetPath != "" {
		if err := proxywasm.ReplaceHttpRequestHeader(":path", plan.SetPath); err != nil {
			return err
		}
	}
	if plan.SetAuthority != "" {
		if err := proxywasm.ReplaceHttpRequestHeader(":authority", plan.SetAuthority); err != nil {
			return err
		}
	}
	return nil
}

// destinationPort is Envoy's destination.port property (the listener port
// the request arrived on), 0 when unavailable.
func (h *httpContext) destinationPort() int {
	raw, err := proxywasm.GetProperty([]string{"destination", "port"})
	if err != nil || len(raw) != 8 {
		return 0
	}
	return int(binary.LittleEndian.Uint64(raw))
}
