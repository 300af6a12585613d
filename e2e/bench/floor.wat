;; floor.wat: the reference guest for the pass-through benchmark. It makes the
;; same host calls, in the same callbacks and order, as the apiguard plugin
;; does on a pass-through request with the empty configuration, with no
;; language runtime at all, so its cost is the host's floor.
;;
;; The plugin's calls per request (TestPassThroughHostCalls lists them; the
;; benchmark logs a warning when they no longer match):
;;   request_headers   monotonic clock, requests counter, every request header (pairs),
;;                     monotonic clock
;;   response_headers  monotonic clock, set_property apiguard.decision,
;;                     monotonic clock
;;   response_body     monotonic clock twice
;;   log               monotonic clock, 4 histogram samples, monotonic
;;                     clock, 1 sample
;; It exports the callbacks the plugin exports: no proxy_on_done, which the
;; host then skips (cpp-host ContextBase::onDone).
(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs"
    (func $get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property"
    (func $set_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric"
    (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric"
    (func $increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_record_metric"
    (func $record_metric (param i32 i64) (result i32)))

  (memory (export "memory") 4)
  (data (i32.const 80) "apiguard.decision")
  (data (i32.const 112) "allow")
  (data (i32.const 128) "floor.requests_total")
  (data (i32.const 192) ":path")
  (data (i32.const 160) "floor.latency_ms")
  ;; 64: counter id; 68: histogram id; 96: returned value pointer;
  ;; 100: returned value size; 104: clock result (8 bytes)
  (global $heap (mut i32) (i32.const 4096))

  (func (export "_initialize"))
  (func (export "proxy_abi_version_0_2_0"))

  ;; A bump allocator that wraps: every value the host hands over is read
  ;; within the callback that asked for it.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (if (i32.gt_u (i32.add (global.get $heap) (local.get $size)) (i32.const 262144))
      (then (global.set $heap (i32.const 4096))))
    (local.set $p (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (global.get $heap) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (local.get $p))

  ;; Go's time.Now on wasip1 reads the realtime, then the monotonic clock;
  ;; time.Since reads the monotonic clock.
  (func $now
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 104))))
  (func $since
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 104))))
  (func $sample
    (drop (call $record_metric (i32.load (i32.const 68)) (i64.const 1))))

  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (drop (call $define_metric (i32.const 0) (i32.const 128) (i32.const 20) (i32.const 64)))
    (drop (call $define_metric (i32.const 2) (i32.const 160) (i32.const 16) (i32.const 68)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32))
  (func (export "proxy_on_queue_ready") (param i32 i32))

  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (call $now)
    (drop (call $increment_metric (i32.load (i32.const 64)) (i64.const 1)))
    (drop (call $get_header_map_pairs (i32.const 0) (i32.const 96) (i32.const 100)))
    (call $since)
    (i32.const 0))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_request_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
    (call $now)
    (drop (call $set_property (i32.const 80) (i32.const 17) (i32.const 112) (i32.const 5)))
    (call $since)
    (i32.const 0))
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32)
    (call $now)
    (call $since)
    (i32.const 0))
  (func (export "proxy_on_response_trailers") (param i32 i32) (result i32) (i32.const 0))
  (func (export "proxy_on_http_call_response") (param i32 i32 i32 i32 i32))
  (func (export "proxy_on_log") (param i32)
    (call $now)
    (call $sample)
    (call $sample)
    (call $sample)
    (call $sample)
    (call $since)
    (call $sample))
  (func (export "proxy_on_delete") (param i32))
)
