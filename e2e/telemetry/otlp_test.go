package telemetry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// collector is a real OTLP/HTTP JSON logs receiver. Every payload must
// decode with the official protos and pass the OTLP/JSON spec rules that
// protojson alone does not enforce. It decodes into logs/v1 LogsData, which
// the OTLP spec defines as the same message as ExportLogsServiceRequest
// (field 1, resource_logs): the collector/logs/v1 package would pull in
// grpc-gateway, which the module does not depend on.
type collector struct {
	t      testing.TB
	srv    *httptest.Server
	fail   atomic.Int64 // answer 503 to this many more posts
	mu     sync.Mutex
	posts  []*logspb.LogsData
	raw    []string
	times  []time.Time
	errors []string
}

func newCollector(t testing.TB) *collector {
	c := &collector{t: t}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
	if r.Method != "POST" || r.URL.Path != "/v1/logs" || r.Header.Get("content-type") != "application/json" {
		c.errors = append(c.errors, fmt.Sprintf("%s %s content-type %q", r.Method, r.URL.Path, r.Header.Get("content-type")))
	}
	req := &logspb.LogsData{}
	if err := protojson.Unmarshal(body, req); err != nil {
		c.errors = append(c.errors, "protojson: "+err.Error())
	}
	if err := checkOTLPJSON(body); err != nil {
		c.errors = append(c.errors, "spec: "+err.Error())
	}
	if c.fail.Load() > 0 {
		c.fail.Add(-1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	c.posts = append(c.posts, req)
	c.raw = append(c.raw, string(body))
	w.Header().Set("content-type", "application/json")
	io.WriteString(w, `{}`)
}

// batchSizes is the number of log records of each accepted post.
func (c *collector) batchSizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, p := range c.posts {
		n := 0
		for _, rl := range p.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				n += len(sl.LogRecords)
			}
		}
		out = append(out, n)
	}
	return out
}

func (c *collector) records() int {
	n := 0
	for _, s := range c.batchSizes() {
		n += s
	}
	return n
}

func (c *collector) check(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.errors {
		t.Error(e)
	}
}

var (
	lowerCamel = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	hexID      = map[string]*regexp.Regexp{"traceId": regexp.MustCompile(`^[0-9a-f]{32}$`), "spanId": regexp.MustCompile(`^[0-9a-f]{16}$`)}
)

