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

// buffer returns the bytes of buffer t in the current context; writable
// reports whether proxy_set_buffer_bytes may change them (body buffers only).
func (v *vm) buffer(t bufferType) (data *[]byte, writable, ok bool) {
	c := v.context()
	if c == nil {
		return nil, false, false
	}
	switch t {
	case bufferHTTPRequestBody:
		if c.s != nil && c.s.reqBodyVisible {
			return &c.s.reqBody, true, true
		}
	case bufferHTTPResponseBody:
		if c.s != nil && c.s.respBodyVisible {
			return &c.s.respBody, true, true
		}
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

// hostSetBufferBytes implements proxy_set_buffer_bytes: (0,0) prepends,
// start >= len appends, otherwise [start, start+size) is replaced.
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
	if !writable {
		s[0] = uint64(statusBadArgument)
		return
	}
	in, ok := v.read(uint32(s[3]), uint32(s[4]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	*data = spliceBuffer(*data, start, size, in)
	if c := v.context(); c != nil && c.s != nil {
		c.s.bodyChanged(t)
	}
	s[0] = uint64(statusOK)
}

// spliceBuffer returns buf with [start, start+size) replaced by in.
func spliceBuffer(buf []byte, start, size uint64, in []byte) []byte {
	n := uint64(len(buf))
	switch {
	case start == 0 && size == 0:
		out := make([]byte, 0, len(in)+len(buf))
		return append(append(out, in...), buf...)
	case start >= n:
		return append(buf, in...)
	}
	end := min(start+size, n)
	out := make([]byte, 0, n-(end-start)+uint64(len(in)))
	out = append(out, buf[:start]...)
	out = append(out, in...)
	return append(out, buf[end:]...)
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
