package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

// fakeSink stands in for the host's metric store: names to values, and the
// rules Envoy applies (a name defined twice returns the same metric).
type fakeSink struct {
	counters   map[string]*fakeCounter
	histograms map[string]*fakeHistogram
	failOn     string
}

type fakeCounter struct{ v uint64 }

func (c *fakeCounter) Add(d uint64) { c.v += d }

type fakeHistogram struct{ samples []uint64 }

func (h *fakeHistogram) Record(v uint64) { h.samples = append(h.samples, v) }

func newFakeSink() *fakeSink {
	return &fakeSink{counters: map[string]*fakeCounter{}, histograms: map[string]*fakeHistogram{}}
}

func (s *fakeSink) DefineCounter(name string) (Counter, error) {
	if name == s.failOn {
		return nil, errors.New("host refused")
	}
	if c, ok := s.counters[name]; ok {
		return c, nil
	}
	c := &fakeCounter{}
	s.counters[name] = c
	return c, nil
}

func (s *fakeSink) DefineHistogram(name string) (Histogram, error) {
	if name == s.failOn {
		return nil, errors.New("host refused")
	}
	h := &fakeHistogram{}
	s.histograms[name] = h
	return h, nil
}

func (s *fakeSink) counter(t *testing.T, name string) uint64 {
	t.Helper()
	c, ok := s.counters[name]
	if !ok {
		t.Fatalf("counter %s not defined", name)
	}
	return c.v
}

func cardinalityFormula(inv Inventory) int {
	n := 22*len(inv.Providers) + 8*len(inv.JWKSProviders) + 39*len(inv.Policies) + 2*len(inv.Routes) + 88
	if len(inv.Classes) > 0 {
		n += (len(inv.InventoryRoutes)+1)*(len(inv.Classes)+2) + 5
	}
	return n
}

func TestCardinalityMatchesDocumentedFormula(t *testing.T) {
	for _, inv := range []Inventory{
		{Instance: "a"},
		sampleInventory(),
		{Instance: "b", Routes: []string{"r1", "r2"}, Providers: []string{"p1"}, JWKSProviders: []string{"p1"}, Policies: []string{"x"}},
		{Instance: "c", InventoryRoutes: []string{"echo", "users"}, Classes: []string{"card_number", "email", "employee_id"}},
	} {
		d, err := Catalogue(inv)
		if err != nil {
			t.Fatal(err)
		}
		if n, want := len(d), cardinalityFormula(inv); n != want {
			t.Errorf("%+v: cardinality %d, documented formula gives %d", inv, n, want)
		}
	}
}

func TestCatalogueRefusesUnsafeNames(t *testing.T) {
	for _, inv := range []Inventory{
		{Instance: ""},
		{Instance: "Orders"},
		{Instance: "a.b"},
		{Instance: "ok", Providers: []string{"corp", "corp"}},
		{Instance: "ok", Providers: []string{"_none"}},
		{Instance: "ok", Routes: []string{"/users"}},
		{Instance: "ok", Policies: []string{strings.Repeat("a", 64)}},
		{Instance: "ok", JWKSProviders: []string{"ghost"}},
		{Instance: "ok", Prefix: "9lives"},
	} {
		if _, err := Catalogue(inv); err == nil {
			t.Errorf("%+v accepted", inv)
		}
	}
}

func TestTwoInstancesNeverShareAMetric(t *testing.T) {
	a, b := sampleInventory(), sampleInventory()
	b.Instance = "billing"
	da, _ := Catalogue(a)
	db, _ := Catalogue(b)
	names := map[string]bool{}
	for _, d := range da {
		names[d.Name] = true
	}
	for _, d := range db {
		if names[d.Name] {
			t.Fatalf("%s defined by both instances", d.Name)
		}
	}
}

