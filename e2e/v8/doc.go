// Package v8 runs compiled proxy-wasm modules under Node.js (V8, the engine
// Envoy embeds) with WASI preview1, through host.mjs, a small proxy-wasm
// host of our own: the V8 smoke tests of apiguard and a reference guest
// (v8_test.go), and the conformance kit's runtime cases with cpp-host's V8
// flags (conformance_test.go). host.mjs needs only Node's built-in modules.
package v8
