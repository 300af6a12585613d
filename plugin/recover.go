package main

import (
	"fmt"
	"runtime"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// recoverCallback turns a panic in a callback into a logged error instead of
// a trap: a trap kills the worker's VM, and with it every stream on that
// worker. onPanic, when set, decides what happens to the current stream
// (apiguard answers it itself; it never lets it through unchecked).
// Use it as `defer recoverCallback("phase", fn)`.
func recoverCallback(phase string, onPanic func()) {
	r := recover()
	if r == nil {
		return
	}
	proxywasm.LogCriticalf("apiguard: internal error in %s: %s", phase, panicMessage(r))
	if onPanic != nil {
		onPanic()
	}
}

// panicMessage names what panicked without echoing request data: the
// message of an arbitrary error (strconv's, a formatter's) may quote its
// input, a header or a token. Only the runtime's own errors (nil map, index
// out of range, bad type assertion) are quoted, since they hold types and
// numbers, never data.
func panicMessage(r any) string {
	if err, ok := r.(runtime.Error); ok {
		return fmt.Sprintf("%T: %v", err, err)
	}
	return fmt.Sprintf("%T", r)
}
