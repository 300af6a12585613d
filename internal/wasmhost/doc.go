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
//     import of anything else fails Compile.
//   - Envoy profiles (Options.Envoy, envoy.go): Envoy 1.33 (cpp-host #427),
//     1.35 (the allow_on_headers_stop_iteration knob) and main (cpp-host
//     #533) differ in their WASI set, their poll_oneoff (ENOSYS before
//     #533, on which a stock Go runtime dies with "fatal error: poll_oneoff
//     failed") and their allow-lists. Plugin.PollOneoffCalls counts the
//     guest's poll_oneoff calls and timer waits by phase.
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
//   - Header-map lifetime (context.cc decodeHeaders, encodeHeaders,
//     continueStream, getMap, getConstMap, log): a map is readable and
//     writable only while Envoy points at it. The request headers go when
//     on_request_headers returns Continue or on proxy_continue_stream (of
//     either direction, as Envoy's switch falls through); the response
//     headers when on_response_headers returns Continue; trailers likewise.
//     After that a read or write is BAD_ARGUMENT and get_header_map_pairs an
//     empty list with OK; on_log reads the access-log copies (NOT_FOUND for
//     a missing map, request trailers included). Body buffers outside their
//     callback read as empty and refuse writes, except a body the filter is
//     buffering, which stays readable and writable, trailers callback
//     included. Callout response maps are read-only. In the last body
//     callback of a direction without trailers, writing its trailers adds
//     them (getMap's addDecodedTrailers / addEncodedTrailers).
//   - Responses stream as an HTTP/1.1 upstream's do through Envoy's router
//     (http1/codec_impl.cc): the headers when the upstream sends them (a
//     Flush, a full 4 KiB write buffer, or the handler's return, as
//     net/http), each body piece without end of stream, then the trailers or
//     an empty end-of-stream chunk; request bodies arrive the same way. While
//     the filter holds everything (StopAllIterationAndWatermark) the
//     upstream's writes block past BufferLimit (watermark), and on continue
//     the filter gets what waited in one callback (commonContinue). The
//     handler runs on the stream's goroutine and its writes drive the
//     callbacks, as a worker runs the filter chain as bytes arrive. An
//     upstream reset before its headers is the router's 503 through the
//     filter chain; after them, a downstream reset. 1xx responses never
//     reach the plugin (encode1xxHeaders).
//   - proxy_set_buffer_bytes as Envoy's Buffer::copyFrom: start 0 drains
//     size bytes then prepends, start at or past the end appends, anything
//     else is BAD_ARGUMENT.
//   - proxy_http_call to named clusters mapped to real URLs over net/http.
//     Failures before the response headers arrive as the router's local
//     replies (503 refused or reset, 504 timeout); a failure after them, or
//     a body over kBufferLimitForResponse (32 MiB), calls back with 0
//     headers.
//   - send_local_response keeps the status code as given, replaces
//     whitespace in details (StringUtil::replaceAllEmptySpace) and takes a
//     grpc_status outside 0..16 as none; set_property in a root context is
//     NOT_FOUND; imports must match cpp-host's signatures (its path_link has
//     6 parameters and path_symlink 4), checked at Compile.
//   - Linear memory capped at 1 GiB per VM (cpp-host limits.h;
//     Options.MemoryLimitBytes lowers it): past it the Go runtime aborts and
//     the VM fails.
//   - Ticks per VM and root context, metrics (counter, gauge, histogram)
//     readable through Stats and exportable in Prometheus text format,
//     logs captured by level, properties (xds.route_name per stream through
//     PluginConfig.RouteName), shared queues.
//   - A guest trap fails its stream with 503 and details wasm_fail_stream,
//     keeps the guest's message, marks the VM failed, and the
//     FailurePolicy decides later requests.
//
// Responses produced by the host or by the plugin's local replies carry
// Envoy's response code details in the DetailsHeader header, so tests can
// tell a plugin's reply from an Envoy-made one. A stream reset panics with
// http.ErrAbortHandler, as net/http expects; run resets through a real
// http.Server (httptest.NewServer), not a ResponseRecorder. A response
// streams to the client only through a writer that implements http.Flusher.
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
// # Differences from Envoy that remain
//
// Each is one a test of apiguard cannot observe, for the reason given.
// e2e/conformance holds the assertions on everything above, each naming its
// Envoy source; they run here, under V8 (the runtime cases) and in a real
// Envoy when one is on PATH.
//
//   - The request body reaches the upstream once the request side is done,
//     not streamed upstream. The plugin's callbacks see the same chunks and
//     flags; only the upstream's timing differs, and no verdict of the
//     plugin depends on when the upstream reads.
//   - Chunk boundaries follow ChunkSize and the upstream's writes, not
//     socket reads, and end of stream always comes as an empty body
//     callback of its own, as from Envoy's HTTP/1 codec (net/http hides
//     where an HTTP/2 client's END_STREAM falls; Envoy may flag the last
//     data chunk). Envoy's boundaries are arbitrary too; apiguard judges
//     bodies at end of stream whatever the chunk's size, and tests vary
//     ChunkSize.
//   - 1xx responses are dropped, not forwarded to the client. Envoy forwards
//     some (proxy_100_continue, 103); the plugin sees none in either.
//   - Only paused streams time out (StreamTimeout, as the route timeout
//     would); a slow upstream that keeps sending is not cut off. Tests that
//     rely on a timeout pause the stream.
//   - Responses the host or a local reply made carry DetailsHeader with
//     Envoy's response code details; Envoy writes them to the access log.
//     The plugin never sees the header: it is added after its callbacks.
//   - There is no route table or cluster configuration: xds.route_name comes
//     from PluginConfig.RouteName per stream, other route, cluster and node
//     attributes only from Properties, the same for every stream. apiguard
//     reads no attribute the host lacks (source.address, destination.port,
//     plugin_name, plugin_root_id, xds.route_name).
//   - Callouts go through net/http, without Envoy's cluster features
//     (circuit breakers, retries, pool limits). Each failure class still
//     reaches the plugin in the shape Envoy gives it (router 503 or 504,
//     0 headers), and those shapes are what the plugin judges.
//   - gRPC callouts find no gRPC service, as in an Envoy configured with
//     none; apiguard makes none.
//
// Shared data and queues live in a SharedState (one per Module unless
// Options.SharedState shares one, as Envoy's process does across module
// versions with the same vm_id). Creating a shared-data key is not atomic,
// in Envoy either: a set on a missing key succeeds whatever the cas, so two
// first writers both win. Like Envoy's connection manager, the host adds
// x-request-id (a random UUID) and x-forwarded-proto when a request lacks
// them (PluginConfig.NoConnectionManagerHeaders turns this off).
package wasmhost
