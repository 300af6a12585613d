package metrics

import (
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"github.com/apiguard/apiguard/internal/telemetry/envoystats"
)

var update = flag.Bool("update", false, "rewrite envoy/stats_tags.yaml from StatsTags")

const statsTagsFile = "../../../envoy/stats_tags.yaml"

const statsTagsHeader = `# apiguard's stats_config.stats_tags (Envoy bootstrap), generated from
# internal/telemetry.StatsTags("apiguard"); a test keeps the two equal.
# Paste the list under the bootstrap's stats_config.stats_tags (in Istio,
# through a bootstrap override). The regexes match the wasmcustom. form and
# start with ^wasmcustom\. so Envoy runs them only on Wasm metrics.
#
# Metric names are <prefix>.<instance>.<subsystem>[.<key>.<value>]*.<leaf>;
# Envoy stores them as wasmcustom.<name>. Each regex removes its first
# capture group from the name and uses the second as the tag value, so
#   wasmcustom.apiguard.orders.authn.provider.corp.decision.deny.reason.expired.decisions_total
# is exported to Prometheus as
#   apiguard_authn_decisions_total{apiguard_instance="orders",provider="corp",decision="deny",reason="expired"}
`

type statsTagsDoc struct {
	StatsTags []envoystats.TagSpec `json:"stats_tags"`
}

