// Command devproxy is apiguard's local gateway: it serves real HTTP through
// the compiled plugin (build/apiguard.wasm) on the wasmhost Envoy stand-in,
// in front of a built-in demo JSON API or any upstream URL. `make run` starts
// it with envoy/demo-config.json.
//
//	go run ./internal/devproxy [--wasm build/apiguard.wasm] [--config envoy/demo-config.json]
//	    [--listen 127.0.0.1:10000] [--admin 127.0.0.1:9901] [--upstream URL]
//	    [--cluster NAME=URL ...] [--workers N]
//	go run ./internal/devproxy --demo-api 127.0.0.1:8000   (only the demo API, e.g. behind a real Envoy)
//
// The admin address answers like Envoy's admin interface: /ready,
// /stats, /stats/prometheus, plus /config (the plugin config in use).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
