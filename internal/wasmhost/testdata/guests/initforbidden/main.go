// Command initforbidden is a test guest that defines a metric in init(),
// which Envoy forbids during _initialize: the VM must trap.
package main

import "unsafe"

func main() {}

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name string, id *uint32) uint32

var metricID uint32

func init() { proxyDefineMetric(0, "defined_in_init", &metricID) }

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
	buf := make([]byte, size+1)
	return (*byte)(unsafe.Pointer(&buf[0]))
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(id, root uint32) {}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_configure
func proxyOnConfigure(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(id, n, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 { return 1 }

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {}
