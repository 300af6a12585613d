//go:build wasip1

package direct

// The reads of a request's hot path beyond the request headers: the SDK's
// wrappers pass the address of local return slots to the import, which
// moves them to the heap on every call, and GetProperty serialises its path
// each time. These use global return slots (retBlock, retSize, retCas) and
// paths serialised once; a read allocates only the block the host asks the
// guest's allocator for, which the result shares. Errors are the SDK's
// (statusError), so callers test them with errors.Is as before.

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

//go:wasmimport env proxy_get_property
func abiGetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

//go:wasmimport env proxy_get_shared_data
func abiGetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize *uint32, cas *uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func abiGetHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize *uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func abiGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, value unsafe.Pointer, valueSize *uint32) uint32

// Proxy-Wasm MapType and BufferType values.
const (
	mapResponseHeaders = 2
	bufferResponseBody = 1
)

// retCas is SharedData's CAS return slot, a global for RequestHeaders'
// reason.
var retCas uint32

// takeBlock returns the block the host wrote and clears the slot: the
// caller's slice keeps the block alive, not this variable.
func takeBlock() (*byte, uint32) {
	raw, size := retBlock, retSize
	retBlock, retSize = nil, 0
	return raw, size
}

// ResponseHeaders is RequestHeaders for the response headers, with the
// SDK's GetHttpResponseHeaders errors (not found when the host wrote
// nothing).
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

// ResponseHeader reads one response header, with the SDK's
// GetHttpResponseHeader errors. The value shares the block the host wrote.
func ResponseHeader(name string) (string, error) {
	retBlock, retSize = nil, 0
	st := abiGetHeaderMapValue(mapResponseHeaders, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)),
		unsafe.Pointer(&retBlock), &retSize)
	raw, size := takeBlock()
	if st != 0 {
		return "", statusError(st)
	}
	if raw == nil {
		return "", nil
	}
	return unsafe.String(raw, size), nil
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
// SDK's GetHttpResponseBody errors.
//
// The bytes are lent, not given: they are usually the VM's reused body
// block (bodyBlock), which the host writes the body into instead of a new
// allocation, so nothing may use them, nor anything that views them (a
// sub-slice, a string made by unsafe.String or String), after the caller's
// ReleaseResponseBody. The next response's body goes into the same bytes:
// a view kept past the release would show that response's bytes, or zeros,
// where this one's were. Until the release, a second read gets a new
// allocation, never the lent block.
func ResponseBody(start, size int) ([]byte, error) {
	block := bodyBlock.lend(size)
	lendNextAllocation(block)
	retBlock, retSize = nil, 0
	st := abiGetBufferBytes(bufferResponseBody, uint32(start), uint32(size), unsafe.Pointer(&retBlock), &retSize)
	// Taken back whether or not the host used it: no later allocation, of
	// a value that is kept (request headers, properties), may land in it.
	lendNextAllocation(nil)
	raw, n := takeBlock()
	if st != 0 {
		return nil, statusError(st)
	}
	if raw == nil {
		return nil, types.ErrorStatusNotFound
	}
	if block != nil && raw == unsafe.SliceData(block) {
		return bodyBlock.lent(n)
	}
	return unsafe.Slice(raw, n), nil
}

// ReleaseResponseBody ends the loan of ResponseBody's bytes: the caller
// keeps nothing that views them. The block is zeroed, so a view kept by
// mistake reads zeros rather than the next response's body until that
// body arrives, and the tests that check what a response leaves behind
// see the mistake. Calling it with nothing lent does nothing.
func ReleaseResponseBody() { bodyBlock.release() }

// bodyBlock is the VM's reused response-body block: a response body the
// filter reads whole would otherwise be a fresh allocation of its size per
// response, zeroed and later collected (4.5% of a 10 KiB filtered request
// under wazero). The VM runs one callback at a time and the body is read
// and filtered within one callback, so one block serves every stream.
var bodyBlock reusedBlock

// BodyBlockLoans counts the response bodies the host wrote into the reused
// body block instead of a new allocation: the test build's allocation
// count (plugin/testexport.go) takes them from the host's asks.
func BodyBlockLoans() uint64 { return bodyBlock.loans }

// lendNextAllocation lends b for the host's next call of the guest's
// allocator (nil: none): the glue's proxy_on_memory_allocate
// (internal/sdkabi/callbacks.go) serves it from b when the value fits.
// Linked by name because the glue is built into the SDK's internal
// package, which neither side can import.
//
//go:linkname lendNextAllocation github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.lendNextAllocation
func lendNextAllocation(b []byte)

// blockSlice is the host's block as a slice; nil for no block.
func blockSlice(raw *byte, size uint32) []byte {
	if raw == nil {
		return nil
	}
	return unsafe.Slice(raw, size)
}

// statusError is the SDK's error for a Proxy-Wasm status
// (internal.StatusToError).
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
