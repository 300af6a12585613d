package wasmhost

import (
	"fmt"
	"slices"
	"strings"
)

// EnvoyProfile is what one line of Envoy releases gives a Wasm module, read
// from the proxy-wasm-cpp-host commit those releases embed: the WASI
// functions, how poll_oneoff answers, the host calls allowed while
// _initialize and the guest allocator run, and whether
// PluginConfig.allow_on_headers_stop_iteration exists. Select one with
// Options.Envoy; the zero Options run the newest, EnvoyMain.
type EnvoyProfile struct {
	// Name is what devproxy's --envoy flag and test names use.
	Name string
	// Releases are the Envoy releases the profile stands for.
	Releases string
	// CppHost is the proxy-wasm-cpp-host commit the profile mirrors.
	CppHost string
	// WASI lists the wasi_snapshot_preview1 / wasi_unstable functions the
	// host registers (include/proxy-wasm/exports.h FOR_ALL_WASI_FUNCTIONS).
	// A module importing anything else does not load.
	WASI []string
	// PollOneoffENOSYS: poll_oneoff returns ENOSYS instead of "no events".
	// A stock Go runtime throws "poll_oneoff failed" on it (golang/go#78513).
	PollOneoffENOSYS bool
	// InitAllowed and MallocAllowed are the restricted-callback lists of
	// WasmBase::startVm (src/wasm.cc) and WasmBase::allocMemory
	// (include/proxy-wasm/wasm.h), as "module.function".
	InitAllowed, MallocAllowed []string
	// StopIterationKnob: PluginConfig.allow_on_headers_stop_iteration
	// exists (cpp-host #434, Envoy PR #40213, Envoy 1.35).
	StopIterationKnob bool
}

// wasi427 is FOR_ALL_WASI_FUNCTIONS at cpp-host c4d7bb0 (PR #427): the
// first set a standard-Go module can link against.
var wasi427 = []string{
	"fd_write", "fd_read", "fd_seek", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags",
	"environ_get", "environ_sizes_get", "args_get", "args_sizes_get", "clock_time_get",
	"random_get", "sched_yield", "poll_oneoff", "proc_exit", "path_open",
	"fd_prestat_get", "fd_prestat_dir_name",
}

// wasi533 is FOR_ALL_WASI_FUNCTIONS at cpp-host 94091cd (PR #533).
var wasi533 = append(slices.Clone(wasi427),
	"fd_fdstat_set_rights", "clock_res_get", "fd_advise", "fd_allocate", "fd_datasync",
	"fd_filestat_set_size", "fd_filestat_set_times", "fd_pread", "fd_pwrite", "fd_readdir",
	"fd_renumber", "fd_sync", "fd_tell", "path_create_directory", "path_filestat_set_times",
	"path_link", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
	"path_unlink_file", "sock_accept", "sock_recv", "sock_send", "sock_shutdown",
	"path_filestat_get", "fd_filestat_get",
)

func wasiNames(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = wasiSnapshot + "." + n
	}
	return out
}

// init427 is WasmBase::startVm's list at cpp-host c4d7bb0: no sched_yield,
// no poll_oneoff.
var init427 = append([]string{"env.proxy_log"}, wasiNames(
	"fd_write", "args_sizes_get", "args_get", "environ_sizes_get", "environ_get",
	"fd_prestat_get", "fd_prestat_dir_name", "clock_time_get", "random_get",
	"fd_fdstat_get", "fd_fdstat_set_flags")...)

// init533 is WasmBase::startVm's list at cpp-host 94091cd: poll_oneoff,
// clock_res_get and every stub #533 added (still no sched_yield).
var init533 = append([]string{"env.proxy_log"}, wasiNames(
	"fd_write", "args_sizes_get", "args_get", "environ_sizes_get", "environ_get",
	"clock_time_get", "clock_res_get", "random_get", "poll_oneoff", "fd_fdstat_get",
	"fd_fdstat_set_flags", "fd_advise", "fd_allocate", "fd_datasync", "fd_fdstat_set_rights",
	"fd_filestat_get", "fd_filestat_set_size", "fd_filestat_set_times", "fd_pread",
	"fd_prestat_dir_name", "fd_prestat_get", "fd_pwrite", "fd_readdir", "fd_renumber",
	"fd_sync", "fd_tell", "path_create_directory", "path_filestat_get",
	"path_filestat_set_times", "path_link", "path_readlink", "path_remove_directory",
	"path_rename", "path_symlink", "path_unlink_file", "sock_accept", "sock_recv",
	"sock_send", "sock_shutdown")...)

