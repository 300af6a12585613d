//go:build wasip1

package direct

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Spec: https://github.com/proxy-wasm/spec/blob/main/abi-versions/v0.2.0/README.md

//go:wasmimport env proxy_set_property
func abiSetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) uint32

//go:wasmimport env proxy_get_property
func abiGetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func abiGetHeaderMapPairs(mapType uint32, value unsafe.Pointer, valueSize *uint32) uint32

//go:wasmimport env proxy_get_shared_data
func abiGetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize *uint32, cas *uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func abiGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

// Proxy-Wasm MapType and BufferType values.
const (
	mapRequestHeaders  = 0
	mapResponseHeaders = 2
	bufferResponseBody = 1
)

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

// The return slots of the calls below. The host writes a 4-byte guest
// pointer into retBlock, an 8-byte Go pointer set to nil first, so its upper
// half stays zero; being a global, the collector sees the block from the
// moment the host returns. Globals, not locals: a local whose address goes
// to an import is moved to the heap, an allocation per slot and call (what
// the SDK's wrappers pay). A VM is one thread and nothing re-enters here
// during a call (the host's allocation callback only allocates).
var (
	retBlock *byte
	retSize  uint32
	retCas   uint32
)

// takeBlock returns the block the host wrote and clears the slot: the
// caller's slice keeps the block alive, not this variable.
func takeBlock() (*byte, uint32) {
	raw, size := retBlock, retSize
	retBlock, retSize = nil, 0
	return raw, size
}

// RequestHeaders reads every request header in one host call and appends
// the pairs to dst[:0]. The names and values share the one block the host
// wrote (allocated through proxy_on_memory_allocate, so the garbage
// collector keeps it while any of them is used); only dst's backing array
// is reused, so a caller may keep the strings but not the slice.
func RequestHeaders(dst [][2]string) ([][2]string, error) {
	retBlock, retSize = nil, 0
	st := abiGetHeaderMapPairs(mapRequestHeaders, unsafe.Pointer(&retBlock), &retSize)
	raw, size := takeBlock()
	if st != 0 {
		return nil, fmt.Errorf("proxy_get_header_map_pairs: host status %d", st)
	}
	if raw == nil || size == 0 {
		return dst[:0], nil
	}
	return decodePairs(dst[:0], unsafe.Slice(raw, size))
}

// ResponseHeaders is RequestHeaders for the response headers, with the
// SDK's GetHttpResponseHeaders errors (types.ErrorStatus*; not found when
// the host wrote nothing).
func ResponseHeaders(dst [][2]string) ([][2]string, error) {
	retBlock, retSize = nil, 0
	st := abiGetHeaderMapPairs(mapResponseHeaders, unsafe.Pointer(&retBlock), &retSize)
	raw, size := takeBlock()
	if st != 0 {
		return nil, statusError(st)
	}
	if raw == nil {
		return nil, types.ErrorStatusNotFound
	}
	return decodePairs(dst[:0], unsafe.Slice(raw, size))
}

// Property reads a property, with the SDK's GetProperty errors. The value
// is the block the host wrote, not a copy.
func Property(path Path) ([]byte, error) {
	if path.raw == "" {
		return nil, errors.New("proxy_get_property: empty path")
	}
	retBlock, retSize = nil, 0
	st := abiGetProperty(unsafe.Pointer(unsafe.StringData(path.raw)), uint32(len(path.raw)),
		unsafe.Pointer(&retBlock), &retSize)
	raw, size := takeBlock()
	if st != 0 {
		return nil, statusError(st)
	}
	return blockSlice(raw, size), nil
}

// SharedData reads a shared-data value and its CAS, with the SDK's
// GetSharedData errors. The value is the block the host wrote.
func SharedData(key string) ([]byte, uint32, error) {
	retBlock, retSize, retCas = nil, 0, 0
	st := abiGetSharedData(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
		unsafe.Pointer(&retBlock), &retSize, &retCas)
	raw, size := takeBlock()
	if st != 0 {
		return nil, 0, statusError(st)
	}
	return blockSlice(raw, size), retCas, nil
}

// ResponseBody reads size bytes of the response body from start, with the
// SDK's GetHttpResponseBody errors. The bytes are the block the host wrote.
func ResponseBody(start, size int) ([]byte, error) {
	retBlock, retSize = nil, 0
	st := abiGetBufferBytes(bufferResponseBody, uint32(start), uint32(size), unsafe.Pointer(&retBlock), &retSize)
	raw, n := takeBlock()
	if st != 0 {
		return nil, statusError(st)
	}
	if raw == nil {
		return nil, types.ErrorStatusNotFound
	}
	return unsafe.Slice(raw, n), nil
}

// blockSlice is the host's block as a slice; nil for no block.
func blockSlice(raw *byte, size uint32) []byte {
	if raw == nil {
		return nil
	}
	return unsafe.Slice(raw, size)
}

// statusError is the SDK's error for a Proxy-Wasm status
// (internal.StatusToError), so callers test them with errors.Is as they
// test the SDK's.
func statusError(st uint32) error {
	switch st {
	case 1:
		return types.ErrorStatusNotFound
	case 2:
		return types.ErrorStatusBadArgument
	case 7:
		return types.ErrorStatusEmpty
	case 8:
		return types.ErrorStatusCasMismatch
	case 10:
		return types.ErrorInternalFailure
	case 12:
		return types.ErrorUnimplemented
	}
	return fmt.Errorf("unknown status code: %d", st)
}
