// Command gcphases is a test guest that forces Go garbage collections where
// Envoy restricts host calls: in _initialize (package init), inside
// proxy_on_memory_allocate, and inside request callbacks. The VM environment
// variable GC_AT lists where ("init,malloc,request"); WAIT_MS makes the
// request callback sleep, a timer wait. The tests build it twice, with and
// without the runtime patch of internal/sdkabi/wasmbuild.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

func main() {}

var (
	gcAt   = os.Getenv("GC_AT")
	waitMS = os.Getenv("WAIT_MS")
)

func init() {
	// The first timer starts Go's network poller (runtime/time.go addHeap);
	// from then on every GC polls it. In a real plugin the GC's scavenger
	// or any library timer does this; here it happens before the first GC.
	time.AfterFunc(24*time.Hour, func() {})
	if strings.Contains(gcAt, "init") {
		runtime.GC()
		proxyLog(2, fmt.Sprintf("gc in init: cycles %d", gcCycles()))
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg string) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key string, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	if strings.Contains(gcAt, "malloc") {
		runtime.GC()
	}
	buf := make([]byte, size+1)
	return &buf[0]
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, root uint32) {}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 {
	before := gcCycles()
	if strings.Contains(gcAt, "request") {
		runtime.GC()
	}
	// The host copies the value into memory it asks proxy_on_memory_allocate for.
	var p *byte
	var size uint32
	proxyGetHeaderMapValue(0, ":path", unsafe.Pointer(&p), &size)
	if ms, err := strconv.Atoi(waitMS); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	proxyLog(2, fmt.Sprintf("gc in request: cycles %d", gcCycles()-before))
	return 0
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 {
	if strings.Contains(gcAt, "request") {
		runtime.GC()
	}
	return 0
}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 { return 1 }

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {}
