//go:build apiguard_sdkabi

// Host calls of the Proxy-Wasm ABI v0.2.0 for the standard Go compiler.
// Each `//go:wasmimport env proxy_*` declaration uses only i32/i64-lowered
// types (uint32, uint64, int64, unsafe.Pointer); the exported Proxy* wrapper
// keeps the SDK's signature. Spec:
// https://github.com/proxy-wasm/spec/blob/main/abi-versions/v0.2.0/README.md
//
// Return slots: a `**byte` slot is handed to the host as is, so the host
// writes the guest pointer it got from proxy_on_memory_allocate straight into
// a typed Go pointer variable that the garbage collector sees (the host
// allocates at most once per call, so nothing can collect the buffer first).
// Go's *byte is 8 bytes on wasm and the host writes 4; the SDK always passes a
// fresh nil variable, so the upper half stays zero. A `*int` slot is 8 bytes
// too, so sizes go through a uint32 and are copied out.

package internal

import "unsafe"

//go:wasmimport env proxy_log
func abiLog(level uint32, msg unsafe.Pointer, msgSize uint32) uint32

func ProxyLog(logLevel LogLevel, messageData *byte, messageSize int) Status {
	return Status(abiLog(uint32(logLevel), unsafe.Pointer(messageData), uint32(messageSize)))
}

//go:wasmimport env proxy_send_local_response
func abiSendLocalResponse(statusCode uint32, details unsafe.Pointer, detailsSize uint32,
	body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

func ProxySendLocalResponse(statusCode uint32, statusCodeDetailData *byte, statusCodeDetailsSize int,
	bodyData *byte, bodySize int, headersData *byte, headersSize int, grpcStatus int32) Status {
	return Status(abiSendLocalResponse(statusCode,
		unsafe.Pointer(statusCodeDetailData), uint32(statusCodeDetailsSize),
		unsafe.Pointer(bodyData), uint32(bodySize),
		unsafe.Pointer(headersData), uint32(headersSize), grpcStatus))
}

//go:wasmimport env proxy_get_shared_data
func abiGetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize *uint32, cas *uint32) uint32

func ProxyGetSharedData(keyData *byte, keySize int, returnValueData **byte, returnValueSize *int, returnCas *uint32) Status {
	var size uint32
	st := abiGetSharedData(unsafe.Pointer(keyData), uint32(keySize), unsafe.Pointer(returnValueData), &size, returnCas)
	*returnValueSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_set_shared_data
func abiSetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32, cas uint32) uint32

func ProxySetSharedData(keyData *byte, keySize int, valueData *byte, valueSize int, cas uint32) Status {
	return Status(abiSetSharedData(unsafe.Pointer(keyData), uint32(keySize), unsafe.Pointer(valueData), uint32(valueSize), cas))
}

//go:wasmimport env proxy_register_shared_queue
func abiRegisterSharedQueue(name unsafe.Pointer, nameSize uint32, queueID *uint32) uint32

func ProxyRegisterSharedQueue(nameData *byte, nameSize int, returnID *uint32) Status {
	return Status(abiRegisterSharedQueue(unsafe.Pointer(nameData), uint32(nameSize), returnID))
}

//go:wasmimport env proxy_resolve_shared_queue
func abiResolveSharedQueue(vmID unsafe.Pointer, vmIDSize uint32, name unsafe.Pointer, nameSize uint32, queueID *uint32) uint32

func ProxyResolveSharedQueue(vmIDData *byte, vmIDSize int, nameData *byte, nameSize int, returnID *uint32) Status {
	return Status(abiResolveSharedQueue(unsafe.Pointer(vmIDData), uint32(vmIDSize), unsafe.Pointer(nameData), uint32(nameSize), returnID))
}

//go:wasmimport env proxy_dequeue_shared_queue
func abiDequeueSharedQueue(queueID uint32, value unsafe.Pointer, valueSize *uint32) uint32

