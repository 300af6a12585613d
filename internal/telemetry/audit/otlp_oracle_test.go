package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/otlp"
	"github.com/apiguard/apiguard/internal/verdict"
)

// otlpValue is an AnyValue. Strings are plain fields (no allocation per
// value): callers never encode an empty string, which omitempty would turn
// into an empty AnyValue.
type otlpValue struct {
	StringValue string      `json:"stringValue,omitempty"`
	IntValue    string      `json:"intValue,omitempty"` // int64 as a decimal string
	DoubleValue *float64    `json:"doubleValue,omitempty"`
	ArrayValue  *otlpArray  `json:"arrayValue,omitempty"`
	KvlistValue *otlpKvlist `json:"kvlistValue,omitempty"`
	BoolValue   *bool       `json:"boolValue,omitempty"`
}

type otlpArray struct {
	Values []otlpValue `json:"values"`
}

type otlpKvlist struct {
	Values []otlpKV `json:"values"`
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

type otlpLogRecord struct {
	TimeUnixNano         string    `json:"timeUnixNano"`
	ObservedTimeUnixNano string    `json:"observedTimeUnixNano"`
	SeverityNumber       int       `json:"severityNumber"`
	SeverityText         string    `json:"severityText"`
	EventName            string    `json:"eventName"`
	Body                 otlpValue `json:"body"`
	Attributes           []otlpKV  `json:"attributes"`
	TraceID              string    `json:"traceId,omitempty"`
	SpanID               string    `json:"spanId,omitempty"`
}

func strVal(s string) otlpValue { return otlpValue{StringValue: s} }

func intVal(i int64) otlpValue { return otlpValue{IntValue: strconv.FormatInt(i, 10)} }

// strArray encodes a string array; empty strings are left out.
func strArray(ss []string) otlpValue {
	a := &otlpArray{Values: make([]otlpValue, 0, len(ss))}
	for _, s := range ss {
		if s != "" {
			a.Values = append(a.Values, strVal(s))
		}
	}
	return otlpValue{ArrayValue: a}
}

// encodeOTLPOracle is EncodeOTLPRecord written with encoding/json structs,
// the reference the hand-written encoder must match byte for byte.
func encodeOTLPOracle(e *Event, observedNanos int64) ([]byte, error) {
	typ := orStr(e.Type, EventRequest)
	path, query, _ := strings.Cut(RedactPath(e.Path), "?")
	rec := otlpLogRecord{
		TimeUnixNano:         strconv.FormatInt(e.Time.UnixNano(), 10),
		ObservedTimeUnixNano: strconv.FormatInt(observedNanos, 10),
		SeverityNumber:       severityInfo,
		SeverityText:         "INFO",
		EventName:            "apiguard." + typ,
		Attributes:           make([]otlpKV, 0, 20+len(e.Headers)),
	}
	if typ != EventRequest || e.Denied() {
		rec.SeverityNumber, rec.SeverityText = severityWarn, "WARN"
	}
	if isHex(e.TraceID, 32) {
		rec.TraceID = e.TraceID
		if isHex(e.SpanID, 16) {
			rec.SpanID = e.SpanID
		}
	}
	attr := func(k string, v otlpValue) { rec.Attributes = append(rec.Attributes, otlpKV{Key: k, Value: v}) }
	str := func(k, v string) {
		if v != "" {
			attr(k, strVal(v))
		}
	}
	str("apiguard.request_id", maskTokens(e.RequestID))
	str("http.route", e.Route)
	str("http.request.method", e.Method)
	str("url.path", path)
	str("url.query", query)
	if e.Status != 0 {
		attr("http.response.status_code", intVal(int64(e.Status)))
	}
	if len(e.Decisions) > 0 {
		arr := &otlpArray{}
		for _, d := range e.Decisions {
			kv := &otlpKvlist{Values: []otlpKV{{Key: "policy", Value: strVal(orStr(d.Policy, "unknown"))}, {Key: "decision", Value: strVal(orStr(string(d.Decision), "unknown"))}}}
			if d.Reason != "" {
				kv.Values = append(kv.Values, otlpKV{Key: "reason", Value: strVal(string(d.Reason))})
			}
			arr.Values = append(arr.Values, otlpValue{KvlistValue: kv})
		}
		attr("apiguard.decisions", otlpValue{ArrayValue: arr})
	}
	if id := e.Identity; id != nil {
		str("apiguard.jwt.iss", id.Issuer)
		str("apiguard.jwt.sub", id.Subject)
		str("apiguard.jwt.kid", id.KeyID)
	}
	str("client.address", e.ClientIP)
	str("apiguard.ratelimit.key_hash", e.RateLimitKey)
	if len(e.RemovedFields) > 0 {
		attr("apiguard.removed_fields", strArray(e.RemovedFields))
	}
	if len(e.Signals) > 0 {
		attr("apiguard.signals", strArray(e.Signals))
	}
	if typ == EventRequest {
		ms := float64(e.Latency.Microseconds()) / 1000
		attr("apiguard.latency_ms", otlpValue{DoubleValue: &ms})
		attr("http.request.body.size", intVal(clampInt64(e.BytesIn)))
		attr("http.response.body.size", intVal(clampInt64(e.BytesOut)))
	}
	for _, h := range e.Headers {
		if h.Value != "" {
			attr("http.request.header."+strings.ToLower(h.Name), strArray([]string{h.Value}))
		}
	}
	str("apiguard.body_excerpt", e.BodyExcerpt)
	if e.Failures > 0 {
		attr("apiguard.auth_failures", intVal(int64(e.Failures)))
		attr("apiguard.window_s", intVal(int64(e.Window.Seconds())))
	}
	if e.Truncated {
		yes := true
		attr("apiguard.truncated", otlpValue{BoolValue: &yes})
	}
	rec.Body = strVal(orStr(summary(e, typ, path), typ))
	out, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("telemetry: encode otlp record: %w", err)
	}
	return out, nil
}

