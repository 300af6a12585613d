package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// streamProps caches host properties that do not change during a stream,
// so every policy reading them costs one host call per stream at most.
type streamProps struct {
	envoyRoute     string
	envoyRouteRead bool
}

// envoyRoute is the Envoy route the stream matched (xds.route_name), "" when
// the route has no name or the host does not know it. Read once per stream:
// the route is chosen before the filter chain runs.
func (h *httpContext) envoyRoute() string {
	sp := &h.props
	if !sp.envoyRouteRead {
		sp.envoyRouteRead = true
		if v, err := proxywasm.GetProperty([]string{"xds", "route_name"}); err == nil {
			sp.envoyRoute = string(v)
		}
	}
	return sp.envoyRoute
}

// bodyCount counts a body's bytes across its callbacks. Envoy hands each
// body callback everything buffered since the last Continue, so the bytes
// released by an earlier Continue are kept in flushed and the rest are
// counted again.
type bodyCount struct {
	flushed int64 // released by a Continue
	seen    int64 // flushed plus what the last callback was handed
}

// add takes a body callback's size and the action it returns.
func (c *bodyCount) add(size int, action types.Action) {
	c.seen = c.flushed + int64(size)
	if action == types.ActionContinue {
		c.flushed = c.seen
	}
}
