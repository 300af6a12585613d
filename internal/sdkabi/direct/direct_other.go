//go:build !wasip1

package direct

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

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
