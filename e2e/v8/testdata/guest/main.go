// Command guest is a tiny proxy-wasm plugin written against the raw ABI with
// the standard Go compiler. It exists so the V8 smoke test always has a module
// to run, even before build/apiguard.wasm is built: it links encoding/json
// (and so `os`) and forces a GC, the two things that broke standard-Go
// modules on older Envoys.
//
// Behaviour: configure reads {"deny_path": "..."}; a request to deny_path gets
// a 403 local reply, any other request gets an x-guard: seen header; the
// plugin's own reply is marked x-own-reply: 1 on its way out.
package main

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

func main() {}

const (
	mapRequestHeaders  = 0
	mapResponseHeaders = 2
	bufferPluginConfig = 7
	metricCounter      = 0
	logInfo            = 2
	actionContinue     = 0
	actionPause        = 1
)

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg string) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType, start, maxSize uint32, retData, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key string, retData, retSize unsafe.Pointer) uint32

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key, value string) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details, body string, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name string, retID unsafe.Pointer) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

type rootConfig struct {
	DenyPath string `json:"deny_path"`
}

var (
	cfg       rootConfig
	requests  uint32
	ownReply  = map[uint32]bool{}
	allocated []byte // keeps the latest host allocation reachable until the host has written it
)

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	if size == 0 {
		return nil
	}
	allocated = make([]byte, size)
	return &allocated[0]
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentID uint32) {}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootID, vmConfigSize uint32) bool { return true }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootID, size uint32) bool {
	var data *byte
	var n uint32
	if size > 0 {
		if st := proxyGetBufferBytes(bufferPluginConfig, 0, size, unsafe.Pointer(&data), unsafe.Pointer(&n)); st != 0 {
			proxyLog(4, "guest: cannot read plugin config")
			return false
		}
	}
	raw := []byte("{}")
	if n > 0 {
		raw = unsafe.Slice(data, n)
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		proxyLog(4, "guest: bad plugin config: "+err.Error())
		return false
	}
	if proxyDefineMetric(metricCounter, "v8guest.requests", unsafe.Pointer(&requests)) != 0 {
		return false
	}
	runtime.GC()
	proxyLog(logInfo, "guest: configured, deny_path="+cfg.DenyPath)
	return true
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID, numHeaders uint32, endOfStream bool) uint32 {
	proxyIncrementMetric(requests, 1)
	var data *byte
	var n uint32
	if proxyGetHeaderMapValue(mapRequestHeaders, ":path", unsafe.Pointer(&data), unsafe.Pointer(&n)) != 0 {
		return actionContinue
	}
	path := string(unsafe.Slice(data, n))
	if cfg.DenyPath != "" && path == cfg.DenyPath {
		ownReply[contextID] = true
		// One header, x-guard: v8guest, in the proxy-wasm map encoding.
		hdr := []byte{1, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0}
		hdr = append(hdr, "x-guard\x00v8guest\x00"...)
		proxySendLocalResponse(403, "v8guest_denied", "denied\n", unsafe.Pointer(&hdr[0]), uint32(len(hdr)), -1)
		return actionPause
	}
	proxyAddHeaderMapValue(mapRequestHeaders, "x-guard", "seen")
	return actionContinue
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(contextID, size uint32, endOfStream bool) uint32 { return actionContinue }

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(contextID, numHeaders uint32, endOfStream bool) uint32 {
	if ownReply[contextID] {
		proxyAddHeaderMapValue(mapResponseHeaders, "x-own-reply", "1")
	}
	return actionContinue
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(contextID, size uint32, endOfStream bool) uint32 { return actionContinue }

//go:wasmexport proxy_on_log
func proxyOnLog(contextID uint32) {}

//go:wasmexport proxy_on_done
func proxyOnDone(contextID uint32) bool { return true }

//go:wasmexport proxy_on_delete
func proxyOnDelete(contextID uint32) { delete(ownReply, contextID) }
