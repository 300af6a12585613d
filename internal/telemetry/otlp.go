package telemetry

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	o := jsonObject{b: make([]byte, 0, 2048)}
	o.open()
	o.key("timeUnixNano")
	o.b = appendQuotedInt(o.b, e.Time.UnixNano())
	o.key("observedTimeUnixNano")
	o.b = appendQuotedInt(o.b, observedNanos)
	o.int("severityNumber", int64(sev))
	o.str("severityText", sevText)
	o.str("eventName", "apiguard."+typ)
	o.key("body")
	o.b = appendStrValue(o.b, orStr(summary(e, typ, path), typ))
	o.key("attributes")
	a := otlpAttrs{b: append(o.b, '[')}
	a.str("apiguard.request_id", maskTokens(e.RequestID))
	a.str("http.route", e.Route)
	a.str("envoy.route", e.EnvoyRoute)
	a.str("http.request.method", e.Method)
	a.str("url.path", path)
	a.str("url.query", query)
	if e.Status != 0 {
		a.int("http.response.status_code", int64(e.Status))
	}
	if e.HasGRPCStatus {
		a.int("rpc.grpc.status_code", int64(e.GRPCStatus))
	}
	if len(e.Decisions) > 0 {
		a.begin("apiguard.decisions")
		a.b = append(a.b, `{"arrayValue":{"values":[`...)
		for i, d := range e.Decisions {
			if i > 0 {
				a.b = append(a.b, ',')
			}
			a.b = append(a.b, `{"kvlistValue":{"values":[{"key":"policy","value":`...)
			a.b = appendStrValue(a.b, orStr(d.Policy, "unknown"))
			a.b = append(a.b, `},{"key":"decision","value":`...)
			a.b = appendStrValue(a.b, orStr(string(d.Decision), "unknown"))
			a.b = append(a.b, '}')
			if d.Reason != "" {
				a.b = append(a.b, `,{"key":"reason","value":`...)
				a.b = appendStrValue(a.b, string(d.Reason))
				a.b = append(a.b, '}')
			}
			a.b = append(a.b, `]}}`...)
		}
		a.b = append(a.b, `]}}`...)
		a.end()
	}
	if id := e.Identity; id != nil {
		a.str("apiguard.jwt.iss", id.Issuer)
		a.str("apiguard.jwt.sub", id.Subject)
		a.str("apiguard.jwt.kid", id.KeyID)
	}
	a.str("client.address", e.ClientIP)
	a.str("apiguard.ratelimit.key_hash", e.RateLimitKey)
	if len(e.RemovedFields) > 0 {
		a.strArray("apiguard.removed_fields", e.RemovedFields...)
	}
	if len(e.Signals) > 0 {
		a.strArray("apiguard.signals", e.Signals...)
	}
	if typ == EventRequest {
		a.begin("apiguard.latency_ms")
		a.b = append(a.b, `{"doubleValue":`...)
		a.b = appendJSONFloat(a.b, float64(e.Latency.Microseconds())/1000)
		a.b = append(a.b, '}')
		a.end()
		a.int("http.request.body.size", clampInt64(e.BytesIn))
		a.int("http.response.body.size", clampInt64(e.BytesOut))
	}
	for _, h := range e.Headers {
		if h.Value != "" {
			a.strArray("http.request.header."+strings.ToLower(h.Name), h.Value)
		}
	}
	a.str("apiguard.body_excerpt", e.BodyExcerpt)
	if e.Failures > 0 {
		a.int("apiguard.auth_failures", int64(e.Failures))
		a.int("apiguard.window_s", int64(e.Window.Seconds()))
	}
	if e.Truncated {
		a.begin("apiguard.truncated")
		a.b = append(a.b, `{"boolValue":true}`...)
		a.end()
	}
	o.b = append(a.b, ']')
	if isHex(e.TraceID, 32) {
		o.str("traceId", e.TraceID)
		if isHex(e.SpanID, 16) {
			o.str("spanId", e.SpanID)
		}
	}
	o.close()
	return o.b
}

// appendQuotedInt writes an int64 as a JSON string, as OTLP/JSON requires
// for 64-bit integers.
func appendQuotedInt(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// appendStrValue writes an AnyValue holding a string ({} for "", as
// encoding/json's omitempty would).
func appendStrValue(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '{', '}')
	}
	dst = append(dst, `{"stringValue":`...)
	dst = appendJSONString(dst, s)
	return append(dst, '}')
}

