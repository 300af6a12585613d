package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/internal/jsonenc"
	"github.com/apiguard/apiguard/internal/verdict"
)

// wireEvent is the JSON-lines form; its keys are part of the documented format.
type wireEvent struct {
	Type          string     `json:"type"`
	Time          string     `json:"time"`
	RequestID     string     `json:"request_id,omitempty"`
	TraceID       string     `json:"trace_id,omitempty"`
	Route         string     `json:"route,omitempty"`
	Method        string     `json:"method,omitempty"`
	Path          string     `json:"path,omitempty"`
	Status        int        `json:"status,omitempty"`
	Decisions     []Decision `json:"decisions,omitempty"`
	Identity      *Identity  `json:"jwt,omitempty"`
	ClientIP      string     `json:"client_ip,omitempty"`
	RateLimitKey  string     `json:"ratelimit_key_hash,omitempty"`
	RemovedFields []string   `json:"removed_fields,omitempty"`
	Signals       []string   `json:"signals,omitempty"`
	LatencyMS     float64    `json:"latency_ms"`
	BytesIn       uint64     `json:"bytes_in"`
	BytesOut      uint64     `json:"bytes_out"`
	Headers       []Header   `json:"headers,omitempty"`
	BodyExcerpt   string     `json:"body_excerpt,omitempty"`
	Failures      int        `json:"failures,omitempty"`
	WindowS       float64    `json:"window_s,omitempty"`
	Truncated     bool       `json:"truncated,omitempty"`
}

// encodeOracle is Encode written with encoding/json, the reference the
// hand-written encoder must match byte for byte.
func encodeOracle(e *Event) ([]byte, error) {
	w := wireEvent{
		Type:          orStr(e.Type, EventRequest),
		Time:          e.Time.UTC().Format(time.RFC3339Nano),
		RequestID:     maskTokens(e.RequestID),
		TraceID:       e.TraceID,
		Route:         e.Route,
		Method:        e.Method,
		Path:          RedactPath(e.Path),
		Status:        e.Status,
		Decisions:     e.Decisions,
		Identity:      e.Identity,
		ClientIP:      e.ClientIP,
		RateLimitKey:  e.RateLimitKey,
		RemovedFields: e.RemovedFields,
		Signals:       e.Signals,
		LatencyMS:     float64(e.Latency.Microseconds()) / 1000,
		BytesIn:       e.BytesIn,
		BytesOut:      e.BytesOut,
		Headers:       e.Headers,
		BodyExcerpt:   e.BodyExcerpt,
		Failures:      e.Failures,
		WindowS:       e.Window.Seconds(),
		Truncated:     e.Truncated,
	}
	out, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("telemetry: encode audit event: %w", err)
	}
	return out, nil
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "<a&b>", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é€𝄞", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80"} {
		want, _ := json.Marshal(s)
		if got := jsonenc.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("jsonenc.AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 1.25, 0.001, 1e-7, 1.5e-7, 123456789, 1e20, 1e21, 1.2345e22, math.MaxFloat64, math.SmallestNonzeroFloat64, -0.0000001} {
		want, _ := json.Marshal(f)
		if got := jsonenc.AppendFloat(nil, f); !bytes.Equal(got, want) {
			t.Errorf("jsonenc.AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a<b>\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := jsonenc.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("jsonenc.AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

func FuzzAppendJSONFloat(f *testing.F) {
	f.Add(1.25)
	f.Fuzz(func(t *testing.T, v float64) {
		want, err := json.Marshal(v)
		if err != nil {
			return // NaN, Inf: not representable
		}
		if got := jsonenc.AppendFloat(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("jsonenc.AppendFloat(%v) = %s, want %s", v, got, want)
		}
	})
}

func eventVariants() []*Event {
	full := sampleEvent()
	full.Failures, full.Window, full.Truncated = 3, 90*time.Second, true
	return []*Event{
		full,
		{},
		{Time: t0, Identity: &Identity{}, Decisions: []Decision{{}}, Headers: []Header{{}}, RemovedFields: []string{""}},
		BurstEvent(Burst{Failures: 10, Window: time.Minute}, t0),
		{Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Latency: -time.Second, Status: -1},
	}
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for i, e := range eventVariants() {
		got := appendEventLineTo(nil, e)
		want, err := encodeOracle(e)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("event %d:\n got %s\nwant %s %v", i, got, want, err)
		}
	}
}

func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	f.Add("GET", "/a?b=c", "rid", "iss", "sub", "field", "h", "v<&>", int64(1234567), 200)
	f.Fuzz(func(t *testing.T, method, path, rid, iss, sub, field, hn, hv string, latency int64, status int) {
		e := &Event{Time: t0, Method: method, Path: path, RequestID: rid, Status: status, Latency: time.Duration(latency),
			Decisions: []Decision{{Policy: iss, Decision: verdict.Decision(sub), Reason: verdict.Reason(field)}}, Identity: &Identity{Issuer: iss, Subject: sub},
			RemovedFields: []string{field, hv}, Headers: []Header{{hn, hv}}, BodyExcerpt: hv, Signals: []string{rid}}
		got := appendEventLineTo(nil, e)
		want, err := encodeOracle(e)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s %v", got, want, err)
		}
	})
}
