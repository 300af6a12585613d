package wasmhost

// Buffers. Mirrors cpp-host src/exports.cc get_buffer_bytes /
// set_buffer_bytes / get_buffer_status and Envoy context.cc
// Context::getBuffer and Buffer::copyFrom.

const (
	fnGetBufferBytes  = "proxy_get_buffer_bytes"
	fnSetBufferBytes  = "proxy_set_buffer_bytes"
	fnGetBufferStatus = "proxy_get_buffer_status"
)

func bufferFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnGetBufferBytes, params: i32s(5), results: resultI32, fn: hostGetBufferBytes, doc: spec + fnGetBufferBytes},
		{name: fnSetBufferBytes, params: i32s(5), results: resultI32, fn: hostSetBufferBytes, doc: spec + fnSetBufferBytes},
		{name: fnGetBufferStatus, params: i32s(3), results: resultI32, fn: hostGetBufferStatus, doc: spec + fnGetBufferStatus},
	}
}

// noBody is the body buffer outside a body callback: always empty.
var noBody []byte

// buffer returns the bytes of buffer t in the current context; writable
// reports whether proxy_set_buffer_bytes may change them (body buffers only).
func (v *vm) buffer(t bufferType) (data *[]byte, writable, ok bool) {
	c := v.context()
	if c == nil {
		return nil, false, false
	}
	switch t {
	case bufferHTTPRequestBody:
		if c.s != nil && (c.s.reqBodyVisible || c.s.reqBuffering) {
			return &c.s.reqBody, true, true
		}
		// Envoy Context::getBuffer sets its buffer to request_body_buffer_
		// even when that is null: an empty buffer, read-only
		// (BufferBase::copyFrom answers BAD_ARGUMENT), never NOT_FOUND.
		return &noBody, false, true
	case bufferHTTPResponseBody:
		if c.s != nil && (c.s.respBodyVisible || c.s.respBuffering) {
			return &c.s.respBody, true, true
		}
		return &noBody, false, true
	case bufferHTTPCallResponseBody:
		// Envoy Context::getBuffer: rootContext()->http_call_response_, as
		// for the call's header maps.
		root := v.contexts[c.rootID]
		if root != nil && root.callResp != nil {
			return &root.callResp.body, false, true
		}
	case bufferVMConfiguration:
		return &v.p.cfg.VMConfiguration, false, true
	case bufferPluginConfiguration:
		// Only inside proxy_on_configure, like cpp-host's temp_plugin_.
		root := v.contexts[c.rootID]
		if root != nil && root.configuring {
			return &root.config, false, true
		}
	}
	return nil, false, false
}

// hostGetBufferBytes implements proxy_get_buffer_bytes; reads past the end
// are clamped, an empty result is 0/0.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_buffer_bytes
func hostGetBufferBytes(v *vm, s []uint64) {
	t, start, length := bufferType(s[0]), uint64(uint32(s[1])), uint64(uint32(s[2]))
	if t > bufferMax {
		s[0] = uint64(statusBadArgument)
		return
	}
	data, _, ok := v.buffer(t)
	if !ok {
		s[0] = uint64(statusNotFound)
		return
	}
	buf := *data
	if start > uint64(len(buf)) {
		length = 0
	} else if start+length > uint64(len(buf)) {
		length = uint64(len(buf)) - start
	}
	if length == 0 {
		s[0] = uint64(v.copyOutFn(uint32(s[3]), uint32(s[4]), 0, nil))
		return
	}
	s[0] = uint64(v.copyOut(uint32(s[3]), uint32(s[4]), buf[start:start+length]))
}

// hostSetBufferBytes implements proxy_set_buffer_bytes: see spliceBuffer.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_buffer_bytes
func hostSetBufferBytes(v *vm, s []uint64) {
	t, start, size := bufferType(s[0]), uint64(uint32(s[1])), uint64(uint32(s[2]))
	if t > bufferMax {
		s[0] = uint64(statusBadArgument)
		return
	}
	data, writable, ok := v.buffer(t)
	if !ok {
		s[0] = uint64(statusNotFound)
		return
	}
	in, ok := v.read(uint32(s[3]), uint32(s[4]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	if !writable {
		s[0] = uint64(statusBadArgument)
		return
	}
	out, ok := spliceBuffer(*data, start, size, in)
	if !ok {
		s[0] = uint64(statusBadArgument)
		return
	}
	*data = out
	if c := v.context(); c != nil && c.s != nil {
		c.s.bodyChanged(t)
	}
	s[0] = uint64(statusOK)
}

// spliceBuffer writes in into buf as Envoy's Buffer::copyFrom for a body
// (source/extensions/common/wasm/context.cc): at start 0 it drains size
// bytes, then prepends in; at or past the end it appends; a write anywhere
// else is refused (ok false, BAD_ARGUMENT).
func spliceBuffer(buf []byte, start, size uint64, in []byte) (out []byte, ok bool) {
	n := uint64(len(buf))
	switch {
	case start == 0:
		size = min(size, n)
		out = make([]byte, 0, uint64(len(in))+n-size)
		return append(append(out, in...), buf[size:]...), true
	case start >= n:
		return append(buf, in...), true
	}
	return buf, false
}

// hostGetBufferStatus implements proxy_get_buffer_status (length, flags 0).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_buffer_status
func hostGetBufferStatus(v *vm, s []uint64) {
	t := bufferType(s[0])
	if t > bufferMax {
		s[0] = uint64(statusBadArgument)
		return
	}
	data, _, ok := v.buffer(t)
	if !ok {
		s[0] = uint64(statusNotFound)
		return
	}
	if !v.writeU32(uint32(s[1]), uint32(len(*data))) || !v.writeU32(uint32(s[2]), 0) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}
