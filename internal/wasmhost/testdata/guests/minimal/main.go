// Command minimal is the smallest standard-Go Proxy-Wasm guest: every
// callback continues and no host call is made. Benchmarks use it to
// measure the host and the Go wasm call overhead without plugin work.
package main

func main() {}

//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) *byte {
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
func proxyOnRequestHeaders(id, n, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(id, size, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(id, n, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(id, size, eos uint32) uint32 { return 0 }

//go:wasmexport proxy_on_log
func proxyOnLog(id uint32) {}

//go:wasmexport proxy_on_done
func proxyOnDone(id uint32) uint32 { return 1 }

//go:wasmexport proxy_on_delete
func proxyOnDelete(id uint32) {}
