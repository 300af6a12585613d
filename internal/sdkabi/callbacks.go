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
// zero-size request still gets a valid, distinct pointer. When
// internal/sdkabi/direct has lent a block for the host call under way
// (lendNextAllocation) and the host's value fits in it, the value goes
// there instead of into a new allocation; the lent block serves one
// allocation at most.
//
//go:wasmexport proxy_on_memory_allocate
func exportOnMemoryAllocate(size uint32) unsafe.Pointer {
	if b := lentBlock; b != nil {
		lentBlock = nil
		if size > 0 && uint64(size) <= uint64(len(b)) {
			return unsafe.Pointer(unsafe.SliceData(b))
		}
	}
	if size == 0 {
		size = 1
	}
	return unsafe.Pointer(proxyOnMemoryAllocate(uint(size)))
}

// lentBlock is the block lent for the host's next allocation, nil when none
// is.
var lentBlock []byte

// lendNextAllocation lends b for the host's next allocation; nil takes a
// block lent and not used back. internal/sdkabi/direct reaches it through
// go:linkname (the SDK's internal package cannot import apiguard's, nor
// apiguard's import it): direct lends its reused response-body block around
// the one proxy_get_buffer_bytes call whose value it reads there, and takes
// it back right after, so no other host value can land in it. Whoever lends
// a block answers for its lifetime: the block must hold nothing still in
// use (direct.ResponseBody says how).
//
//go:linkname lendNextAllocation
func lendNextAllocation(b []byte) { lentBlock = b }

