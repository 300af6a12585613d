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
	"github.com/apiguard/apiguard/internal/wasmhost"
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

// TestPluginImportsOnlyWhatEnvoyProvides checks the module against the WASI
// set of every Envoy profile wasmhost knows (the oldest is Envoy 1.33,
// cpp-host #427): the runtime patch must keep fd_filestat_get and
// path_filestat_get out, and nothing else outside #427 may come in.
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
			for _, envoy := range wasmhost.EnvoyProfiles() {
				if !slices.Contains(envoy.WASI, name) {
					t.Errorf("import wasi_snapshot_preview1.%s: %s (%s) does not provide it", name, envoy.Releases, envoy.CppHost)
				}
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
