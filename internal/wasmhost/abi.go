package wasmhost

// Enumerations of the Proxy-Wasm ABI v0.2.1.
// See https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1 and
// proxy-wasm-cpp-host include/proxy-wasm/wasm_api_impl.h.

// status is a proxy_status_t / WasmResult.
type status uint32

const (
	statusOK                   status = 0
	statusNotFound             status = 1
	statusBadArgument          status = 2
	statusSerializationFailure status = 3
	statusParseFailure         status = 4
	statusInvalidMemoryAccess  status = 6
	statusEmpty                status = 7
	statusCASMismatch          status = 8
	statusInternalFailure      status = 10
	statusUnimplemented        status = 12
)

// action is a proxy_action_t, returned by the HTTP callbacks.
type action uint32

const (
	actionContinue action = 0
	actionPause    action = 1
)

// bufferType is a proxy_buffer_type_t.
type bufferType uint32

const (
	bufferHTTPRequestBody      bufferType = 0
	bufferHTTPResponseBody     bufferType = 1
	bufferDownstreamData       bufferType = 2
	bufferUpstreamData         bufferType = 3
	bufferHTTPCallResponseBody bufferType = 4
	bufferGRPCReceiveBuffer    bufferType = 5
	bufferVMConfiguration      bufferType = 6
	bufferPluginConfiguration  bufferType = 7
	bufferCallData             bufferType = 8
	bufferMax                             = bufferCallData
)

// mapType is a proxy_map_type_t.
type mapType uint32

const (
	mapRequestHeaders          mapType = 0
	mapRequestTrailers         mapType = 1
	mapResponseHeaders         mapType = 2
	mapResponseTrailers        mapType = 3
	mapGRPCReceiveInitialMeta  mapType = 4
	mapGRPCReceiveTrailingMeta mapType = 5
	mapHTTPCallResponseHeaders mapType = 6
	mapHTTPCallResponseTrailer mapType = 7
	mapMax                             = mapHTTPCallResponseTrailer
)

// streamType is a proxy_stream_type_t.
type streamType uint32

const (
	streamRequest    streamType = 0
	streamResponse   streamType = 1
	streamDownstream streamType = 2
	streamUpstream   streamType = 3
)

// MetricType is a proxy_metric_type_t.
type MetricType uint32

const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

func (t MetricType) String() string {
	switch t {
	case MetricCounter:
		return "counter"
	case MetricGauge:
		return "gauge"
	case MetricHistogram:
		return "histogram"
	}
	return "unknown"
}

// LogLevel is a proxy_log_level_t.
type LogLevel uint32

const (
	LogTrace    LogLevel = 0
	LogDebug    LogLevel = 1
	LogInfo     LogLevel = 2
	LogWarn     LogLevel = 3
	LogError    LogLevel = 4
	LogCritical LogLevel = 5
)

func (l LogLevel) String() string {
	switch l {
	case LogTrace:
		return "trace"
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warning"
	case LogError:
		return "error"
	case LogCritical:
		return "critical"
	}
	return "unknown"
}

// ABI version markers: a module exports exactly one of them.
const (
	abiVersion020 = "proxy_abi_version_0_2_0"
	abiVersion021 = "proxy_abi_version_0_2_1"
)