func ProxyDequeueSharedQueue(queueID uint32, returnValueData **byte, returnValueSize *int) Status {
	var size uint32
	st := abiDequeueSharedQueue(queueID, unsafe.Pointer(returnValueData), &size)
	*returnValueSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_enqueue_shared_queue
func abiEnqueueSharedQueue(queueID uint32, value unsafe.Pointer, valueSize uint32) uint32

func ProxyEnqueueSharedQueue(queueID uint32, valueData *byte, valueSize int) Status {
	return Status(abiEnqueueSharedQueue(queueID, unsafe.Pointer(valueData), uint32(valueSize)))
}

//go:wasmimport env proxy_get_header_map_value
func abiGetHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize *uint32) uint32

func ProxyGetHeaderMapValue(mapType MapType, keyData *byte, keySize int, returnValueData **byte, returnValueSize *int) Status {
	var size uint32
	st := abiGetHeaderMapValue(uint32(mapType), unsafe.Pointer(keyData), uint32(keySize), unsafe.Pointer(returnValueData), &size)
	*returnValueSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_add_header_map_value
func abiAddHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

func ProxyAddHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return Status(abiAddHeaderMapValue(uint32(mapType), unsafe.Pointer(keyData), uint32(keySize), unsafe.Pointer(valueData), uint32(valueSize)))
}

//go:wasmimport env proxy_replace_header_map_value
func abiReplaceHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) uint32

func ProxyReplaceHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return Status(abiReplaceHeaderMapValue(uint32(mapType), unsafe.Pointer(keyData), uint32(keySize), unsafe.Pointer(valueData), uint32(valueSize)))
}

//go:wasmimport env proxy_remove_header_map_value
func abiRemoveHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32) uint32

func ProxyRemoveHeaderMapValue(mapType MapType, keyData *byte, keySize int) Status {
	return Status(abiRemoveHeaderMapValue(uint32(mapType), unsafe.Pointer(keyData), uint32(keySize)))
}

//go:wasmimport env proxy_get_header_map_pairs
func abiGetHeaderMapPairs(mapType uint32, value unsafe.Pointer, valueSize *uint32) uint32

func ProxyGetHeaderMapPairs(mapType MapType, returnValueData **byte, returnValueSize *int) Status {
	var size uint32
	st := abiGetHeaderMapPairs(uint32(mapType), unsafe.Pointer(returnValueData), &size)
	*returnValueSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_set_header_map_pairs
func abiSetHeaderMapPairs(mapType uint32, pairs unsafe.Pointer, pairsSize uint32) uint32

func ProxySetHeaderMapPairs(mapType MapType, mapData *byte, mapSize int) Status {
	return Status(abiSetHeaderMapPairs(uint32(mapType), unsafe.Pointer(mapData), uint32(mapSize)))
}

//go:wasmimport env proxy_get_buffer_bytes
func abiGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

func ProxyGetBufferBytes(bufferType BufferType, start int, maxSize int, returnBufferData **byte, returnBufferSize *int) Status {
	var size uint32
	st := abiGetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize), unsafe.Pointer(returnBufferData), &size)
	*returnBufferSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_set_buffer_bytes
func abiSetBufferBytes(bufferType uint32, start uint32, size uint32, value unsafe.Pointer, valueSize uint32) uint32

func ProxySetBufferBytes(bufferType BufferType, start int, maxSize int, bufferData *byte, bufferSize int) Status {
	return Status(abiSetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize), unsafe.Pointer(bufferData), uint32(bufferSize)))
}

//go:wasmimport env proxy_continue_stream
func abiContinueStream(streamType uint32) uint32

func ProxyContinueStream(streamType StreamType) Status {
	return Status(abiContinueStream(uint32(streamType)))
}

//go:wasmimport env proxy_close_stream
func abiCloseStream(streamType uint32) uint32

func ProxyCloseStream(streamType StreamType) Status {
	return Status(abiCloseStream(uint32(streamType)))
}

//go:wasmimport env proxy_http_call
func abiHttpCall(upstream unsafe.Pointer, upstreamSize uint32, headers unsafe.Pointer, headersSize uint32,
	body unsafe.Pointer, bodySize uint32, trailers unsafe.Pointer, trailersSize uint32, timeoutMillis uint32, calloutID *uint32) uint32

