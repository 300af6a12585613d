//go:build !wasip1

package direct

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Natively (proxytest) the reads of read_wasip1.go go through the SDK,
// whose emulator stands in for the host.

// ResponseHeaders reads the response headers through the SDK; dst is not
// used.
func ResponseHeaders(dst [][2]string) ([][2]string, error) {
	return proxywasm.GetHttpResponseHeaders()
}

// ResponseHeader reads one response header through the SDK.
func ResponseHeader(name string) (string, error) {
	return proxywasm.GetHttpResponseHeader(name)
}

// Property reads a property through the SDK.
func Property(path Path) ([]byte, error) {
	return proxywasm.GetProperty(path.segments)
}

// SharedData reads a shared-data value through the SDK.
func SharedData(key string) ([]byte, uint32, error) {
	return proxywasm.GetSharedData(key)
}

// ResponseBody reads the response body through the SDK.
func ResponseBody(start, size int) ([]byte, error) {
	return proxywasm.GetHttpResponseBody(start, size)
}

// ReleaseResponseBody does nothing natively: the SDK's read is a copy of
// its own.
func ReleaseResponseBody() {}
