package wasmbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TB is the part of testing.TB that ForTest needs; taking an interface keeps
// the testing package out of non-test binaries.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

var (
	builtMu sync.Mutex
	built   = map[string]string{}
)

// ForTest compiles a package main of this module (e.g. "./plugin") once per
// test process and returns the path of the .wasm file, build/<name>.wasm under
// the module root, where <name> is "apiguard" for ./plugin and the package
// directory's base name otherwise.
func ForTest(tb TB, pkg string) string {
	tb.Helper()
	return forTest(tb, pkg, false)
}

// ForTestTagged is ForTest with extra build tags (build/<name>-<tags>.wasm):
// a test-only build, such as the plugin with apiguard_testexport, whose
// exports let a test read the guest's own counters.
func ForTestTagged(tb TB, pkg string, tags ...string) string {
	tb.Helper()
	return forTest(tb, pkg, false, tags...)
}

// ForTestStockRuntime is ForTest without the Go toolchain patches
// (build/<name>-stock.wasm): the module as built before them, for the tests
// that show what old Envoy does to it.
func ForTestStockRuntime(tb TB, pkg string) string {
	tb.Helper()
	return forTest(tb, pkg, true)
}

func forTest(tb TB, pkg string, stock bool, tags ...string) string {
	tb.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	key := fmt.Sprintf("%s stock=%v tags=%v", pkg, stock, tags)
	if path, ok := built[key]; ok {
		return path
	}
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	name := filepath.Base(strings.TrimSuffix(pkg, "/"))
	if pkg == "./plugin" {
		name = "apiguard"
	}
	if stock {
		name += "-stock"
	}
	for _, t := range tags {
		name += "-" + t
	}
	out := filepath.Join(root, "build", name+".wasm")
	if err := Build(Options{Root: root, Package: pkg, Output: out, StockRuntime: stock, Tags: tags}); err != nil {
		tb.Fatalf("%v", err)
	}
	built[key] = out
	return out
}

// ModuleRoot finds the directory holding this module's go.mod, starting at
// the working directory (a package directory under go test).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/apiguard/apiguard\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("wasmbuild: no apiguard go.mod above the working directory")
		}
		dir = parent
	}
}
