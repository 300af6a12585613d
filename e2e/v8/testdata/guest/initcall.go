//go:build initcall

package main

import "unsafe"

// A plugin that defines a metric from init(): Envoy forbids that host call
// while `_initialize` runs, and so must the V8 smoke host.
func init() {
	var id uint32
	proxyDefineMetric(metricCounter, "v8guest.too_early", unsafe.Pointer(&id))
}
