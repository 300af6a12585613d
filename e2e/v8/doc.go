// Package v8 holds the V8 smoke test: host.mjs runs a compiled proxy-wasm
// module under Node.js (V8, the engine Envoy embeds) with WASI preview1 and a
// minimal proxy-wasm host, and v8_test.go asserts what it reports.
package v8
