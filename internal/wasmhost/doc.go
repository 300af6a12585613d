// Package wasmhost runs a compiled Proxy-Wasm module the way Envoy does, so
// tests and the local gateway can send real HTTP through the plugin without
// Envoy.
//
// It is an Envoy stand-in, not a mock: every behaviour follows Envoy
// (source/extensions/common/wasm/context.cc, the HTTP filter manager) and
// proxy-wasm-cpp-host (src/wasm.cc, src/exports.cc, src/shared_data.cc,
// src/shared_queue.cc), and each file names the source it mirrors.
//
// # Lifecycle
//
//	mod, err := wasmhost.Compile(ctx, wasmBytes, wasmhost.Options{})   // compile once
//	plugin, err := mod.Start(ctx, wasmhost.PluginConfig{               // canary + N worker VMs
//		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
//		Configuration: []byte(`{...}`), Workers: 4,
//		Clusters: map[string]string{"idp": "http://127.0.0.1:8081"},
//	})
//	handler := plugin.Middleware(upstream)                          // an http.Handler
//	err = plugin.Reconfigure(ctx, newConfig)                        // canary, then a new root context
//	plugin.Close(); mod.Close(ctx)
//
// Start runs Envoy's configuration canary (a throw-away VM that runs
// _initialize, proxy_on_vm_start and proxy_on_configure), then starts the
// worker VMs. Each worker VM is a separate module instance serialised by its
// own mutex; the workers run concurrently and share one shared-data store
// (keyed by vm_id, with one global CAS counter) and one set of shared queues.
//
// # Envoy behaviours reproduced
//
//   - _initialize runs with the host-call allow-list of cpp-host
//     WasmBase::startVm; guest allocations run with the smaller allow-list
//     of WasmBase::allocMemory. A forbidden call traps the VM. The host
//     allocates in the guest at most once per host call.
//   - Strict WASI: exactly the wasi_snapshot_preview1 / wasi_unstable set of
//     cpp-host (include/proxy-wasm/exports.h), with its return codes. An
//     import of anything else fails Compile. Options.PollOneoffENOSYS
//     reproduces Envoy before cpp-host #533, where poll_oneoff returned
//     ENOSYS and Go modules died with "fatal error: poll_oneoff failed".
//   - HTTP streams: headers (with :method, :path, :authority, :scheme and
//     :status pseudo-headers), bodies in chunks, trailers, PAUSE/CONTINUE
//     (StopAllIterationAndWatermark, or StopIteration with
//     AllowOnHeadersStopIteration), buffering up to BufferLimit with 413/500
//     or a reset, deferred send_local_response and continue_stream, local
//     replies that pass back through the plugin's own response callbacks,
//     and on_log, on_done, on_delete in that order.
//   - Local replies to gRPC requests (content-type application/grpc or
//     application/grpc+…) become trailers-only responses as Envoy's
//     Utility::prepareLocalReply builds them: HTTP 200, grpc-status from
//     send_local_response's grpc_status or mapped from the HTTP status,
//     grpc-message the percent-encoded body, no body (grpcreply.go).
//   - proxy_http_call to named clusters mapped to real URLs over net/http,
//     with Envoy-made 503 (connection refused) and 504 (timeout) responses
//     and 0 headers for a reset.
//   - Ticks per VM and root context, metrics (counter, gauge, histogram)
//     readable through Stats and exportable in Prometheus text format,
//     logs captured by level, properties, shared queues.
//   - A guest trap fails its stream with 503 and details wasm_fail_stream,
//     keeps the guest's message, marks the VM failed, and the
//     FailurePolicy decides later requests.
//
// Responses produced by the host or by the plugin's local replies carry
// Envoy's response code details in the DetailsHeader header, so tests can
// tell a plugin's reply from an Envoy-made one. A stream reset panics with
// http.ErrAbortHandler, as net/http expects; run resets through a real
// http.Server (httptest.NewServer), not a ResponseRecorder.
//
// # Reading results in tests
//
//   - Plugin.Stats (Counter, Gauge, Histogram, Names, WritePrometheus)
//   - Plugin.Logs / LogsAt(level): guest log lines, stdout (info) and
//     stderr (error), as Envoy logs them
//   - Plugin.Traps: the trap messages, with the guest's stderr
//   - Plugin.SharedData: the vm_id's shared data (Get, Set, Keys)
//   - Plugin.FailedWorkers, Plugin.Reloads
//   - Options.ProfileHook: every host call and guest callback with its
//     duration, for profiling (e2e/bench lists a pass-through request's)
//
// # Limits of the stand-in
//
// The upstream handler runs to completion before the response callbacks
// start (responses are not streamed), and the request body reaches the
// upstream once the request side is done. Shared data and queues live in a
// SharedState (one per Module unless Options.SharedState shares one, as
// Envoy's process does across module versions with the same vm_id).
// Creating a shared-data key is not atomic, in Envoy either: a set on a
// missing key succeeds whatever the cas, so two first writers both win.
// Like Envoy's connection manager, the host adds x-request-id (a random
// UUID) and x-forwarded-proto when a request lacks them
// (PluginConfig.NoConnectionManagerHeaders turns this off).
package wasmhost
