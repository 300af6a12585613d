package main

import (
	"fmt"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

// defineMetrics defines the whole catalogue once per plugin configuration,
// in OnPluginStart (never in init: Envoy forbids host calls other than
// logging during _initialize).
func defineMetrics(s *settings.Settings, instance string) (*metrics.Metrics, error) {
	return metrics.Define(s.Inventory(instance), metricSink{})
}

// instanceName is the metric instance segment: the configured one, else one
// derived from Envoy's plugin_name property.
func instanceName(s *settings.Settings) (string, error) {
	if s.Telemetry.Instance != "" {
		return s.Telemetry.Instance, nil
	}
	raw, err := proxywasm.GetProperty([]string{"plugin_name"})
	if err != nil || len(raw) == 0 {
		return "default", nil
	}
	return metrics.InstanceFromPluginName(string(raw))
}

// metricSink defines metrics through the Proxy-Wasm ABI.
type metricSink struct{}

func (metricSink) DefineCounter(name string) (metrics.Counter, error) {
	var id uint32
	// DefineCounterMetric panics on a host error; recover it into an error.
	err := catch(func() { id = uint32(proxywasm.DefineCounterMetric(name)) })
	return counter(id), err
}

func (metricSink) DefineHistogram(name string) (metrics.Histogram, error) {
	var id uint32
	err := catch(func() { id = uint32(proxywasm.DefineHistogramMetric(name)) })
	return histogram(id), err
}

// counter and histogram update metrics through direct: no SDK wrapper and
// no deferred recover on each of a request's six updates, and never a
// panic (the SDK's wrappers panic on a host error, and a metric must not
// take a request down with it).
type counter uint32

func (c counter) Add(delta uint64) { direct.IncrementMetric(uint32(c), int64(delta)) }

type histogram uint32

func (h histogram) Record(value uint64) { direct.RecordMetric(uint32(h), value) }

func catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r) // names come from the configuration, never from requests
		}
	}()
	f()
	return nil
}
