package main

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// calloutStatus is the :status of the answer to a proxy_http_call, read in
// its callback; 0 when it cannot be read or is absent. Envoy keeps the
// answer on the root context and finds it from any effective context
// (context.cc getMap, rootContext()).
func calloutStatus() int {
	headers, err := proxywasm.GetHttpCallResponseHeaders()
	if err != nil {
		return 0
	}
	for _, kv := range headers {
		if kv[0] == ":status" {
			n, _ := strconv.Atoi(kv[1])
			return n
		}
	}
	return 0
}
