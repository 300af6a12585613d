package wasmhost

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memory backed by a reservation of address space. A Go module grows
// its memory many times while it starts; wazero's default slice-backed
// memory reallocates and copies it at each growth: about 39 MB of garbage
// per Start of apiguard (canary and one worker). Reserving the maximum once
// (nothing is committed until used) and granting pages with mprotect makes
// growth copy nothing.

// newLinearMemory reserves max bytes; it falls back to a slice-backed memory
// if the reservation fails (for example under a low RLIMIT_AS).
func newLinearMemory(capacity, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<33 {
		return &sliceMemory{capacity: capacity}
	}
	b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return &sliceMemory{capacity: capacity}
	}
	return &mmapMemory{buf: b}
}

type mmapMemory struct {
	buf       []byte // the whole reservation
	committed uint64 // bytes readable and writable, from the start
}

// Reallocate grants access to the first size bytes. Sizes are whole Wasm
// pages (64 KiB), so every range is page-aligned. nil tells wazero the
// growth failed.
func (m *mmapMemory) Reallocate(size uint64) []byte {
	if m.buf == nil || size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.committed {
		if err := syscall.Mprotect(m.buf[m.committed:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.buf[:size:size]
}

// Free releases the reservation; wazero calls it when the module closes.
func (m *mmapMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf, m.committed = nil, 0
	}
}
