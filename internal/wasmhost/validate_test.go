package wasmhost

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// tinyModule encodes a wasm module whose functions all have type () -> ():
// the given imports, then one empty function per export, and a memory
// exported as "memory" when withMemory is set.
func tinyModule(imports [][2]string, exports []string, withMemory bool) []byte {
	typed := make([]tinyImport, len(imports))
	for i, imp := range imports {
		typed[i] = tinyImport{module: imp[0], name: imp[1]}
	}
	return tinyModuleTyped(typed, exports, withMemory)
}

// tinyImport is an import of a function taking params i32s and returning
// results i32s.
type tinyImport struct {
	module, name    string
	params, results int
}

func tinyModuleTyped(imports []tinyImport, exports []string, withMemory bool) []byte {
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
	i32s := func(n int) []byte { return append(u(n), bytes.Repeat([]byte{0x7f}, n)...) }
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	types := [][]byte{{0x60, 0, 0}}
	var imps [][]byte
	for i, imp := range imports {
		types = append(types, append(append([]byte{0x60}, i32s(imp.params)...), i32s(imp.results)...))
		imps = append(imps, append(append(str(imp.module), str(imp.name)...), 0x00, byte(i+1)))
	}
	out = append(out, section(1, vec(types))...)
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
		{"0.2.0 with get_log_level", tinyModuleTyped([]tinyImport{{"env", fnGetLogLevel, 1, 1}}, append([]string{abiVersion020}, allCallbacks...), true),
			"only ABI 0.2.1 has"},
		// cpp-host src/exports.cc declares path_link with 6 parameters and
		// path_symlink with 4, not WASI's 7 and 5.
		{"wasi path_link as WASI declares it", tinyModuleTyped([]tinyImport{{wasiSnapshot, "path_link", 7, 1}}, append([]string{abiVersion021}, allCallbacks...), true),
			"wasi_snapshot_preview1.path_link with 7 parameters (Envoy declares 6)"},
		{"wasi path_symlink as WASI declares it", tinyModuleTyped([]tinyImport{{wasiSnapshot, "path_symlink", 5, 1}}, append([]string{abiVersion021}, allCallbacks...), true),
			"wasi_snapshot_preview1.path_symlink with 5 parameters (Envoy declares 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(context.Background(), tt.wasm, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "wasmhost: compile: ") {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	// A valid module with every callback compiles, and so does one that
	// imports path_link and path_symlink as cpp-host declares them.
	if _, err := Compile(context.Background(), tinyModule(nil, append([]string{abiVersion021}, allCallbacks...), true), Options{}); err != nil {
		t.Fatalf("valid module: %v", err)
	}
	links := []tinyImport{{wasiSnapshot, "path_link", 6, 1}, {wasiSnapshot, "path_symlink", 4, 1}}
	if _, err := Compile(context.Background(), tinyModuleTyped(links, append([]string{abiVersion021}, allCallbacks...), true), Options{}); err != nil {
		t.Fatalf("cpp-host's path_link and path_symlink: %v", err)
	}
}

func TestCompileAcceptsTheGuestsImports(t *testing.T) {
	m := compileGuest(t, "conformance", Options{})
	if m.ABIVersion() != abiVersion021 {
		t.Fatalf("ABI %s", m.ABIVersion())
	}
}
