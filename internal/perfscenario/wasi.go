//go:build unix

package perfscenario

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// WASICommand is a package main of this module built for wasip1 and
// compiled by wazero, for benchmarks that time a program under wazero and
// under V8 (Node runs Path).
type WASICommand struct {
	Root    string // the module root
	Path    string // the .wasm file
	Runtime wazero.Runtime
	Module  wazero.CompiledModule
}

// BuildWASICommand builds pkg (a path from the module root, "./internal/...")
// for wasip1 into dir and compiles it in a new wazero runtime with WASI.
// Close the runtime when done.
func BuildWASICommand(ctx context.Context, pkg, dir string) (*WASICommand, error) {
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, filepath.Base(pkg)+".wasm")
	build := exec.Command("go", "build", "-o", path, pkg) // go test puts its GOROOT/bin first on PATH
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("perfscenario: build %s: %w\n%s", pkg, err, out)
	}
	code, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("perfscenario: %w", err)
	}
	rt := wazero.NewRuntime(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, code)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("perfscenario: compile %s: %w", pkg, err)
	}
	return &WASICommand{Root: root, Path: path, Runtime: rt, Module: mod}, nil
}
