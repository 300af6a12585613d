// Command plugin is the apiguard Proxy-Wasm module. Envoy calls _initialize,
// which runs init; main is never called in a c-shared Wasm module.
package main

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}