// ProxyHttpCall also records the calling stream for the SDK's callout
// bookkeeping (httpContexts.noteCallout, callbacks.go), which the SDK's
// DispatchHttpCall reads right after this call.
func ProxyHttpCall(upstreamData *byte, upstreamSize int, headerData *byte, headerSize int,
	bodyData *byte, bodySize int, trailersData *byte, trailersSize int, timeout uint32, calloutIDPtr *uint32,
) Status {
	streams.noteCallout()
	return Status(abiHttpCall(unsafe.Pointer(upstreamData), uint32(upstreamSize),
		unsafe.Pointer(headerData), uint32(headerSize),
		unsafe.Pointer(bodyData), uint32(bodySize),
		unsafe.Pointer(trailersData), uint32(trailersSize), timeout, calloutIDPtr))
}

//go:wasmimport env proxy_call_foreign_function
func abiCallForeignFunction(name unsafe.Pointer, nameSize uint32, param unsafe.Pointer, paramSize uint32, ret unsafe.Pointer, retSize *uint32) uint32

func ProxyCallForeignFunction(funcNamePtr *byte, funcNameSize int, paramPtr *byte, paramSize int, returnData **byte, returnSize *int) Status {
	var size uint32
	st := abiCallForeignFunction(unsafe.Pointer(funcNamePtr), uint32(funcNameSize), unsafe.Pointer(paramPtr), uint32(paramSize), unsafe.Pointer(returnData), &size)
	*returnSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_set_tick_period_milliseconds
func abiSetTickPeriodMilliseconds(period uint32) uint32

func ProxySetTickPeriodMilliseconds(period uint32) Status {
	return Status(abiSetTickPeriodMilliseconds(period))
}

//go:wasmimport env proxy_set_effective_context
func abiSetEffectiveContext(contextID uint32) uint32

func ProxySetEffectiveContext(contextID uint32) Status {
	return Status(abiSetEffectiveContext(contextID))
}

//go:wasmimport env proxy_done
func abiDone() uint32

func ProxyDone() Status {
	return Status(abiDone())
}

//go:wasmimport env proxy_define_metric
func abiDefineMetric(metricType uint32, name unsafe.Pointer, nameSize uint32, metricID *uint32) uint32

func ProxyDefineMetric(metricType MetricType, metricNameData *byte, metricNameSize int, returnMetricIDPtr *uint32) Status {
	return Status(abiDefineMetric(uint32(metricType), unsafe.Pointer(metricNameData), uint32(metricNameSize), returnMetricIDPtr))
}

//go:wasmimport env proxy_increment_metric
func abiIncrementMetric(metricID uint32, offset int64) uint32

func ProxyIncrementMetric(metricID uint32, offset int64) Status {
	return Status(abiIncrementMetric(metricID, offset))
}

//go:wasmimport env proxy_record_metric
func abiRecordMetric(metricID uint32, value uint64) uint32

func ProxyRecordMetric(metricID uint32, value uint64) Status {
	return Status(abiRecordMetric(metricID, value))
}

//go:wasmimport env proxy_get_metric
func abiGetMetric(metricID uint32, value *uint64) uint32

func ProxyGetMetric(metricID uint32, returnMetricValue *uint64) Status {
	return Status(abiGetMetric(metricID, returnMetricValue))
}

//go:wasmimport env proxy_get_property
func abiGetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

func ProxyGetProperty(pathData *byte, pathSize int, returnValueData **byte, returnValueSize *int) Status {
	var size uint32
	st := abiGetProperty(unsafe.Pointer(pathData), uint32(pathSize), unsafe.Pointer(returnValueData), &size)
	*returnValueSize = int(size)
	return Status(st)
}

//go:wasmimport env proxy_set_property
func abiSetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) uint32

func ProxySetProperty(pathData *byte, pathSize int, valueData *byte, valueSize int) Status {
	return Status(abiSetProperty(unsafe.Pointer(pathData), uint32(pathSize), unsafe.Pointer(valueData), uint32(valueSize)))
}
