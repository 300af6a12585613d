// Package audit is apiguard's audit trail: the Event of each request, its
// encodings (a JSON line, an OTLP LogRecord), sampling, key pseudonyms,
// masking and path redaction, the security signals, and the filter-state
// names the plugin publishes its verdict under.
//
// # Audit trail
//
// One Event per request (plus auth_failure_burst events), sampled by
// audit.sample_rate with denials always kept, encoded as a JSON line (log
// sink, written by the plugin with proxy_log at audit.log_level, default
// warn because Istio proxies log at warning) or as an OTLP LogRecord
// (otlp sink, batched per worker by Batcher and posted to the collector
// cluster). Events never hold a token, a key or a masked value: the path's
// query and ;parameter values are redacted at encoding, the rate-limit key
// is an HMAC pseudonym, removed fields are paths, and headers and body
// excerpts go through Masker, which fails closed on bodies it cannot parse.
//
// # Envoy integration
//
// The plugin sets the Property* names with proxy_set_property (filter
// state wasm.apiguard.*), so access logs, RBAC and Istio policies can see
// each decision; the details of its local replies are verdict.Details.
package audit