// otlpPayloadOracle is otlp.Payload written with encoding/json.
func otlpPayloadOracle(res otlp.Resource, records [][]byte) ([]byte, error) {
	resource := struct {
		Attributes []otlpKV `json:"attributes"`
	}{Attributes: []otlpKV{{Key: "service.name", Value: strVal(orStr(res.ServiceName, "apiguard"))}}}
	if res.Instance != "" {
		resource.Attributes = append(resource.Attributes, otlpKV{Key: "apiguard.instance", Value: strVal(res.Instance)})
	}
	scope := struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	}{Name: "apiguard", Version: res.ScopeVersion}
	rj, err := json.Marshal(&resource)
	if err != nil {
		return nil, fmt.Errorf("telemetry: encode otlp resource: %w", err)
	}
	sj, err := json.Marshal(&scope)
	if err != nil {
		return nil, fmt.Errorf("telemetry: encode otlp scope: %w", err)
	}
	n := 128 + len(rj) + len(sj)
	for _, r := range records {
		n += len(r) + 1
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(`{"resourceLogs":[{"resource":`)
	b.Write(rj)
	b.WriteString(`,"scopeLogs":[{"scope":`)
	b.Write(sj)
	b.WriteString(`,"logRecords":[`)
	for i, r := range records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r)
	}
	b.WriteString(`]}]}]}`)
	return b.Bytes(), nil
}

func TestOTLPEncodingMatchesEncodingJSON(t *testing.T) {
	for i, e := range eventVariants() {
		got := appendOTLPRecord(e, 42)
		want, err := encodeOTLPOracle(e, 42)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("event %d:\n got %s\nwant %s %v", i, got, want, err)
		}
	}
	for _, res := range []otlp.Resource{{}, {ServiceName: "s<>", Instance: "i", ScopeVersion: "v1"}} {
		recs := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}
		got, _ := otlp.Payload(res, recs)
		want, _ := otlpPayloadOracle(res, recs)
		if !bytes.Equal(got, want) {
			t.Errorf("payload:\n got %s\nwant %s", got, want)
		}
	}
}

func FuzzOTLPEncodingMatchesEncodingJSON(f *testing.F) {
	f.Add("GET", "/a?b=c", "rid", "4bf92f3577b34da6a3ce929d0e0e4736", "iss", "sub", "field", "H", "v<&>", int64(1234567), 200, 0)
	f.Fuzz(func(t *testing.T, method, path, rid, trace, iss, sub, field, hn, hv string, latency int64, status, failures int) {
		e := &Event{Time: t0, Method: method, Path: path, RequestID: rid, TraceID: trace, SpanID: trace[:min(16, len(trace))], Status: status,
			Latency: time.Duration(latency), Decisions: []Decision{{Policy: iss, Decision: verdict.Decision(sub), Reason: verdict.Reason(field)}}, Identity: &Identity{Issuer: iss, Subject: sub},
			RemovedFields: []string{field, hv}, Headers: []Header{{hn, hv}}, BodyExcerpt: hv, Signals: []string{rid}, Failures: failures, Type: field}
		got := appendOTLPRecord(e, latency)
		want, err := encodeOTLPOracle(e, latency)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s %v", got, want, err)
		}
	})
}
