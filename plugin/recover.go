package main

import (
	"fmt"

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

// panicMessage keeps only the panic's type and message; request data that a
// formatter might have put in it is not echoed.
func panicMessage(r any) string {
	if err, ok := r.(error); ok {
		return fmt.Sprintf("%T: %v", err, err)
	}
	return fmt.Sprintf("%T", r)
}
