//go:build !wasip1

package localreply

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Send falls back to the SDK when the plugin runs natively under
// proxytest, whose emulator takes no details.
func Send(status uint32, details string, headers [][2]string, body []byte, grpcStatus int32) error {
	return proxywasm.SendHttpResponse(status, headers, body, grpcStatus)
}