func TestMetricsRecordUnderTheRightNames(t *testing.T) {
	sink := newFakeSink()
	m, err := Define(sampleInventory(), sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.counters)+len(sink.histograms) != cardinalityFormula(sampleInventory()) {
		t.Fatalf("defined %d metrics", len(sink.counters)+len(sink.histograms))
	}
	m.Request("users")
	m.Request("not_configured")
	m.Request("")
	m.Authn("corp", verdict.Deny, verdict.TokenExpired)
	m.Authn("corp", verdict.Deny, "made_up_reason")
	m.Authn(NoProvider, verdict.Deny, "missing_token")
	m.Authn("corp", verdict.Allow, "verified")
	m.Authn("ghost", verdict.Deny, verdict.TokenExpired)
	m.RateLimit("per_user", verdict.Deny, verdict.RateLimited)
	m.RateLimitError("per_user", "table_full")
	m.NearLimit("per_user")
	m.RateLimitEviction("per_user")
	m.Filter(verdict.Allow, verdict.Filtered, 3, 1)
	m.FilterError("whatever")
	m.JWKSFetchFailed("corp", "timeout")
	m.OTLPExported(7)
	m.AuditDropped("buffer_full", 2)
	m.Latency("users", 1500*time.Microsecond)
	m.Processing(PhaseRequestHeaders, 42*time.Microsecond)
	m.JWKSAge("corp", 90*time.Second)
	m.Runtime(RuntimeSample{TotalBytes: 8 << 20, HeapInUseBytes: 3 << 20}, 2)

	for name, want := range map[string]uint64{
		"apiguard.orders.http.route.users.requests_total":                                             1,
		"apiguard.orders.http.route._other.requests_total":                                            2,
		"apiguard.orders.authn.provider.corp.decision.deny.reason.token_expired.decisions_total":      1,
		"apiguard.orders.authn.provider.corp.decision.deny.reason.other.decisions_total":              1,
		"apiguard.orders.authn.provider._none.decision.deny.reason.missing_token.decisions_total":     1,
		"apiguard.orders.authn.provider.corp.decision.allow.reason.verified.decisions_total":          1,
		"apiguard.orders.ratelimit.policy.per_user.decision.deny.reason.rate_limited.decisions_total": 1,
		"apiguard.orders.ratelimit.policy.per_user.reason.table_full.errors_total":                    1,
		"apiguard.orders.ratelimit.policy.per_user.near_limit_total":                                  1,
		"apiguard.orders.ratelimit.policy.per_user.evictions_total":                                   1,
		"apiguard.orders.respfilter.decision.allow.reason.filtered.responses_total":                   1,
		"apiguard.orders.respfilter.fields_removed_total":                                             3,
		"apiguard.orders.respfilter.fields_masked_total":                                              1,
		"apiguard.orders.respfilter.reason.other.errors_total":                                        1,
		"apiguard.orders.jwks.provider.corp.reason.timeout.fetch_failures_total":                      1,
		"apiguard.orders.otlp.exports_total":                                                          1,
		"apiguard.orders.otlp.exported_events_total":                                                  7,
		"apiguard.orders.audit.reason.buffer_full.dropped_total":                                      2,
		"apiguard.orders.runtime.gc_cycles_total":                                                     2,
		// the unconfigured provider is not invented as a new metric
		"apiguard.orders.telemetry.unknown_label_total": 1,
	} {
		if got := sink.counter(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	for name, want := range map[string]uint64{
		"apiguard.orders.http.route.users.latency_ms":              1,
		"apiguard.orders.http.phase.request_headers.processing_us": 42,
		"apiguard.orders.jwks.provider.corp.age_seconds":           90,
		"apiguard.orders.runtime.memory_kib":                       8192,
		"apiguard.orders.runtime.heap_inuse_kib":                   3072,
	} {
		h := sink.histograms[name]
		if h == nil || len(h.samples) != 1 || h.samples[0] != want {
			t.Errorf("%s = %v, want [%d]", name, h, want)
		}
	}
	for name := range sink.counters {
		if strings.Contains(name, "ghost") || strings.Contains(name, "not_configured") || strings.Contains(name, "made_up") {
			t.Errorf("request-supplied label became a metric: %s", name)
		}
	}
}

// The per-request recordings go through handles resolved by Define; they
// must land on the same names as the catalogue says, and labels outside it
// must still count as unknown.
func TestPerRequestRecordingsUseTheCatalogueNames(t *testing.T) {
	sink := newFakeSink()
	m, err := Define(sampleInventory(), sink)
	if err != nil {
		t.Fatal(err)
	}
	m.Request(OtherRoute)
	m.Latency(OtherRoute, 7*time.Millisecond)
	for i, ph := range Phases() {
		m.Processing(ph, time.Duration(i+1)*time.Microsecond)
	}
	m.Processing(Phase("made_up"), time.Microsecond)                  // unknown
	m.Authn(NoProvider, verdict.Allow, "not_required")                // handle
	m.Authn("corp", verdict.Allow, "verified")                        // handle
	m.Authn("ghost", verdict.Allow, "verified")                       // unknown
	m.Authn("corp", verdict.Allow, "not_required")                    // unknown
	m.RateLimit("per_user", verdict.Allow, verdict.WithinLimit)       // handle
	m.RateLimit("per_user", verdict.Allow, verdict.ShadowRateLimited) // counted
	m.RateLimit("per_user", verdict.Deny, "made_up")                  // other
	m.RateLimit("ghost", verdict.Allow, verdict.WithinLimit)          // unknown
	for name, want := range map[string]uint64{
		"apiguard.orders.http.route._other.requests_total":                                                    1,
		"apiguard.orders.authn.provider._none.decision.allow.reason.not_required.decisions_total":             1,
		"apiguard.orders.authn.provider.corp.decision.allow.reason.verified.decisions_total":                  1,
		"apiguard.orders.ratelimit.policy.per_user.decision.allow.reason.within_limit.decisions_total":        1,
		"apiguard.orders.ratelimit.policy.per_user.decision.allow.reason.shadow_rate_limited.decisions_total": 1,
		"apiguard.orders.ratelimit.policy.per_user.decision.deny.reason.rate_limited.decisions_total":         0,
		"apiguard.orders.ratelimit.policy.per_user.decision.deny.reason.other.decisions_total":                1,
		"apiguard.orders.telemetry.unknown_label_total":                                                       3,
	} {
		if got := sink.counter(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	hists := map[string]uint64{"apiguard.orders.http.route._other.latency_ms": 7}
	for i, ph := range Phases() {
		hists["apiguard.orders.http.phase."+string(ph)+".processing_us"] = uint64(i + 1)
	}
	for name, want := range hists {
		h := sink.histograms[name]
		if h == nil || len(h.samples) != 1 || h.samples[0] != want {
			t.Errorf("%s = %v, want [%d]", name, h, want)
		}
	}
}

func TestDefineReportsHostErrors(t *testing.T) {
	sink := newFakeSink()
	sink.failOn = "apiguard.orders.audit.events_total"
	if _, err := Define(sampleInventory(), sink); err == nil || !strings.Contains(err.Error(), "audit.events_total") {
		t.Fatalf("err = %v", err)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.Request("x")
	m.Authn("a", verdict.Deny, "b")
	m.Latency("x", time.Second)
	m.Latency(OtherRoute, time.Second)
	m.Request(OtherRoute)
	m.Processing(PhaseStreamDone, time.Second)
	m.Authn(NoProvider, verdict.Allow, "not_required")
	m.RateLimit("p", verdict.Allow, verdict.WithinLimit)
	m.Runtime(RuntimeSample{}, 1)
}

func TestInstanceFromPluginName(t *testing.T) {
	for in, want := range map[string]string{
		"apiguard":              "apiguard",
		"Orders.API-v2":         "orders_api_v2",
		"1st":                   "p_1st",
		strings.Repeat("x", 90): strings.Repeat("x", 63),
	} {
		got, err := InstanceFromPluginName(in)
		if err != nil || got != want || !ValidName(got) {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := InstanceFromPluginName(""); err == nil {
		t.Error("empty plugin name accepted")
	}
}

func BenchmarkRecordRequestMetrics(b *testing.B) {
	m, err := Define(sampleInventory(), newFakeSink())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Request("users")
		m.Authn("corp", verdict.Allow, "verified")
		m.RateLimit("per_user", verdict.Allow, verdict.WithinLimit)
		m.Filter(verdict.Allow, verdict.Filtered, 2, 0)
		m.Latency("users", 3*time.Millisecond)
		m.Processing(PhaseRequestHeaders, 20*time.Microsecond)
	}
}