// malloc427 is WasmBase::allocMemory's list before cpp-host #533; #533
// added poll_oneoff ("go runtime gc sleep").
var (
	malloc427 = append([]string{"env.proxy_log"}, wasiNames("fd_write", "clock_time_get")...)
	malloc533 = append(slices.Clone(malloc427), wasiSnapshot+".poll_oneoff")
)

// The profiles. Between cpp-host c4d7bb0 (#427) and beb8a4e, the commit
// Envoy embedded until PR #45756, the WASI set and both allow-lists did not
// change (14fa83a only allowed env.emscripten_notify_memory_growth during
// _initialize, which a Go module never imports); #434 added the
// stop-iteration knob that Envoy 1.35 exposes.
var (
	// Envoy133 is Envoy 1.33 and 1.34: cpp-host PR #427, the first with
	// sched_yield, poll_oneoff (ENOSYS) and fd_fdstat_set_flags. Envoy
	// 1.33.0's release notes: "Added support for Wasm plugins written in
	// Go ... compiled with Go v1.24+".
	Envoy133 = EnvoyProfile{
		Name: "1.33", Releases: "Envoy 1.33, 1.34",
		CppHost: "proxy-wasm-cpp-host c4d7bb0 (PR #427)",
		WASI:    wasi427, PollOneoffENOSYS: true,
		InitAllowed: init427, MallocAllowed: malloc427,
	}
	// Envoy135 is Envoy 1.35 to 1.38: the same host calls, plus
	// PluginConfig.allow_on_headers_stop_iteration (Envoy PR #40213 on
	// cpp-host PR #434).
	Envoy135 = EnvoyProfile{
		Name: "1.35", Releases: "Envoy 1.35, 1.36, 1.37, 1.38",
		CppHost: "proxy-wasm-cpp-host 7a212bc (PR #434); unchanged for this profile up to beb8a4e",
		WASI:    wasi427, PollOneoffENOSYS: true,
		InitAllowed: init427, MallocAllowed: malloc427,
		StopIterationKnob: true,
	}
	// EnvoyMain is Envoy main since PR #45756 (June 2026; 1.39 expected,
	// not yet confirmed by a release note): cpp-host 09e5f8d, which contains
	// PR #533 (every WASI function Go imports, poll_oneoff answering "no
	// events", poll_oneoff allowed during _initialize and allocation).
	EnvoyMain = EnvoyProfile{
		Name: "main", Releases: "Envoy main since PR #45756 (cpp-host #533)",
		CppHost: "proxy-wasm-cpp-host 09e5f8d (contains PR #533)",
		WASI:    wasi533, InitAllowed: init533, MallocAllowed: malloc533,
		StopIterationKnob: true,
	}
)

// EnvoyProfiles lists every profile, oldest first.
func EnvoyProfiles() []EnvoyProfile { return []EnvoyProfile{Envoy133, Envoy135, EnvoyMain} }

// EnvoyProfileFor returns the profile of an Envoy release line: "1.33" to
// "1.38", or "main" for a build containing cpp-host #533.
func EnvoyProfileFor(version string) (EnvoyProfile, error) {
	switch strings.TrimPrefix(version, "v") {
	case "1.33", "1.34":
		return Envoy133, nil
	case "1.35", "1.36", "1.37", "1.38":
		return Envoy135, nil
	case "main", "533":
		return EnvoyMain, nil
	}
	return EnvoyProfile{}, fmt.Errorf("wasmhost: unknown Envoy version %q: want 1.33 to 1.38, or main (cpp-host #533); "+
		"Envoy before 1.33 cannot load a standard-Go module", version)
}

// envoy returns the profile the module runs under.
func (m *Module) envoy() *EnvoyProfile {
	if m.opts.Envoy != nil {
		return m.opts.Envoy
	}
	return &EnvoyMain
}
