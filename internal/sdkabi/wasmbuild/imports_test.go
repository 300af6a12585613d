package wasmbuild_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/sdkabi"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// envoyHostCalls is every env.proxy_* function Envoy exports to a v0.2.x
// module: FOR_ALL_HOST_FUNCTIONS and FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC in
// proxy-wasm-cpp-host include/proxy-wasm/exports.h. proxy_get_log_level is
// left out on purpose: it exists only under ABI 0.2.1 and our module declares
// 0.2.0.
var envoyHostCalls = []string{
	"log", "get_status", "set_property", "get_property", "send_local_response",
	"get_shared_data", "set_shared_data", "register_shared_queue", "resolve_shared_queue",
	"dequeue_shared_queue", "enqueue_shared_queue", "get_header_map_value",
	"add_header_map_value", "replace_header_map_value", "remove_header_map_value",
	"get_header_map_pairs", "set_header_map_pairs", "get_header_map_size",
	"get_buffer_status", "get_buffer_bytes", "set_buffer_bytes",
	"http_call", "grpc_call", "grpc_stream", "grpc_close", "grpc_cancel", "grpc_send",
	"set_tick_period_milliseconds", "get_current_time_nanoseconds", "define_metric",
	"increment_metric", "record_metric", "get_metric", "set_effective_context", "done",
	"call_foreign_function",
	"continue_stream", "close_stream",
}

// envoyWASI is the wasi_snapshot_preview1 set of the Envoy builds that can run
// a standard-Go module at all: FOR_ALL_WASI_FUNCTIONS in exports.h, plus
// sched_yield, poll_oneoff and fd_fdstat_set_flags (cpp-host PR #427, Envoy
// 1.33+), plus fd_filestat_get and path_filestat_get (cpp-host PR #533,
// taken by Envoy PR #45756). Before #533, poll_oneoff returned ENOSYS and
// every Go module that links os died at its first GC, so #533 is our minimum
// anyway; the module links os through crypto/x509 (go-jose) and net, whose
// never-called file helpers import path_filestat_get. On an older Envoy the
// module then fails to load, which is better than crashing at the first GC.
var envoyWASI = []string{
	"fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "environ_get",
	"environ_sizes_get", "args_get", "args_sizes_get", "clock_time_get", "random_get",
	"proc_exit", "path_open", "fd_prestat_get", "fd_prestat_dir_name",
	"sched_yield", "poll_oneoff", "fd_fdstat_set_flags",
	"fd_filestat_get", "path_filestat_get",
}

func TestPluginImportsOnlyWhatEnvoyProvides(t *testing.T) {
	path := wasmbuild.ForTest(t, "./plugin")
	code, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.CompileModule(ctx, code)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var wasi []string
	for _, fn := range mod.ImportedFunctions() {
		module, name, _ := fn.Import()
		if module == "wasi_snapshot_preview1" && !slices.Contains(wasi, name) {
			wasi = append(wasi, name)
		}
		switch module {
		case "env":
			if len(name) < 6 || name[:6] != "proxy_" || !slices.Contains(envoyHostCalls, name[6:]) {
				t.Errorf("import env.%s: Envoy does not provide it", name)
			}
		case "wasi_snapshot_preview1":
			if !slices.Contains(envoyWASI, name) {
				t.Errorf("import wasi_snapshot_preview1.%s: Envoy does not provide it", name)
			}
		default:
			t.Errorf("import %s.%s: unknown import module", module, name)
		}
	}

	// The README lists the WASI imports, since they decide which Envoy can
	// load the module: keep it true.
	slices.Sort(wasi)
	if documented := readmeWASIList(t); !slices.Equal(documented, wasi) {
		t.Errorf("README.md lists the WASI imports %v; the module imports %v", documented, wasi)
	}

	exports := mod.ExportedFunctions()
	var versions []string
	for name := range exports {
		if len(name) > len("proxy_abi_version_") && name[:len("proxy_abi_version_")] == "proxy_abi_version_" {
			versions = append(versions, name)
		}
	}
	if len(versions) != 1 || versions[0] != sdkabi.ABIVersionExport {
		t.Errorf("ABI version exports = %v, want exactly [%s]", versions, sdkabi.ABIVersionExport)
	}
	for _, name := range append([]string{"_initialize"}, sdkabi.Callbacks...) {
		if _, ok := exports[name]; !ok {
			t.Errorf("export %s missing", name)
		}
	}
	if _, ok := exports["_start"]; ok {
		t.Error("module exports _start; a c-shared build must not")
	}
	if _, ok := mod.ExportedMemories()["memory"]; !ok {
		t.Error("memory not exported")
	}
}

// readmeWASIList returns the backticked names of the README paragraph that
// starts "The module imports exactly these WASI functions", sorted.
func readmeWASIList(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, ok := strings.Cut(string(readme), "The module imports exactly these WASI functions")
	if !ok {
		t.Fatal("README.md has no list of the WASI imports")
	}
	para, _, _ = strings.Cut(para, ". ")
	var names []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(para, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return names
}
