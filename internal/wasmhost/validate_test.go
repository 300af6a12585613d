package wasmhost

import (
	"context"
	"strings"
	"testing"
)

// tinyModule encodes a wasm module whose functions all have type () -> ():
// the given imports, then one empty function per export, and a memory
// exported as "memory" when withMemory is set.
func tinyModule(imports [][2]string, exports []string, withMemory bool) []byte {
	u := func(n int) []byte { // unsigned LEB128
		var b []byte
		for {
			c := byte(n & 0x7f)
			n >>= 7
			if n != 0 {
				b = append(b, c|0x80)
				continue
			}
			return append(b, c)
		}
	}
	str := func(s string) []byte { return append(u(len(s)), s...) }
	section := func(id byte, body []byte) []byte { return append(append([]byte{id}, u(len(body))...), body...) }
	vec := func(items [][]byte) []byte {
		b := u(len(items))
		for _, it := range items {
			b = append(b, it...)
		}
		return b
	}
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	out = append(out, section(1, vec([][]byte{{0x60, 0, 0}}))...)
	var imps [][]byte
	for _, imp := range imports {
		imps = append(imps, append(append(str(imp[0]), str(imp[1])...), 0x00, 0x00))
	}
	out = append(out, section(2, vec(imps))...)
	var funcs, bodies, exps [][]byte
	for i, name := range exports {
		funcs = append(funcs, []byte{0})
		bodies = append(bodies, []byte{2, 0, 0x0b})
		exps = append(exps, append(str(name), append([]byte{0x00}, u(len(imports)+i)...)...))
	}
	out = append(out, section(3, vec(funcs))...)
	if withMemory {
		out = append(out, section(5, vec([][]byte{{0x00, 1}}))...)
		exps = append(exps, append(str("memory"), 0x02, 0))
	}
	out = append(out, section(7, vec(exps))...)
	out = append(out, section(10, vec(bodies))...)
	return out
}

var allCallbacks = append([]string{"proxy_on_memory_allocate", "_initialize"}, requiredExports...)

func TestCompileValidatesExportsAndImports(t *testing.T) {
	tests := []struct {
		name    string
		wasm    []byte
		wantErr string
	}{
		{"no abi version", tinyModule(nil, allCallbacks, true), "exports no proxy_abi_version_*"},
		{"two abi versions", tinyModule(nil, append([]string{abiVersion020, abiVersion021}, allCallbacks...), true), "exports 2 ABI versions"},
		{"unknown abi version", tinyModule(nil, append([]string{"proxy_abi_version_0_1_0"}, allCallbacks...), true), "unsupported ABI version proxy_abi_version_0_1_0"},
		{"no memory", tinyModule(nil, append([]string{abiVersion021}, allCallbacks...), false), `does not export its memory as "memory"`},
		{"no allocator", tinyModule(nil, append([]string{abiVersion021}, requiredExports...), true), "neither malloc nor proxy_on_memory_allocate"},
		{"missing callback", tinyModule(nil, []string{abiVersion021, "malloc", "proxy_on_vm_start"}, true), "does not export proxy_on_context_create"},
		{"wasi outside Envoy's set", tinyModule([][2]string{{wasiSnapshot, "sock_open"}}, append([]string{abiVersion021}, allCallbacks...), true),
			"imports wasi_snapshot_preview1.sock_open, which Envoy does not provide"},
		{"env function Envoy lacks", tinyModule([][2]string{{"env", "proxy_get_magic"}}, append([]string{abiVersion021}, allCallbacks...), true),
			"imports env.proxy_get_magic, which Envoy does not provide"},
		{"0.2.0 with get_log_level", tinyModule([][2]string{{"env", fnGetLogLevel}}, append([]string{abiVersion020}, allCallbacks...), true),
			"only ABI 0.2.1 has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(context.Background(), tt.wasm, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "wasmhost: compile: ") {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	// A valid module with every callback compiles.
	if _, err := Compile(context.Background(), tinyModule(nil, append([]string{abiVersion021}, allCallbacks...), true), Options{}); err != nil {
		t.Fatalf("valid module: %v", err)
	}
}

func TestCompileAcceptsTheGuestsImports(t *testing.T) {
	m := compileGuest(t, "conformance", Options{})
	if m.ABIVersion() != abiVersion021 {
		t.Fatalf("ABI %s", m.ABIVersion())
	}
}
