package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

// version is apiguard's release, stamped at build time by the build glue
// (internal/sdkabi/wasmbuild passes -ldflags "-X main.version=..." from the
// VERSION file); "dev" in native builds and tests. It is logged at start,
// exported once as the build_info gauge and reported as the OTLP
// instrumentation scope version.
var version = "dev"

// exportBuildInfo defines the build_info gauge and sets it to 1. Setting,
// not adding: proxy_record_metric sets a gauge (Envoy
// source/extensions/common/wasm/context.cc, Context::recordMetric), so every
// worker and every reconfiguration leaves it at 1. The SDK only exposes
// that call on MetricHistogram; the ABI call is the same for every kind.
func exportBuildInfo(s *settings.Settings, instance string) error {
	name := metrics.BuildInfoName(s.Telemetry.MetricPrefix, instance, version)
	return catch(func() {
		id := proxywasm.DefineGaugeMetric(name)
		proxywasm.MetricHistogram(id).Record(1)
	})
}
