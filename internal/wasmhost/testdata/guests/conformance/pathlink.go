//go:build pathlink

package main

import (
	"fmt"
	"unsafe"
)

// cpp-host src/exports.cc declares path_link with 6 parameters and
// path_symlink with 4, not WASI's 7 and 5; a module must import them so to
// link in Envoy. Both answer ENOTSUP (58).

//go:wasmimport wasi_snapshot_preview1 path_link
func pathLink(oldFd, oldFlags int32, oldPath unsafe.Pointer, oldPathLen, newFd int32, newPath unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 path_symlink
func pathSymlink(oldPath unsafe.Pointer, oldPathLen, fd int32, newPath unsafe.Pointer) int32

func init() {
	extraActions["pathlink"] = func(s *streamState) {
		name := []byte("x")
		p := unsafe.Pointer(&name[0])
		s.respHeaders = append(s.respHeaders, [2]string{"x-pathlink",
			fmt.Sprintf("%d %d", pathLink(3, 0, p, 1, 3, p), pathSymlink(p, 1, 3, p))})
	}
}