//go:wasmexport proxy_on_context_create
func exportOnContextCreate(contextID uint32, parentContextID uint32) {
	if parentContextID == 0 || !streams.create(contextID, parentContextID) {
		proxyOnContextCreate(contextID, parentContextID)
	}
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
	return streams.get(contextID, "proxy_on_request_headers").OnHttpRequestHeaders(int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_request_body
func exportOnRequestBody(contextID uint32, bodySize uint32, endOfStream bool) types.Action {
	return streams.get(contextID, "proxy_on_request_body").OnHttpRequestBody(int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_request_trailers
func exportOnRequestTrailers(contextID uint32, numTrailers uint32) types.Action {
	return streams.get(contextID, "proxy_on_request_trailers").OnHttpRequestTrailers(int(numTrailers))
}

//go:wasmexport proxy_on_response_headers
func exportOnResponseHeaders(contextID uint32, numHeaders uint32, endOfStream bool) types.Action {
	return streams.get(contextID, "proxy_on_response_headers").OnHttpResponseHeaders(int(numHeaders), endOfStream)
}

//go:wasmexport proxy_on_response_body
func exportOnResponseBody(contextID uint32, bodySize uint32, endOfStream bool) types.Action {
	return streams.get(contextID, "proxy_on_response_body").OnHttpResponseBody(int(bodySize), endOfStream)
}

//go:wasmexport proxy_on_response_trailers
func exportOnResponseTrailers(contextID uint32, numTrailers uint32) types.Action {
	return streams.get(contextID, "proxy_on_response_trailers").OnHttpResponseTrailers(int(numTrailers))
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
func exportOnLog(contextID uint32) {
	if ctx := streams.lookup(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		ctx.OnHttpStreamDone()
		return
	}
	proxyOnLog(contextID)
}

// proxy_on_done is not exported. cpp-host's ContextBase::onDone answers
// true (the context is done) when the module has no proxy_on_done, which is
// what the SDK answers for a stream and for a plugin context whose
// OnPluginDone is the default, as apiguard's is; Envoy then deletes the
// context as before, and every request saves one call into the Go runtime.

//go:wasmexport proxy_on_delete
func exportOnDelete(contextID uint32) {
	if !streams.delete(contextID) {
		if contextID == streams.lastRootID {
			streams.lastRootID, streams.lastRoot = 0, nil // a gone root is no parent
		}
		proxyOnDelete(contextID)
	}
}

// streams replaces the SDK's bookkeeping of HTTP contexts (its httpContexts
// map, vmstate.go) on the request path. The SDK makes 14 map operations per
// request: four at creation, one per callback, two in on_log and four in
// on_delete, each many times dearer in Wasm than natively (no hardware
// hash). Here a request usually makes none: streams live in a small table
// indexed by the low bits of their context id (cpp-host allocates ids in
// sequence, so streams in flight rarely share a slot; those that do go to a
// map), and the SDK's contextIDToRootID entry, which only its HTTP callouts
// read (registerHttpCallOut, and proxyOnHttpCallResponse to skip a stream
// already deleted), is made when a stream dispatches its first callout
// (ProxyHttpCall, hostcalls.go) and dropped with the stream. Root and TCP
// contexts stay with the SDK. The behaviour is the SDK's, down to its
// panics on unknown ids (a trap, as the SDK would). This is the one place
// the glue does more than bind the ABI: README "Benchmarks" says why.
var streams httpContexts

// streamSlots is the size of httpContexts' table, a power of two: about the
// streams a worker has in flight at once.
const streamSlots = 64

type httpContexts struct {
	slots [streamSlots]streamSlot
	// spill holds the streams whose slot was taken, nil until one is.
	spill map[uint32]*streamSlot
	// lastRootID and lastRoot cache the plugin context of the last stream
	// created: every stream of a worker usually has the same one.
	lastRootID uint32
	lastRoot   *pluginContextState
}

// streamSlot is one stream; ctx is nil in a free slot.
type streamSlot struct {
	id, rootID uint32
	ctx        types.HttpContext
	// rooted: the SDK's contextIDToRootID has the stream (noteCallout).
	rooted bool
}

// create makes the HTTP context of a new stream, as the SDK's
// createHttpContext does; false when the plugin makes none (a TCP context
// then, which the SDK creates).
func (t *httpContexts) create(id, rootID uint32) bool {
	root := t.lastRoot
	if root == nil || t.lastRootID != rootID {
		var ok bool
		if root, ok = currentState.pluginContexts[rootID]; !ok {
			panic("invalid plugin context id")
		}
		t.lastRootID, t.lastRoot = rootID, root
	}
	if t.find(id) != nil {
		panic("context id duplicated")
	}
	ctx := root.context.NewHttpContext(id)
	if ctx == nil {
		return false
	}
	if s := &t.slots[id%streamSlots]; s.ctx == nil {
		*s = streamSlot{id: id, rootID: rootID, ctx: ctx}
		return true
	}
	if t.spill == nil {
		t.spill = map[uint32]*streamSlot{}
	}
	t.spill[id] = &streamSlot{id: id, rootID: rootID, ctx: ctx}
	return true
}

// find returns the stream's entry, nil if id is not a stream.
func (t *httpContexts) find(id uint32) *streamSlot {
	if s := &t.slots[id%streamSlots]; s.ctx != nil && s.id == id {
		return s
	}
	if len(t.spill) > 0 {
		return t.spill[id]
	}
	return nil
}

// lookup returns the stream's context, nil if id is not a stream.
func (t *httpContexts) lookup(id uint32) types.HttpContext {
	if s := t.find(id); s != nil {
		return s.ctx
	}
	return nil
}

// get returns the stream's context and makes it the active one, as the
// SDK's HTTP callbacks do; an unknown id panics as theirs do.
func (t *httpContexts) get(id uint32, callback string) types.HttpContext {
	ctx := t.lookup(id)
	if ctx == nil {
		panic("invalid context on " + callback)
	}
	currentState.setActiveContextID(id)
	return ctx
}

// noteCallout gives the active context, if it is a stream, its entry in the
// SDK's contextIDToRootID before the SDK registers a callout for it.
func (t *httpContexts) noteCallout() {
	id := currentState.activeContextID
	if s := t.find(id); s != nil && !s.rooted {
		s.rooted = true
		currentState.contextIDToRootID[id] = s.rootID
	}
}

// delete forgets a stream; false if id is not one.
func (t *httpContexts) delete(id uint32) bool {
	s := t.find(id)
	if s == nil {
		return false
	}
	if s.rooted {
		delete(currentState.contextIDToRootID, id)
	}
	if slot := &t.slots[id%streamSlots]; s == slot {
		*slot = streamSlot{}
	} else {
		delete(t.spill, id)
	}
	return true
}
