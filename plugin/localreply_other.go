//go:build !wasip1

package main

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// sendLocalReply falls back to the SDK when the plugin runs natively under
// proxytest, whose emulator takes no details.
func sendLocalReply(status uint32, details string, headers [][2]string, body []byte, grpcStatus int32) error {
	return proxywasm.SendHttpResponse(status, headers, body, grpcStatus)
}
