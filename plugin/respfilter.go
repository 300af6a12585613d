package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/settings"
)

// respFilterState is the response field allowlist of one plugin configuration.
type respFilterState struct{}

func (p *pluginContext) configureResponseFilter(s *settings.Settings) error { return nil }

func (h *httpContext) filterResponseHeaders(endOfStream bool) types.Action {
	return types.ActionContinue
}

func (h *httpContext) filterResponseBody(bodySize int, endOfStream bool) types.Action {
	return types.ActionContinue
}

type respFilterStream struct{}
