package wasmhost

import "github.com/tetratelabs/wazero/experimental"

// memoryAllocator gives each VM its linear memory (see newLinearMemory).
var memoryAllocator = experimental.MemoryAllocatorFunc(newLinearMemory)

// sliceMemory is a linear memory in a Go slice that grows by copying, as
// wazero's default one.
type sliceMemory struct {
	buf      []byte
	capacity uint64
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if m.buf == nil {
		m.buf = make([]byte, 0, max(m.capacity, size))
	}
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

func (m *sliceMemory) Free() { m.buf = nil }
