package main

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

// Policy hooks not yet configured pass through. Each policy replaces its
// hook in its own file.

func (h *httpContext) authenticate() stageResult { return stageNext }

func (h *httpContext) rateLimit() stageResult { return stageNext }

func (h *httpContext) filterResponseHeaders(endOfStream bool) types.Action {
	return types.ActionContinue
}

func (h *httpContext) filterResponseBody(bodySize int, endOfStream bool) types.Action {
	return types.ActionContinue
}

func (h *httpContext) observe() {}
