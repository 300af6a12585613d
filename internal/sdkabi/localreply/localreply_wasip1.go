//go:build wasip1

package localreply

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// abiSendLocalResponse is proxy_send_local_response, imported directly: the
// SDK's SendHttpResponse always passes empty details, and Envoy shows the
// details as %RESPONSE_CODE_DETAILS% in access logs, where operators look for
// why apiguard answered. Spec:
// https://github.com/proxy-wasm/spec/blob/main/abi-versions/v0.2.0/README.md#proxy_send_local_response
//
//go:wasmimport env proxy_send_local_response
func abiSendLocalResponse(statusCode uint32, details unsafe.Pointer, detailsSize uint32,
	body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) uint32

// Send asks Envoy to answer the stream; Envoy sends the reply once
// the current callback returns. grpcStatus (-1 for none) is the gRPC code
// Envoy answers a gRPC request with, in a trailers-only response.
func Send(status uint32, details string, headers [][2]string, body []byte, grpcStatus int32) error {
	pairs := encodeHeaderPairs(headers)
	var d, b unsafe.Pointer
	if len(details) > 0 {
		d = unsafe.Pointer(unsafe.StringData(details))
	}
	if len(body) > 0 {
		b = unsafe.Pointer(&body[0])
	}
	if st := abiSendLocalResponse(status, d, uint32(len(details)), b, uint32(len(body)),
		unsafe.Pointer(&pairs[0]), uint32(len(pairs)), grpcStatus); st != 0 {
		return fmt.Errorf("proxy_send_local_response: host status %d", st)
	}
	return nil
}

// encodeHeaderPairs writes the Proxy-Wasm header map encoding: a u32 count,
// then a (u32 name length, u32 value length) per pair, then each name and
// value followed by a NUL byte; little-endian.
func encodeHeaderPairs(headers [][2]string) []byte {
	size := 4
	for _, kv := range headers {
		size += 8 + len(kv[0]) + len(kv[1]) + 2
	}
	out := make([]byte, 4+8*len(headers), size)
	binary.LittleEndian.PutUint32(out, uint32(len(headers)))
	for i, kv := range headers {
		binary.LittleEndian.PutUint32(out[4+8*i:], uint32(len(kv[0])))
		binary.LittleEndian.PutUint32(out[8+8*i:], uint32(len(kv[1])))
	}
	for _, kv := range headers {
		out = append(out, kv[0]...)
		out = append(out, 0)
		out = append(out, kv[1]...)
		out = append(out, 0)
	}
	return out
}