// checkOTLPJSON enforces the OTLP/JSON encoding rules
// (opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"):
// lowerCamelCase field names, trace and span ids as hex (not base64),
// enums as integers, 64-bit integers as decimal strings.
func checkOTLPJSON(body []byte) error {
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	var walk func(path string, v any) error
	walk = func(path string, v any) error {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !lowerCamel.MatchString(k) {
					return fmt.Errorf("%s: key %q is not lowerCamelCase", path, k)
				}
				if re := hexID[k]; re != nil {
					if s, ok := x.(string); !ok || !re.MatchString(s) {
						return fmt.Errorf("%s.%s: %v is not a lowercase hex id", path, k, x)
					}
				}
				switch k {
				case "severityNumber":
					if _, ok := x.(json.Number); !ok {
						return fmt.Errorf("%s.%s: enum %v is not an integer", path, k, x)
					}
				case "timeUnixNano", "observedTimeUnixNano", "intValue":
					if s, ok := x.(string); !ok || !regexp.MustCompile(`^-?[0-9]+$`).MatchString(s) {
						return fmt.Errorf("%s.%s: %v is not a decimal string", path, k, x)
					}
				}
				if err := walk(path+"."+k, x); err != nil {
					return err
				}
			}
		case []any:
			for i, x := range v {
				if err := walk(fmt.Sprintf("%s[%d]", path, i), x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("$", doc)
}

func otlpSection(cluster string, extra string) string {
	return `, "audit": {"sink": "otlp", "headers": ["x-api-key"]}, "otlp": {"cluster": "` + cluster + `"` + extra + `}`
}

// Batches leave by size (batch_size) and, for the rest, by time
// (flush_interval), on ticks; every payload is valid OTLP/JSON and holds
// the decisions, identity and trace ids, and no secret.
func TestOTLPExportBatchedBySizeAndTime(t *testing.T) {
	c := newCollector(t)
	e := start(t, otlpSection("otel", `, "batch_size": 5, "flush_interval": "500ms"`), 100, 1, map[string]string{"otel": c.srv.URL})
	alice := token(t, "alice")
	for i := range 12 {
		switch i % 3 {
		case 0:
			e.do(t, "GET", "/api/o?password="+password, "", "authorization", "Bearer "+alice, "traceparent", traceparent)
		case 1:
			e.do(t, "GET", "/api/o", "", "x-api-key", apiKey)
		default:
			e.do(t, "GET", "/public?card="+cardNumber, "")
		}
	}
	waitFor(t, "12 exported records", 5*time.Second, func() bool { return c.records() >= 12 })
	// The plugin counts an export when the collector's answer comes back,
	// which can be after the collector has stored the records.
	waitFor(t, "3 accepted exports counted", 5*time.Second, func() bool { return e.counter(t, "otlp.exports_total") >= 3 })
	c.check(t)
	if got := c.batchSizes(); !equalInts(got, []int{5, 5, 2}) {
		t.Errorf("batches %v, want [5 5 2]: two full ones, then the rest after flush_interval", got)
	}
	if n := e.counter(t, "otlp.exports_total"); n != 3 {
		t.Errorf("otlp.exports_total = %d", n)
	}
	if n := e.counter(t, "otlp.exported_events_total"); n != 12 {
		t.Errorf("otlp.exported_events_total = %d", n)
	}

	c.mu.Lock()
	first := c.posts[0]
	raw := strings.Join(c.raw, "\n")
	c.mu.Unlock()
	res := first.ResourceLogs[0]
	attrs := map[string]string{}
	for _, kv := range res.Resource.Attributes {
		attrs[kv.Key] = kv.Value.GetStringValue()
	}
	if attrs["service.name"] != "apiguard" {
		t.Errorf("resource attributes %v", attrs)
	}
	recs := res.ScopeLogs[0].LogRecords
	allowed, denied := recs[0], recs[1]
	// protojson reads bytes fields as base64, OTLP/JSON writes ids as hex
	// (which checkOTLPJSON enforced on the raw body): re-encode to compare.
	if tid, sid := base64.StdEncoding.EncodeToString(allowed.TraceId), base64.StdEncoding.EncodeToString(allowed.SpanId); tid != "4bf92f3577b34da6a3ce929d0e0e4736" || sid != "00f067aa0ba902b7" {
		t.Errorf("trace/span ids %s %s", tid, sid)
	}
	if allowed.EventName != "apiguard.request" || allowed.SeverityText != "INFO" || denied.SeverityText != "WARN" || denied.SeverityNumber <= allowed.SeverityNumber {
		t.Errorf("event name %q severities %v/%v", allowed.EventName, allowed.SeverityNumber, denied.SeverityNumber)
	}
	found := map[string]bool{}
	for _, kv := range allowed.Attributes {
		found[kv.Key] = true
		switch kv.Key {
		case "apiguard.jwt.sub":
			if kv.Value.GetStringValue() != "alice" {
				t.Errorf("jwt.sub %v", kv.Value)
			}
		case "url.query":
			if kv.Value.GetStringValue() != "password=REDACTED" {
				t.Errorf("url.query %v", kv.Value)
			}
		case "http.response.status_code":
			if kv.Value.GetIntValue() != 200 {
				t.Errorf("status %v", kv.Value)
			}
		}
	}
	for _, k := range []string{"apiguard.decisions", "apiguard.jwt.iss", "apiguard.jwt.kid", "client.address", "http.request.method", "url.path", "apiguard.latency_ms"} {
		if !found[k] {
			t.Errorf("allowed record lacks %s", k)
		}
	}
	assertNoSecrets(t, e, []string{alice}, raw)
}

// A collector that fails is retried with exponential backoff, and the batch
// is delivered once it recovers.
func TestOTLPRetryWithBackoff(t *testing.T) {
	c := newCollector(t)
	c.fail.Store(2)
	e := start(t, otlpSection("otel", `, "batch_size": 3, "retry_initial_backoff": "300ms"`), 100, 1, map[string]string{"otel": c.srv.URL})
	for range 3 {
		e.do(t, "GET", "/public", "")
	}
	waitFor(t, "the batch delivered", 5*time.Second, func() bool { return c.records() >= 3 })
	c.check(t)
	c.mu.Lock()
	times := append([]time.Time(nil), c.times...)
	c.mu.Unlock()
	if len(times) != 3 {
		t.Fatalf("%d posts, want 2 failures and 1 success", len(times))
	}
	if d1, d2 := times[1].Sub(times[0]), times[2].Sub(times[1]); d1 < 300*time.Millisecond || d2 < 600*time.Millisecond {
		t.Errorf("retry gaps %v, %v: want at least 300ms then 600ms (exponential backoff)", d1, d2)
	}
	if n := e.counter(t, "otlp.reason.http_status.export_failures_total"); n != 2 {
		t.Errorf("export_failures_total{reason=http_status} = %d, want 2", n)
	}
	if got := c.batchSizes(); !equalInts(got, []int{3}) {
		t.Errorf("accepted batches %v, want one of 3", got)
	}
}

// With the collector down, memory stays bounded: events beyond
// max_buffered_events are dropped and counted, batches that exhaust their
// retries are dropped and counted, and traffic is never held up.
func TestOTLPBoundedWhenCollectorDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close() // connection refused: Envoy answers the call with 503
	e := start(t, otlpSection("otel", `, "batch_size": 5, "max_buffered_events": 10, "max_retries": 1, "retry_initial_backoff": "50ms"`),
		1000, 1, map[string]string{"otel": url})
	for i := range 40 {
		if st := e.do(t, "GET", "/public", "").StatusCode; st != 200 {
			t.Fatalf("request %d: %d: telemetry must never hold up traffic", i, st)
		}
	}
	kept := e.counter(t, "audit.events_total")
	full := e.counter(t, "audit.reason.buffer_full.dropped_total")
	if kept+full != 40 || kept > 40-20 {
		t.Errorf("events kept %d, dropped buffer_full %d: want 40 in all, at most ~10 buffered per tick", kept, full)
	}
	waitFor(t, "batches given up", 5*time.Second, func() bool {
		v, _ := e.p.Stats().Counter("apiguard." + e.instance + ".audit.reason.gave_up.dropped_total")
		return v >= 5
	})
	if n := e.counter(t, "otlp.reason.http_status.export_failures_total"); n < 2 {
		t.Errorf("export_failures_total{reason=http_status} = %d, want the failed attempts counted", n)
	}
}
