// Package sdkabi is the Proxy-Wasm ABI for the tetratelabs proxy-wasm-go-sdk
// compiled by the standard Go toolchain (GOOS=wasip1, -buildmode=c-shared).
//
// The SDK v0.24.0 targets TinyGo: its host calls are `//export` declarations
// that only TinyGo turns into imports, and under the standard compiler they go
// to an in-process mock. The files in this directory, tagged apiguard_sdkabi
// and written as package internal, replace that mock at build time:
// hostcalls.go declares every host call the SDK uses as `//go:wasmimport env`,
// and callbacks.go exports every SDK callback with `//go:wasmexport`, keeping
// the HTTP contexts in its own table rather than the SDK's maps (see there),
// and serving an allocation from a block direct lends it (the reused
// response-body block, direct.ResponseBody).
// cmd/wasmbuild copies the SDK module under build/, drops its mock file, adds
// these files to its internal package and compiles the plugin against that
// copy with -modfile. No SDK code is committed, and native builds of this
// repository never see the tagged files.
//
// The wasmimport/wasmexport signatures follow the Proxy-Wasm ABI v0.2.0
// (https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.0), where
// every size and pointer is an i32. The SDK's Go signatures use int and **byte,
// which the standard compiler does not accept on wasmimport functions, so each
// host call is a thin Go wrapper around its import.
package sdkabi

// ABIVersionExport is the single proxy_abi_version_* export of the module.
// The SDK implements the v0.2.0 callbacks (no proxy_get_log_level), so the
// module declares exactly that version.
const ABIVersionExport = "proxy_abi_version_0_2_0"

// HostCalls lists every env.* import the SDK can make, in the order of
// proxy-wasm-go-sdk proxywasm/internal/abi_hostcalls.go.
var HostCalls = []string{
	"proxy_log",
	"proxy_send_local_response",
	"proxy_get_shared_data",
	"proxy_set_shared_data",
	"proxy_register_shared_queue",
	"proxy_resolve_shared_queue",
	"proxy_dequeue_shared_queue",
	"proxy_enqueue_shared_queue",
	"proxy_get_header_map_value",
	"proxy_add_header_map_value",
	"proxy_replace_header_map_value",
	"proxy_remove_header_map_value",
	"proxy_get_header_map_pairs",
	"proxy_set_header_map_pairs",
	"proxy_get_buffer_bytes",
	"proxy_set_buffer_bytes",
	"proxy_continue_stream",
	"proxy_close_stream",
	"proxy_http_call",
	"proxy_call_foreign_function",
	"proxy_set_tick_period_milliseconds",
	"proxy_set_effective_context",
	"proxy_done",
	"proxy_define_metric",
	"proxy_increment_metric",
	"proxy_record_metric",
	"proxy_get_metric",
	"proxy_get_property",
	"proxy_set_property",
}

// Callbacks lists every proxy_on_* export the module provides: lifecycle,
// configuration, HTTP, L4, timer, queue, HTTP call response and allocation.
// proxy_on_done is left out on purpose (callbacks.go says why).
var Callbacks = []string{
	"proxy_on_memory_allocate",
	"proxy_on_context_create",
	"proxy_on_vm_start",
	"proxy_on_configure",
	"proxy_on_tick",
	"proxy_on_queue_ready",
	"proxy_on_request_headers",
	"proxy_on_request_body",
	"proxy_on_request_trailers",
	"proxy_on_response_headers",
	"proxy_on_response_body",
	"proxy_on_response_trailers",
	"proxy_on_http_call_response",
	"proxy_on_new_connection",
	"proxy_on_downstream_data",
	"proxy_on_downstream_connection_close",
	"proxy_on_upstream_data",
	"proxy_on_upstream_connection_close",
	"proxy_on_log",
	"proxy_on_delete",
}

// Files are the tagged sources that cmd/wasmbuild adds to the SDK's
// proxywasm/internal package.
var Files = []string{"hostcalls.go", "callbacks.go"}
