package main

import (
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
)

// routeNamePath is Envoy's xds.route_name property, serialised once.
var routeNamePath = direct.NewPath("xds", "route_name")

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
		if v, err := direct.Property(routeNamePath); err == nil {
			sp.envoyRoute = direct.String(v)
		}
	}
	return sp.envoyRoute
}
