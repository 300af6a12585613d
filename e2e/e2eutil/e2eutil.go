// Package e2eutil loads the compiled plugin for end-to-end tests: it builds
// build/apiguard.wasm once per test binary and compiles it with wazero
// through a compilation cache on disk, shared by every e2e package, so only
// the first test binary pays for the machine-code compilation.
package e2eutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var (
	once     sync.Once
	code     []byte
	cache    wazero.CompilationCache
	loadErr  error
	building panicTB
)

// PluginWasm returns the bytes of the compiled plugin.
func PluginWasm() ([]byte, error) {
	once.Do(load)
	return code, loadErr
}

// Compile compiles the plugin for a host with opts, reusing the on-disk
// compilation cache. The caller closes the Module.
func Compile(opts wasmhost.Options) (*wasmhost.Module, error) {
	once.Do(load)
	if loadErr != nil {
		return nil, loadErr
	}
	if opts.CompilationCache == nil {
		opts.CompilationCache = cache
	}
	return wasmhost.Compile(context.Background(), code, opts)
}

func load() {
	defer func() {
		if r := recover(); r != nil {
			loadErr = fmt.Errorf("e2eutil: build plugin: %v", r)
		}
	}()
	path := wasmbuild.ForTest(building, "./plugin")
	code, loadErr = os.ReadFile(path)
	if loadErr != nil {
		return
	}
	dir := filepath.Join(filepath.Dir(path), "wazero-cache")
	cache, loadErr = wazero.NewCompilationCacheWithDir(dir)
}

// panicTB lets wasmbuild.ForTest report from TestMain, before any *testing.T.
type panicTB struct{}

func (panicTB) Helper()                           {}
func (panicTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Run is the body of an e2e package's TestMain: it compiles the plugin with
// opts into *module, runs the tests, and closes the module.
//
//	func TestMain(m *testing.M) { os.Exit(e2eutil.Run(m, wasmhost.Options{}, &module)) }
func Run(m *testing.M, opts wasmhost.Options, module **wasmhost.Module) int {
	mod, err := Compile(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mod.Close(context.Background())
	*module = mod
	return m.Run()
}