// otlpAttrs writes a KeyValue list; empty strings are left out.
type otlpAttrs struct {
	b []byte
	n int
}

func (a *otlpAttrs) begin(k string) {
	if a.n > 0 {
		a.b = append(a.b, ',')
	}
	a.n++
	a.b = append(a.b, `{"key":`...)
	a.b = appendJSONString(a.b, k)
	a.b = append(a.b, `,"value":`...)
}

func (a *otlpAttrs) end() { a.b = append(a.b, '}') }

func (a *otlpAttrs) str(k, v string) {
	if v == "" {
		return
	}
	a.begin(k)
	a.b = appendStrValue(a.b, v)
	a.end()
}

func (a *otlpAttrs) int(k string, v int64) {
	a.begin(k)
	a.b = append(a.b, `{"intValue":`...)
	a.b = appendQuotedInt(a.b, v)
	a.b = append(a.b, '}')
	a.end()
}

// strArray writes an array of strings, leaving out empty ones.
func (a *otlpAttrs) strArray(k string, vs ...string) {
	a.begin(k)
	a.b = append(a.b, `{"arrayValue":{"values":[`...)
	first := true
	for _, v := range vs {
		if v == "" {
			continue
		}
		if !first {
			a.b = append(a.b, ',')
		}
		first = false
		a.b = appendStrValue(a.b, v)
	}
	a.b = append(a.b, `]}}`...)
	a.end()
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
	if typ == EventAuthFailureBurst {
		fmt.Fprintf(&b, "auth failure burst: %d failures from %s within %s", e.Failures, e.ClientIP, e.Window)
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

// OTLPResource describes the emitter in every payload.
type OTLPResource struct {
	ServiceName  string // service.name
	Instance     string // apiguard.instance
	ScopeVersion string // instrumentation scope version (the plugin's version)
}

// OTLPPayload joins encoded LogRecords into one ExportLogsServiceRequest body
// (content-type application/json) for POST to the collector's /v1/logs.
func OTLPPayload(res OTLPResource, records [][]byte) ([]byte, error) {
	n := 256 + len(res.ServiceName) + len(res.Instance) + len(res.ScopeVersion)
	for _, r := range records {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"resourceLogs":[{"resource":{"attributes":[`...)
	a := otlpAttrs{b: b}
	a.str("service.name", orStr(res.ServiceName, "apiguard"))
	a.str("apiguard.instance", res.Instance)
	b = append(a.b, `]},"scopeLogs":[{"scope":{"name":"apiguard"`...)
	if res.ScopeVersion != "" {
		b = append(b, `,"version":`...)
		b = appendJSONString(b, res.ScopeVersion)
	}
	b = append(b, `},"logRecords":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	b = append(b, `]}]}]}`...)
	return b, nil
}

// ExportResult classifies the collector's answer to one export call.
type ExportResult struct {
	Accepted  bool   // the batch is done (fully or partially accepted)
	Retryable bool   // not accepted, and worth sending again
	Reason    string // for OTLPFailed when not fully accepted: an OTLPFailureReasons member
	Rejected  int    // records the collector rejected in a partial success
}

// ClassifyExport judges an export call the way the OTLP/HTTP spec says a
// client must: 2xx is success (a body with partialSuccess.rejectedLogRecords
// names records dropped for good); 429, 502, 503 and 504 are retryable;
// other statuses are not. callFailed means no HTTP answer at all (Envoy
// reports timeouts and connection failures as 503/504 answers, so those
// arrive as statuses and are retried too).
func ClassifyExport(status int, body []byte, callFailed bool) ExportResult {
	switch {
	case callFailed:
		return ExportResult{Retryable: true, Reason: "call_failed"}
	case status >= 200 && status < 300:
		var resp struct {
			PartialSuccess struct {
				RejectedLogRecords json.Number `json:"rejectedLogRecords"`
			} `json:"partialSuccess"`
		}
		if len(body) > 0 && json.Unmarshal(body, &resp) == nil {
			if n, err := strconv.Atoi(resp.PartialSuccess.RejectedLogRecords.String()); err == nil && n > 0 {
				return ExportResult{Accepted: true, Reason: "partial_success", Rejected: n}
			}
		}
		return ExportResult{Accepted: true}
	case status == 429 || status == 502 || status == 503 || status == 504:
		return ExportResult{Retryable: true, Reason: "http_status"}
	default:
		return ExportResult{Reason: "http_status"}
	}
}
