package wasmhost

import "encoding/binary"

// Guest memory access. Mirrors cpp-host WasmVm::getMemory / setWord and
// WasmBase::allocMemory / copyToPointerSize (include/proxy-wasm/wasm.h).

// read returns a view of guest memory; it is valid until the next guest
// allocation (which may grow memory).
func (v *vm) read(ptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	return v.mem.Read(ptr, size)
}

// readString copies guest memory into a Go string.
func (v *vm) readString(ptr, size uint32) (string, bool) {
	b, ok := v.read(ptr, size)
	if !ok {
		return "", false
	}
	return string(b), true
}

func (v *vm) writeU32(ptr, val uint32) bool { return v.mem.WriteUint32Le(ptr, val) }

func (v *vm) writeU64(ptr uint32, val uint64) bool { return v.mem.WriteUint64Le(ptr, val) }

// alloc asks the guest for size bytes under the malloc allow-list. The
// caller must allocate at most once per host call: a Go guest's allocator
// does not pin the buffer, so a second allocation could collect the first.
func (v *vm) alloc(size uint32) (uint32, []byte, bool) {
	if v.fn.malloc == nil {
		return 0, nil, false
	}
	v.allocsTotal++
	if v.allocs++; v.allocs > 1 {
		// A second allocation could let a Go guest's GC free the first.
		v.trap("wasmhost bug: a host call allocated twice in the guest")
	}
	prev, prevPhase := v.allowed, v.restrictedPhase
	v.allowed, v.restrictedPhase = v.m.mallocAllowed, v.m.malloc
	v.allocStack[0] = uint64(size)
	err := v.fn.malloc.CallWithStack(v.ctx, v.allocStack[:])
	v.allowed, v.restrictedPhase = prev, prevPhase
	if err != nil {
		// Unwind the outer guest call too: the VM is dead.
		if v.trapMsg == "" {
			v.trapMsg = "guest allocator failed"
		}
		panic(err)
	}
	ptr := uint32(v.allocStack[0])
	if ptr == 0 {
		return 0, nil, false
	}
	buf, ok := v.mem.Read(ptr, size)
	if !ok {
		return 0, nil, false
	}
	return ptr, buf, true
}

// copyOut allocates len(data) bytes in the guest, copies data there and
// writes the pointer and size straight into the guest's return slots. An
// empty value is returned as pointer 0, size 0 without allocating.
func (v *vm) copyOut(ptrPtr, sizePtr uint32, data []byte) status {
	return v.copyOutFn(ptrPtr, sizePtr, uint32(len(data)), func(dst []byte) { copy(dst, data) })
}

// copyOutString is copyOut for a string, without converting it.
func (v *vm) copyOutString(ptrPtr, sizePtr uint32, s string) status {
	return v.copyOutFn(ptrPtr, sizePtr, uint32(len(s)), func(dst []byte) { copy(dst, s) })
}

// copyOutFn allocates size bytes and lets fill write them in place, so
// serialisers write straight into guest memory.
func (v *vm) copyOutFn(ptrPtr, sizePtr, size uint32, fill func(dst []byte)) status {
	var ptr uint32
	if size > 0 {
		p, buf, ok := v.alloc(size)
		if !ok {
			return statusInvalidMemoryAccess
		}
		fill(buf)
		ptr = p
	}
	if !v.writeU32(ptrPtr, ptr) || !v.writeU32(sizePtr, size) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

// le64 encodes an int64 property value (8 bytes little-endian).
func le64(x uint64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, x)
	return b
}
