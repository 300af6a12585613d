package audit

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/telemetry/internal/jsonenc"
)

// OTLP/HTTP JSON encoding of audit events as logs (ExportLogsServiceRequest,
// opentelemetry-proto logs/v1). Encoded by hand with encoding/json structs
// rather than protojson, which is heavy in Wasm; the tests decode every
// payload with the official protos and also check the OTLP/JSON rules that
// protojson does not enforce: lowerCamelCase keys, trace and span ids as hex
// (not base64), enums as integers, 64-bit integers as strings.

// OTLP severity numbers (logs/v1 SeverityNumber).
const (
	severityInfo = 9
	severityWarn = 13
)

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return strings.Trim(s, "0") != "" // all-zero ids are invalid in W3C trace context
}

// EncodeOTLPRecord returns the event as one OTLP/JSON LogRecord object, to be
// buffered by a Batcher and joined by OTLPPayload. observedNanos is when
// apiguard emitted it (Unix ns). Attributes follow the OpenTelemetry
// semantic conventions where one exists (http.request.method, url.path,
// http.response.status_code, client.address, ...) and apiguard.* otherwise.
// Request-controlled strings are cut to bounds (see MaxEventBytes).
func EncodeOTLPRecord(e *Event, observedNanos int64) ([]byte, error) {
	return encodeBounded(e, func(e *Event) []byte { return appendOTLPRecord(e, observedNanos) })
}

// appendOTLPRecord formats e as the LogRecord of EncodeOTLPRecord, without bounds.
func appendOTLPRecord(e *Event, observedNanos int64) []byte {
	typ := orStr(e.Type, EventRequest)
	path, query, _ := strings.Cut(RedactPath(e.Path), "?")
	sev, sevText := severityInfo, "INFO"
	if typ != EventRequest || e.Denied() {
		sev, sevText = severityWarn, "WARN"
	}
	o := jsonenc.Object{B: make([]byte, 0, 2048)}
	o.Open()
	o.Key("timeUnixNano")
	o.B = jsonenc.AppendQuotedInt(o.B, e.Time.UnixNano())
	o.Key("observedTimeUnixNano")
	o.B = jsonenc.AppendQuotedInt(o.B, observedNanos)
	o.Int("severityNumber", int64(sev))
	o.Str("severityText", sevText)
	o.Str("eventName", "apiguard."+typ)
	o.Key("body")
	o.B = jsonenc.AppendStrValue(o.B, orStr(summary(e, typ, path), typ))
	o.Key("attributes")
	a := jsonenc.Attrs{B: append(o.B, '[')}
	a.Str("apiguard.request_id", maskTokens(e.RequestID))
	a.Str("http.route", e.Route)
	a.Str("envoy.route", e.EnvoyRoute)
	a.Str("http.request.method", e.Method)
	a.Str("url.path", path)
	a.Str("url.query", query)
	if e.Status != 0 {
		a.Int("http.response.status_code", int64(e.Status))
	}
	if e.HasGRPCStatus {
		a.Int("rpc.grpc.status_code", int64(e.GRPCStatus))
	}
	if len(e.Decisions) > 0 {
		a.Begin("apiguard.decisions")
		a.B = append(a.B, `{"arrayValue":{"values":[`...)
		for i, d := range e.Decisions {
			if i > 0 {
				a.B = append(a.B, ',')
			}
			a.B = append(a.B, `{"kvlistValue":{"values":[{"key":"policy","value":`...)
			a.B = jsonenc.AppendStrValue(a.B, orStr(d.Policy, "unknown"))
			a.B = append(a.B, `},{"key":"decision","value":`...)
			a.B = jsonenc.AppendStrValue(a.B, orStr(string(d.Decision), "unknown"))
			a.B = append(a.B, '}')
			if d.Reason != "" {
				a.B = append(a.B, `,{"key":"reason","value":`...)
				a.B = jsonenc.AppendStrValue(a.B, string(d.Reason))
				a.B = append(a.B, '}')
			}
			a.B = append(a.B, `]}}`...)
		}
		a.B = append(a.B, `]}}`...)
		a.End()
	}
	if id := e.Identity; id != nil {
		a.Str("apiguard.jwt.iss", id.Issuer)
		a.Str("apiguard.jwt.sub", id.Subject)
		a.Str("apiguard.jwt.kid", id.KeyID)
	}
	a.Str("client.address", e.ClientIP)
	a.Str("apiguard.ratelimit.key_hash", e.RateLimitKey)
	if len(e.RemovedFields) > 0 {
		a.StrArray("apiguard.removed_fields", e.RemovedFields...)
	}
	if len(e.Signals) > 0 {
		a.StrArray("apiguard.signals", e.Signals...)
	}
	if typ == EventRequest {
		a.Begin("apiguard.latency_ms")
		a.B = append(a.B, `{"doubleValue":`...)
		a.B = jsonenc.AppendThousandths(a.B, e.Latency.Microseconds())
		a.B = append(a.B, '}')
		a.End()
		a.Int("http.request.body.size", clampInt64(e.BytesIn))
		a.Int("http.response.body.size", clampInt64(e.BytesOut))
	}
	for _, h := range e.Headers {
		if h.Value != "" {
			a.StrArray("http.request.header."+strings.ToLower(h.Name), h.Value)
		}
	}
	a.Str("apiguard.body_excerpt", e.BodyExcerpt)
	if e.Failures > 0 {
		a.Int("apiguard.auth_failures", int64(e.Failures))
		a.Int("apiguard.window_s", int64(e.Window.Seconds()))
	}
	a.Str("apiguard.field", e.Field)
	a.Str("apiguard.class", e.Class)
	if e.Inventory != nil {
		// The part as the same JSON the log sink writes, one string.
		a.Str("apiguard.inventory", string(appendInventory(nil, e.Inventory)))
	}
	if e.Truncated {
		a.Begin("apiguard.truncated")
		a.B = append(a.B, `{"boolValue":true}`...)
		a.End()
	}
	o.B = append(a.B, ']')
	if isHex(e.TraceID, 32) {
		o.Str("traceId", e.TraceID)
		if isHex(e.SpanID, 16) {
			o.Str("spanId", e.SpanID)
		}
	}
	o.Close()
	return o.B
}

func clampInt64(u uint64) int64 {
	if u > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(u)
}

// summary is the record's human-readable body, e.g.
// "GET /orders 401 authn=deny(expired)".
func summary(e *Event, typ, path string) string {
	var b strings.Builder
	switch typ {
	case EventAuthFailureBurst:
		fmt.Fprintf(&b, "auth failure burst: %d failures from %s within %s", e.Failures, e.ClientIP, e.Window)
		return b.String()
	case EventSensitiveField:
		fmt.Fprintf(&b, "sensitive field: %s at %s on route %s", e.Class, e.Field, e.Route)
		return b.String()
	case EventInventory:
		n := 0
		if e.Inventory != nil {
			n = len(e.Inventory.Fields)
		}
		fmt.Fprintf(&b, "response inventory: %d fields of route %s", n, e.Route)
		return b.String()
	}
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(path)
	if e.Status != 0 {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(e.Status))
	}
	for _, d := range e.Decisions {
		b.WriteByte(' ')
		b.WriteString(d.Policy)
		b.WriteByte('=')
		b.WriteString(string(d.Decision))
		if d.Reason != "" {
			b.WriteByte('(')
			b.WriteString(string(d.Reason))
			b.WriteByte(')')
		}
	}
	return b.String()
}
