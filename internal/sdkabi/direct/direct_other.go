//go:build !wasip1

package direct

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// SetProperty sets a property through the SDK when the plugin runs
// natively under proxytest.
func SetProperty(path Path, value string) error {
	return proxywasm.SetProperty(path.segments, []byte(value))
}

// RequestHeaders reads the request headers through the SDK when the plugin
// runs natively under proxytest; dst is not used.
func RequestHeaders(dst [][2]string) ([][2]string, error) {
	return proxywasm.GetHttpRequestHeaders()
}

// Monotonic reads the monotonic clock natively; only differences of its
// values mean anything.
func Monotonic() time.Duration { return time.Since(processStart) }

// processStart anchors Monotonic natively.
var processStart = time.Now()

// Wall reads the wall clock natively, without a monotonic reading, as the
// Wasm build's does.
func Wall() time.Time { return time.Now().Round(0) }

// IncrementMetric adds offset to a counter through the SDK when the plugin
// runs natively; the SDK's panic on a host error is dropped.
func IncrementMetric(metricID uint32, offset int64) {
	defer func() { _ = recover() }()
	proxywasm.MetricCounter(metricID).Increment(uint64(offset))
}

// RecordMetric records a histogram sample through the SDK when the plugin
// runs natively; the SDK's panic on a host error is dropped.
func RecordMetric(metricID uint32, value uint64) {
	defer func() { _ = recover() }()
	proxywasm.MetricHistogram(metricID).Record(value)
}

// Log writes message at level through the SDK when the plugin runs
// natively (the emulator keeps what it is given, so it gets a copy).
func Log(level LogLevel, message []byte) {
	msg := string(message)
	switch level {
	case LogLevelTrace:
		proxywasm.LogTrace(msg)
	case LogLevelDebug:
		proxywasm.LogDebug(msg)
	case LogLevelInfo:
		proxywasm.LogInfo(msg)
	case LogLevelWarn:
		proxywasm.LogWarn(msg)
	case LogLevelError:
		proxywasm.LogError(msg)
	default:
		proxywasm.LogCritical(msg)
	}
}
