package main

import (
	"fmt"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/telemetry"
)

// metrics are defined once per plugin configuration, in OnPluginStart (never
// in init: Envoy forbids host calls other than logging during _initialize).
type metrics struct {
	instance string
	requests proxywasm.MetricCounter
}

func defineMetrics(instance string) (*metrics, error) {
	if err := telemetry.CheckName(instance); err != nil {
		return nil, fmt.Errorf("instance name: %w", err)
	}
	prefix := telemetry.DefaultPrefix + "." + instance + "."
	return &metrics{
		instance: instance,
		requests: proxywasm.DefineCounterMetric(prefix + "requests_total"),
	}, nil
}

// pluginInstanceName derives the instance segment from Envoy's plugin_name
// property when the configuration names none.
func pluginInstanceName() (string, error) {
	raw, err := proxywasm.GetProperty([]string{"plugin_name"})
	if err != nil || len(raw) == 0 {
		return "default", nil
	}
	return telemetry.InstanceFromPluginName(string(raw))
}
