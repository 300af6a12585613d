// Command wasmbuild compiles the apiguard plugin (or another package main of
// this module) into a Proxy-Wasm module with the standard Go toolchain.
//
//	go run ./internal/sdkabi/cmd/wasmbuild [-version V] -o build/apiguard.wasm ./plugin
//
// The version (default: the VERSION file) is stamped into main.version.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

func main() {
	out := flag.String("o", "build/apiguard.wasm", "output .wasm file")
	version := flag.String("version", "", "version stamped into the module (default: the VERSION file)")
	flag.Parse()
	pkg := "./plugin"
	if flag.NArg() > 0 {
		pkg = flag.Arg(0)
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := wasmbuild.Build(wasmbuild.Options{Root: root, Package: pkg, Output: *out, Version: *version}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
