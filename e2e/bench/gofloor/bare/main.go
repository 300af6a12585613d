// Command bare is e2e/bench/gofloor with no SDK: floor.wat's callbacks
// written in Go as //go:wasmexport functions (exports_wasip1.go), making
// its host calls through internal/sdkabi/direct, built like the plugin
// (internal/sdkabi/cmd/wasmbuild). Its cost over floor.wat's is what the Go
// runtime alone costs a pass-through request; gofloor's over bare's is the
// SDK's dispatch.
package main

func main() {}
