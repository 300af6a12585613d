// Package metrics is apiguard's metric catalogue: names, the closed label
// sets, the definitions made once per VM through a MetricSink, and the
// runtime self-metrics. It never imports the proxy-wasm SDK.
//
// # Metric names
//
// Every metric is named
//
//	<prefix>.<instance>.<subsystem>[.<tag key>.<tag value>]*.<leaf>
//
// prefix is telemetry.metric_prefix ("apiguard"); instance is
// telemetry.instance (default: the Envoy plugin name, sanitised), so two
// apiguard filters in one Envoy never share a metric; tag keys are route,
// provider, policy, decision, reason and phase. Envoy stores the metric as
// wasmcustom.<name>; envoy/stats_tags.yaml (StatsTags) turns the instance
// and the key/value pairs into labels, and /stats/prometheus strips
// "wasmcustom." and turns dots into underscores, so
//
//	wasmcustom.apiguard.orders.ratelimit.policy.per_user.decision.limited.decisions_total
//
// is scraped as
//
//	apiguard_ratelimit_decisions_total{apiguard_instance="orders",policy="per_user",decision="limited"}
//
// Istio's default stats inclusion list has the prefix "wasm", which covers
// wasmcustom. Tag values are only configured names (checked by ValidName:
// [a-z][a-z0-9_]*, at most 63 bytes), the reserved NoProvider and
// OtherRoute, and members of the closed sets in catalogue.go. Paths, IPs,
// subjects and other request data never enter a name. A label the catalogue
// does not know is not recorded but counted in
// telemetry.unknown_label_total, so a plugin bug cannot grow the set.
//
// # Cardinality
//
// Every metric is defined once per VM at plugin start (Define, called from
// on_vm_start/on_configure, never init()), and the set is fixed by the
// configuration: len(Catalogue(inv)) = 22P + 8J + 39L + 2R + 88 for P JWT
// providers, J of them with a remote JWKS, L rate-limit policies and R named
// routes. Histograms cost Envoy one set of buckets per name.
//
// # Units and why histograms
//
// Envoy metric names are process-wide and each of the N worker VMs records
// into the same metric. Counters add up correctly; a gauge would hold
// whichever worker wrote last. So per-worker levels (Wasm memory, Go heap,
// JWKS age) are recorded as histogram samples on every tick, and
// dashboards read their p99 or max. Values are integers in units that fit
// Envoy's default buckets (0.5 … 3,600,000): latency in ms, processing time
// in µs, memory in KiB, JWKS age in s.
package metrics
