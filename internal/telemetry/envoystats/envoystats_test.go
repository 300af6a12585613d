package envoystats

import (
	"reflect"
	"strings"
	"testing"
)

func TestExtractLikeEnvoy(t *testing.T) {
	x, err := NewExtractor(append(DefaultSpecs(),
		TagSpec{TagName: "envoy.cluster_name", Regex: `^cluster\.(([^\.]+)\.).*`},
		TagSpec{TagName: "one_group", Regex: `^wasmcustom\.svc(\.v[0-9])\.`},
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, extracted string
		tags            []Tag
	}{
		// Envoy's documented example: cluster name and response code.
		{"cluster.ratelimit.upstream_rq_200", "cluster.upstream_rq", []Tag{{"envoy.response_code", "200"}, {"envoy.cluster_name", "ratelimit"}}},
		{"cluster.x.upstream_rq_5xx", "cluster.upstream_rq_xx", []Tag{{"envoy.response_code_class", "5"}, {"envoy.cluster_name", "x"}}},
		// With one group, the removed text is also the value.
		{"wasmcustom.svc.v2.calls", "wasmcustom.svc.calls", []Tag{{"one_group", ".v2"}}},
		// The prefix token gates an anchored extractor.
		{"clusterx.a.b", "clusterx.a.b", nil},
	} {
		got, tags := x.Extract(c.name)
		if got != c.extracted || !reflect.DeepEqual(tags, c.tags) {
			t.Errorf("Extract(%q) = %q %v, want %q %v", c.name, got, tags, c.extracted, c.tags)
		}
	}
}

func TestRegexPrefix(t *testing.T) {
	for re, want := range map[string]string{
		`^cluster\.(([^\.]+)\.).*`:          "cluster",
		`^wasmcustom\.apiguard(\.([a-z]+))`: "wasmcustom",
		`^http(?=\.).*?\.rds\.((.*?)\.)`:    "http",
		`_rq(_(\d{3}))$`:                    "",
		`^(a)\.`:                            "",
		`^abc$`:                             "abc",
		`^abc`:                              "",
	} {
		if got := regexPrefix(re); got != want {
			t.Errorf("regexPrefix(%q) = %q, want %q", re, got, want)
		}
	}
}

func TestPrometheusName(t *testing.T) {
	for in, want := range map[string]string{
		"vulture.eats-liver":              "envoy_vulture_eats_liver", // Envoy's own test case
		"wasmcustom.apiguard.authn.total": "apiguard_authn_total",
		"wasmcustom.a:b.c-d":              "a_b_c_d",
		"wasmcustomx.a":                   "envoy_wasmcustomx_a",
	} {
		if got, ok := PrometheusName(in); !ok || got != want {
			t.Errorf("PrometheusName(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"wasmcustom.9lives", "wasmcustom."} {
		if got, ok := PrometheusName(in); ok {
			t.Errorf("PrometheusName(%q) = %q, want not exported", in, got)
		}
	}
}

func TestNewExtractorRejects(t *testing.T) {
	for _, s := range []TagSpec{{"", "(a)"}, {"t", ""}, {"t", "abc"}, {"t", `(?=x)(a)`}} {
		if _, err := NewExtractor([]TagSpec{s}); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("wasmcustom.apiguard.orders.authn.provider.corp.decisions_total")
	f.Add("cluster.a.upstream_rq_200")
	x, err := NewExtractor(append(DefaultSpecs(), TagSpec{TagName: "t", Regex: `^wasmcustom\.apiguard(\.([a-z0-9_]+))\.`}))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, _ := x.Extract(name)
		if len(got) > len(name) {
			t.Fatal("extraction grew the name")
		}
		PrometheusName(got)
	})
}

func TestWritePrometheus(t *testing.T) {
	x, err := NewExtractor([]TagSpec{{TagName: "reason", Regex: `^wasmcustom\.g(\.reason\.([a-z_]+))\.`}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	err = WritePrometheus(&b, x, []Metric{
		{Name: "wasmcustom.g.reason.expired.denied", Type: TypeCounter, Value: 3},
		{Name: "wasmcustom.g.reason.bad_sig.denied", Type: TypeCounter, Value: 1},
		{Name: "wasmcustom.g.latency", Type: TypeHistogram, Samples: []uint64{1, 7, 7000}},
		{Name: "wasmcustom.9bad", Type: TypeCounter, Value: 1},
		{Name: "server.live", Type: TypeGauge, Value: 1},
	}, []float64{0.5, 5, 10})
	if err != nil {
		t.Fatal(err)
	}
	want := `# TYPE g_denied counter
g_denied{reason="bad_sig"} 1
g_denied{reason="expired"} 3

# TYPE envoy_server_live gauge
envoy_server_live{} 1

# TYPE g_latency histogram
g_latency_bucket{le="0.5"} 0
g_latency_bucket{le="5"} 1
g_latency_bucket{le="10"} 2
g_latency_bucket{le="+Inf"} 3
g_latency_sum{} 7008
g_latency_count{} 3

`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
