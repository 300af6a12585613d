//go:build !linux

package wasmhost

import "github.com/tetratelabs/wazero/experimental"

// newLinearMemory returns wazero's usual slice-backed memory on systems
// without the Linux reservation (memalloc_linux.go).
func newLinearMemory(capacity, _ uint64) experimental.LinearMemory {
	return &sliceMemory{capacity: capacity}
}
