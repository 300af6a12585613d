//go:build wasip1

package direct

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// Spec: https://github.com/proxy-wasm/spec/blob/main/abi-versions/v0.2.0/README.md

//go:wasmimport env proxy_set_property
func abiSetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func abiGetHeaderMapPairs(mapType uint32, value unsafe.Pointer, valueSize *uint32) uint32

// mapRequestHeaders is the request header map (Proxy-Wasm MapType 0).
const mapRequestHeaders = 0

// SetProperty sets a property to value, which the host copies.
func SetProperty(path Path, value string) error {
	if path.raw == "" || value == "" {
		return errors.New("proxy_set_property: empty path or value")
	}
	if st := abiSetProperty(unsafe.Pointer(unsafe.StringData(path.raw)), uint32(len(path.raw)),
		unsafe.Pointer(unsafe.StringData(value)), uint32(len(value))); st != 0 {
		return fmt.Errorf("proxy_set_property: host status %d", st)
	}
	return nil
}

// RequestHeaders reads every request header in one host call and appends
// the pairs to dst[:0]. The names and values share the one block the host
// wrote (allocated through proxy_on_memory_allocate, so the garbage
// collector keeps it while any of them is used); only dst's backing array
// is reused, so a caller may keep the strings but not the slice.
func RequestHeaders(dst [][2]string) ([][2]string, error) {
	// The host writes a 4-byte guest pointer into retBlock, an 8-byte Go
	// pointer set to nil first, so its upper half stays zero; being a
	// global, the collector sees the block from the moment the host
	// returns. Globals, not locals: a local whose address goes to an import
	// is moved to the heap, two allocations a read. A VM is one thread and
	// nothing re-enters here during the call (the host's allocation
	// callback only allocates).
	retBlock, retSize = nil, 0
	st := abiGetHeaderMapPairs(mapRequestHeaders, unsafe.Pointer(&retBlock), &retSize)
	raw, size := retBlock, retSize
	retBlock = nil // the strings keep the block alive, not this variable
	if st != 0 {
		return nil, fmt.Errorf("proxy_get_header_map_pairs: host status %d", st)
	}
	if raw == nil || size == 0 {
		return dst[:0], nil
	}
	return decodePairs(dst[:0], unsafe.Slice(raw, size))
}

// The return slots of abiGetHeaderMapPairs.
var (
	retBlock *byte
	retSize  uint32
)

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(clockID uint32, precision uint64, time unsafe.Pointer) uint32

// clockMonotonic is WASI's CLOCK_MONOTONIC.
const clockMonotonic = 1

// Monotonic reads the monotonic clock in one host call, as Go's runtime
// does for time.Since (nanotime1) but without the runtime's and package
// time's steps around it, which a request's callbacks pay ten times. Only
// differences of its values mean anything. 0 if the host refuses.
func Monotonic() time.Duration {
	if clockTimeGet(clockMonotonic, 1, unsafe.Pointer(&clockNow)) != 0 {
		return 0
	}
	return time.Duration(clockNow)
}

// clockNow is Monotonic's and Wall's result slot, a global for
// RequestHeaders' reason.
var clockNow uint64

// clockRealtime is WASI's CLOCK_REALTIME.
const clockRealtime = 0

// Wall reads the wall clock in one host call: time.Now reads the monotonic
// clock too (walltime and nanotime), a second one. The time carries no
// monotonic reading, so it compares and subtracts as wall times do. If the
// host refuses, it is time.Now's.
func Wall() time.Time {
	if clockTimeGet(clockRealtime, 1, unsafe.Pointer(&clockNow)) != 0 {
		return time.Now().Round(0)
	}
	return time.Unix(0, int64(clockNow))
}

//go:wasmimport env proxy_increment_metric
func abiIncrementMetric(metricID uint32, offset int64) uint32

//go:wasmimport env proxy_record_metric
func abiRecordMetric(metricID uint32, value uint64) uint32

// IncrementMetric adds offset to a counter or gauge. A host error is
// dropped: a metric must not take a request down with it (the SDK's
// MetricCounter.Increment panics on one).
func IncrementMetric(metricID uint32, offset int64) { abiIncrementMetric(metricID, offset) }

// RecordMetric records a histogram sample or sets a gauge; a host error is
// dropped, as IncrementMetric's.
func RecordMetric(metricID uint32, value uint64) { abiRecordMetric(metricID, value) }

//go:wasmimport env proxy_log
func abiLog(level uint32, message unsafe.Pointer, messageSize uint32) uint32

// Log writes message to the host's log at level, from the caller's buffer:
// the SDK's proxywasm.LogInfo and friends take a string, and the audit line
// is a []byte reused from one event to the next, so going through them
// copies every line into a fresh string. The host copies the message
// during the call. A host error is dropped, as the SDK drops it.
func Log(level LogLevel, message []byte) {
	abiLog(uint32(level), unsafe.Pointer(unsafe.SliceData(message)), uint32(len(message)))
}
