package wasmhost

import (
	"bytes"
	"strings"
	"testing"
)

func TestMetricsReadableAndExported(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.Workers = 2
	p := startConformance(t, Options{}, cfg)
	for i := 0; i < 3; i++ {
		do(t, p, echoUpstream, "POST", "/", "abcd", "x-do", "pause-req-body")
	}
	if n, ok := p.Stats().Counter("requests_total"); !ok || n != 3 {
		t.Fatalf("requests_total %d %v", n, ok)
	}
	if g, ok := p.Stats().Gauge("last_request_size"); !ok || g != 4 {
		t.Fatalf("gauge %d %v", g, ok)
	}
	if h, ok := p.Stats().Histogram("request_bytes"); !ok || len(h) != 3 {
		t.Fatalf("histogram %v %v", h, ok)
	}
	var buf bytes.Buffer
	if err := p.PrometheusText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# TYPE requests_total counter\nrequests_total{} 3\n",
		"# TYPE last_request_size gauge\nlast_request_size{} 4\n",
		"request_bytes_bucket{le=\"5\"} 3\n",
		"request_bytes_count{} 3\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("prometheus output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "wasmcustom") || strings.Contains(out, "envoy_") {
		t.Fatalf("Envoy strips the wasmcustom namespace and adds no envoy_ prefix:\n%s", out)
	}
	if names := p.Stats().Names(); names[0] != "wasmcustom.last_request_size" {
		t.Fatalf("names %v", names)
	}
}

func TestMetricErrors(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "metric-errors")
	if got := res.header.Get("X-Metric"); got != "incr0=2 get-hist=2 get-counter=0" {
		t.Fatalf("got %q: want BAD_ARGUMENT for a zero counter increment and a histogram get", got)
	}
}

func TestPromName(t *testing.T) {
	for in, want := range map[string]string{"a.b-c": "a_b_c", "9lives": "_9lives", "ok_1": "ok_1"} {
		if got := promName(in); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}