func TestStatsTagsFileMatchesCode(t *testing.T) {
	want := StatsTags(DefaultPrefix)
	if *update {
		y, err := yaml.Marshal(statsTagsDoc{StatsTags: want})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(statsTagsFile, append([]byte(statsTagsHeader), y...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(statsTagsFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc statsTagsDoc
	if err := yaml.UnmarshalStrict(raw, &doc); err != nil {
		t.Fatalf("%s: %v", statsTagsFile, err)
	}
	if !reflect.DeepEqual(doc.StatsTags, want) {
		t.Fatalf("%s is out of date; run go test ./internal/telemetry -run StatsTagsFile -update", statsTagsFile)
	}
}

// The file must be a valid Envoy StatsConfig by the real API protos and
// their validation rules.
func TestStatsTagsFileIsValidEnvoyConfig(t *testing.T) {
	raw, err := os.ReadFile(statsTagsFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var sc metricsv3.StatsConfig
	if err := protojson.Unmarshal(j, &sc); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if err := sc.ValidateAll(); err != nil {
		t.Fatalf("envoy validation: %v", err)
	}
	if len(sc.GetStatsTags()) != len(StatsTags(DefaultPrefix)) {
		t.Fatalf("got %d tags", len(sc.GetStatsTags()))
	}
}

func sampleInventory() Inventory {
	return Inventory{
		Instance:      "orders",
		Routes:        []string{"users", "admin", "reason"}, // a route named like a tag key
		Providers:     []string{"corp", "partner", "provider"},
		JWKSProviders: []string{"corp"},
		Policies:      []string{"per_user", "fleet_per_ip", "decision"},
		// A route and a class named like tag keys too.
		InventoryRoutes: []string{"users", "class"},
		Classes:         []string{"card_number", "route"},
	}
}

func newEnvoyExtractor(t testing.TB, prefix string) *envoystats.Extractor {
	t.Helper()
	specs := append(envoystats.DefaultSpecs(), StatsTags(prefix)...)
	x, err := envoystats.NewExtractor(specs)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// expectedTags derives, from the way the catalogue builds a name, the tags
// Envoy must extract, independently of the regexes.
func expectedTags(name, prefix string) (map[string]string, string) {
	segs := strings.Split(name, ".")
	tags := map[string]string{TagInstance: segs[1]}
	rest := segs[3 : len(segs)-1]
	for i := 0; i+1 < len(rest); i += 2 {
		tags[rest[i]] = rest[i+1]
	}
	return tags, prefix + "_" + segs[2] + "_" + segs[len(segs)-1]
}

func TestEveryMetricIsTaggedAsIntended(t *testing.T) {
	for _, prefix := range []string{DefaultPrefix, "edge_guard"} {
		inv := sampleInventory()
		inv.Prefix = prefix
		descs, err := Catalogue(inv)
		if err != nil {
			t.Fatal(err)
		}
		x := newEnvoyExtractor(t, prefix)
		promKinds := map[string]Kind{}
		promTagKeys := map[string][]string{}
		seen := map[string]bool{}
		for _, d := range descs {
			if seen[d.Name] {
				t.Fatalf("duplicate metric %s", d.Name)
			}
			seen[d.Name] = true
			extracted, tags := x.Extract(envoystats.WasmNamespace + "." + d.Name)
			got := map[string]string{}
			for _, tg := range tags {
				if _, dup := got[tg.Name]; dup {
					t.Errorf("%s: tag %s extracted twice", d.Name, tg.Name)
				}
				got[tg.Name] = tg.Value
			}
			want, wantProm := expectedTags(d.Name, prefix)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: tags %v, want %v", d.Name, got, want)
			}
			prom, ok := envoystats.PrometheusName(extracted)
			if !ok || prom != wantProm {
				t.Errorf("%s: extracted %q, Prometheus name %q (exported %v), want %q", d.Name, extracted, prom, ok, wantProm)
			}
			// One Prometheus family: one type and one label set.
			if k, ok := promKinds[prom]; ok && k != d.Kind {
				t.Errorf("%s: family %s mixes %v and %v", d.Name, prom, k, d.Kind)
			}
			promKinds[prom] = d.Kind
			keys := sortedKeys(got)
			if k, ok := promTagKeys[prom]; ok && !slices.Equal(k, keys) {
				t.Errorf("%s: family %s has label sets %v and %v", d.Name, prom, k, keys)
			}
			promTagKeys[prom] = keys
		}
	}
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

// apiguard's regexes must leave Envoy's own stats alone.
func TestStatsTagsIgnoreOtherStats(t *testing.T) {
	x, err := envoystats.NewExtractor(StatsTags(DefaultPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"cluster.corp.upstream_rq_200",
		"http.ingress.rq_total",
		"wasmcustom.other_plugin.provider.corp.reason.x.total",
		"wasm.envoy.wasm.runtime.v8.active",
		"wasmcustom.apiguardx.orders.authn.provider.corp.decisions_total",
	} {
		if got, tags := x.Extract(name); len(tags) != 0 || got != name {
			t.Errorf("%s: extracted %q with tags %v", name, got, tags)
		}
	}
}

// promFamilies returns the metric families of Envoy's /stats/prometheus
// output for the whole catalogue, as envoystats.WritePrometheus renders
// it with stats_tags.yaml applied: the names the dashboard and the alert
// rules may use.
func promFamilies(t testing.TB) map[string]Kind {
	t.Helper()
	descs, err := Catalogue(sampleInventory())
	if err != nil {
		t.Fatal(err)
	}
	var metrics []envoystats.Metric
	for _, d := range descs {
		typ := envoystats.TypeCounter
		if d.Kind == KindHistogram {
			typ = envoystats.TypeHistogram
		}
		metrics = append(metrics, envoystats.Metric{Name: envoystats.WasmNamespace + "." + d.Name, Type: typ, Samples: []uint64{1}})
	}
	var out strings.Builder
	if err := envoystats.WritePrometheus(&out, newEnvoyExtractor(t, DefaultPrefix), metrics, nil); err != nil {
		t.Fatal(err)
	}
	fams := map[string]Kind{}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			fams[name] = map[string]Kind{envoystats.TypeCounter: KindCounter, envoystats.TypeHistogram: KindHistogram}[typ]
		}
	}
	if len(fams) == 0 {
		t.Fatal("no metric families exported")
	}
	return fams
}

// The Prometheus names apiguard exports, as dashboards see them.
func TestPrometheusFamilies(t *testing.T) {
	want := map[string]Kind{
		"apiguard_http_requests_total": KindCounter, "apiguard_http_latency_ms": KindHistogram, "apiguard_http_processing_us": KindHistogram,
		"apiguard_authn_decisions_total": KindCounter, "apiguard_request_decisions_total": KindCounter,
		"apiguard_jwks_fetch_successes_total": KindCounter, "apiguard_jwks_fetch_failures_total": KindCounter, "apiguard_jwks_age_seconds": KindHistogram,
		"apiguard_ratelimit_decisions_total": KindCounter, "apiguard_ratelimit_errors_total": KindCounter, "apiguard_ratelimit_near_limit_total": KindCounter,
		"apiguard_ratelimit_evictions_total":  KindCounter,
		"apiguard_respfilter_responses_total": KindCounter, "apiguard_respfilter_fields_removed_total": KindCounter,
		"apiguard_respfilter_fields_masked_total": KindCounter, "apiguard_respfilter_errors_total": KindCounter,
		"apiguard_audit_events_total": KindCounter, "apiguard_audit_sampled_out_total": KindCounter, "apiguard_audit_body_budget_refusals_total": KindCounter, "apiguard_audit_dropped_total": KindCounter,
		"apiguard_otlp_exports_total": KindCounter, "apiguard_otlp_exported_events_total": KindCounter, "apiguard_otlp_export_failures_total": KindCounter,
		"apiguard_security_auth_failure_bursts_total": KindCounter,
		"apiguard_inventory_observed_responses_total": KindCounter, "apiguard_inventory_sensitive_values_total": KindCounter,
		"apiguard_security_sensitive_exposures_total": KindCounter, "apiguard_inventory_dropped_total": KindCounter,
		"apiguard_inventory_unobserved_responses_total": KindCounter,
		"apiguard_runtime_memory_kib":                   KindHistogram, "apiguard_runtime_heap_inuse_kib": KindHistogram, "apiguard_runtime_gc_cycles_total": KindCounter,
		"apiguard_runtime_forced_gc_total": KindCounter, "apiguard_runtime_forced_gc_freed_kib": KindHistogram,
		"apiguard_telemetry_unknown_label_total": KindCounter,
	}
	if got := promFamilies(t); !reflect.DeepEqual(got, want) {
		t.Errorf("families %v\nwant %v", got, want)
	}
}
