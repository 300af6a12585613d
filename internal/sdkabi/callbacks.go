//go:build apiguard_sdkabi

// Callbacks of the Proxy-Wasm ABI v0.2.0, exported with `//go:wasmexport` and
// forwarded to the SDK's own proxyOn* functions. Sizes and counts arrive as
// i32. Spec:
// https://github.com/proxy-wasm/spec/blob/main/abi-versions/v0.2.0/README.md

package internal

import (
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

//go:wasmexport proxy_abi_version_0_2_0
func exportABIVersion() { proxyABIVersion() }

// exportOnMemoryAllocate serves the host's one allocation per host call. A
// zero-size request still gets a valid, distinct pointer.
//
//go:wasmexport proxy_on_memory_allocate
func exportOnMemoryAllocate(size uint32) unsafe.Pointer {
	if size == 0 {
		size = 1
	}
	return unsafe.Pointer(proxyOnMemoryAllocate(uint(size)))
}

//go:wasmexport proxy_on_context_create
func exportOnContextCreate(contextID uint32, parentContextID uint32) {
	proxyOnContextCreate(contextID, parentContextID)
}

//go:wasmexport proxy_on_vm_start
func exportOnVMStart(rootContextID uint32, vmConfigurationSize uint32) bool {
	return bool(proxyOnVMStart(rootContextID, int(vmConfigurationSize)))
}

//go:wasmexport proxy_on_configure
func exportOnConfigure(rootContextID uint32, pluginConfigurationSize uint32) bool {
	return bool(proxyOnConfigure(rootContextID, int(pluginConfigurationSize)))
}

//go:wasmexport proxy_on_tick
func exportOnTick(rootContextID uint32) { proxyOnTick(rootContextID) }

//go:wasmexport proxy_on_queue_ready
func exportOnQueueReady(rootContextID uint32, queueID uint32) {
	proxyOnQueueReady(rootContextID, queueID)
}

//go:wasmexport proxy_on_request_headers
func exportOnRequestHeaders(contextID uint32, numHeaders uint32, endOfStream bool) types.Action {
	return proxyOnRequestHeaders(contextID, int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_request_body
func exportOnRequestBody(contextID uint32, bodySize uint32, endOfStream bool) types.Action {
	return proxyOnRequestBody(contextID, int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_request_trailers
func exportOnRequestTrailers(contextID uint32, numTrailers uint32) types.Action {
	return proxyOnRequestTrailers(contextID, int(numTrailers))
}

//go:wasmexport proxy_on_response_headers
func exportOnResponseHeaders(contextID uint32, numHeaders uint32, endOfStream bool) types.Action {
	return proxyOnResponseHeaders(contextID, int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_response_body
func exportOnResponseBody(contextID uint32, bodySize uint32, endOfStream bool) types.Action {
	return proxyOnResponseBody(contextID, int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_response_trailers
func exportOnResponseTrailers(contextID uint32, numTrailers uint32) types.Action {
	return proxyOnResponseTrailers(contextID, int(numTrailers))
}

//go:wasmexport proxy_on_http_call_response
func exportOnHttpCallResponse(rootContextID, calloutID uint32, numHeaders, bodySize, numTrailers uint32) {
	proxyOnHttpCallResponse(rootContextID, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

//go:wasmexport proxy_on_new_connection
func exportOnNewConnection(contextID uint32) types.Action {
	return proxyOnNewConnection(contextID)
}

//go:wasmexport proxy_on_downstream_data
func exportOnDownstreamData(contextID uint32, dataSize uint32, endOfStream bool) types.Action {
	return proxyOnDownstreamData(contextID, int(dataSize), endOfStream)
}

//go:wasmexport proxy_on_downstream_connection_close
func exportOnDownstreamConnectionClose(contextID uint32, peerType types.PeerType) {
	proxyOnDownstreamConnectionClose(contextID, peerType)
}

//go:wasmexport proxy_on_upstream_data
func exportOnUpstreamData(contextID uint32, dataSize uint32, endOfStream bool) types.Action {
	return proxyOnUpstreamData(contextID, int(dataSize), endOfStream)
}

//go:wasmexport proxy_on_upstream_connection_close
func exportOnUpstreamConnectionClose(contextID uint32, peerType types.PeerType) {
	proxyOnUpstreamConnectionClose(contextID, peerType)
}

//go:wasmexport proxy_on_log
func exportOnLog(contextID uint32) { proxyOnLog(contextID) }

//go:wasmexport proxy_on_done
func exportOnDone(contextID uint32) bool { return proxyOnDone(contextID) }

//go:wasmexport proxy_on_delete
func exportOnDelete(contextID uint32) { proxyOnDelete(contextID) }
