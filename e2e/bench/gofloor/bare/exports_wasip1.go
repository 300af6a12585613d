//go:build wasip1

package main

import (
	"unsafe"

	"github.com/apiguard/apiguard/internal/sdkabi/direct"
)

// The callbacks floor.wat exports, each making its calls (see there); the
// metric ids and the one request's header pairs are globals, as floor.wat
// keeps them in linear memory.
var (
	requests, latency uint32
	pairs             [][2]string
	decisionPath      = direct.NewPath("apiguard.decision")
)

//go:wasmimport env proxy_define_metric
func defineMetric(kind uint32, name unsafe.Pointer, nameSize uint32, id *uint32) uint32

// metricID is defineMetric's result slot, a global so that it is not moved
// to the heap (direct says why).
var metricID uint32

func define(kind uint32, name string) uint32 {
	defineMetric(kind, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), &metricID)
	return metricID
}

//go:wasmexport proxy_abi_version_0_2_0
func abiVersion() {}

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) unsafe.Pointer {
	b := make([]byte, max(size, 1))
	return unsafe.Pointer(&b[0])
}

//go:wasmexport proxy_on_context_create
func onContextCreate(contextID, parentID uint32) {}

//go:wasmexport proxy_on_vm_start
func onVMStart(rootID, size uint32) bool { return true }

//go:wasmexport proxy_on_configure
func onConfigure(rootID, size uint32) bool {
	requests = define(0, "gofloor.requests_total")
	latency = define(2, "gofloor.latency_ms")
	return true
}

//go:wasmexport proxy_on_tick
func onTick(rootID uint32) {}

//go:wasmexport proxy_on_queue_ready
func onQueueReady(rootID, queueID uint32) {}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(contextID, numHeaders uint32, endOfStream bool) uint32 {
	direct.Monotonic()
	direct.IncrementMetric(requests, 1)
	pairs, _ = direct.RequestHeaders(pairs)
	direct.Monotonic()
	return 0
}

//go:wasmexport proxy_on_request_body
func onRequestBody(contextID, size uint32, endOfStream bool) uint32 { return 0 }

//go:wasmexport proxy_on_request_trailers
func onRequestTrailers(contextID, n uint32) uint32 { return 0 }

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(contextID, numHeaders uint32, endOfStream bool) uint32 {
	direct.Monotonic()
	_ = direct.SetProperty(decisionPath, "allow")
	direct.Monotonic()
	return 0
}

//go:wasmexport proxy_on_response_body
func onResponseBody(contextID, size uint32, endOfStream bool) uint32 {
	direct.Monotonic()
	direct.Monotonic()
	return 0
}

//go:wasmexport proxy_on_response_trailers
func onResponseTrailers(contextID, n uint32) uint32 { return 0 }

//go:wasmexport proxy_on_http_call_response
func onHTTPCallResponse(rootID, calloutID, numHeaders, bodySize, numTrailers uint32) {}

//go:wasmexport proxy_on_log
func onLog(contextID uint32) {
	direct.Monotonic()
	for range 4 {
		direct.RecordMetric(latency, 1)
	}
	direct.Monotonic()
	direct.RecordMetric(latency, 1)
	pairs = pairs[:0]
}

//go:wasmexport proxy_on_delete
func onDelete(contextID uint32) {}
