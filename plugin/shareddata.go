package main

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
)

// sharedData is castable.Store over Envoy's shared data: one store per
// vm_id, seen by every worker. Values are read through internal/sdkabi/direct,
// which returns the host's block without the SDK's per-call allocations.
type sharedData struct{}

var _ castable.Store = sharedData{}

func (sharedData) Get(key string) ([]byte, uint32, error) {
	value, cas, err := direct.SharedData(key)
	switch {
	case err == nil:
		return value, cas, nil
	case errors.Is(err, types.ErrorStatusNotFound):
		return nil, 0, castable.ErrNotFound
	default:
		return nil, 0, fmt.Errorf("shared data get: %w", err)
	}
}

func (sharedData) Set(key string, value []byte, cas uint32) error {
	err := proxywasm.SetSharedData(key, value, cas)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, types.ErrorStatusCasMismatch):
		return castable.ErrCASMismatch
	default:
		return fmt.Errorf("shared data set: %w", err)
	}
}
