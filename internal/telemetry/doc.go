// Package telemetry is apiguard's observability configuration and the
// per-worker pipelines built from it, in pure Go. It splits by job:
//
//   - metrics: the metric catalogue, names and label sets, runtime self-metrics;
//   - audit: the audit Event, its encodings, masking, redaction and signals;
//   - otlp: the OTLP/HTTP export, batching with retries, and the collector's answer.
//
// This package holds the `telemetry` configuration section (Config), the
// Auditor that ties audit events to their sink (log lines, or OTLP batches)
// and counts what happens to them, and the GC policy. The plugin wires them
// to the host through metrics.MetricSink and by sending what the Auditor
// returns; nothing here imports the proxy-wasm SDK or reads a clock.
package telemetry
