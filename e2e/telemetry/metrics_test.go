package telemetry

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// Decisions are counted by provider or policy, decision and reason under
// the documented names, and Envoy's stats_tags turn them into labels.
func TestMetricsByDecisionAndReason(t *testing.T) {
	e := start(t, "", 1, 1, nil)
	alice := token(t, "alice")
	e.do(t, "GET", "/public", "")
	e.do(t, "GET", "/api/a", "")                                              // missing token
	e.do(t, "GET", "/api/a", "", "authorization", "Bearer "+alice)            // verified, ok
	e.do(t, "GET", "/api/a", "", "authorization", "Bearer "+alice)            // verified, limited
	e.do(t, "GET", "/api/a", "", "authorization", "Bearer x.y.z")             // malformed
	e.do(t, "GET", "/api/%2e%2e%2fetc", "", "authorization", "Bearer "+alice) // refused path

	for name, want := range map[string]uint64{
		// The route is the jwt rule's name; no rule, or a path refused
		// before any rule was read, is _other.
		"http.route.api.requests_total":                                              4,
		"http.route._other.requests_total":                                           2,
		"request.decision.deny.reason.non_canonical_path.decisions_total":            1,
		"authn.provider.corp.decision.deny.reason.missing_token.decisions_total":     1,
		"authn.provider.corp.decision.deny.reason.malformed_token.decisions_total":   1,
		"authn.provider.corp.decision.allow.reason.verified.decisions_total":         2,
		"authn.provider._none.decision.allow.reason.not_required.decisions_total":    1,
		"ratelimit.policy.per_ip.decision.allow.reason.within_limit.decisions_total": 1,
		"ratelimit.policy.per_ip.decision.deny.reason.rate_limited.decisions_total":  1,
		"telemetry.unknown_label_total":                                              0,
	} {
		if got := e.counter(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if n := len(e.histogram(t, "http.route.api.latency_ms")) + len(e.histogram(t, "http.route._other.latency_ms")); n != 6 {
		t.Errorf("latency_ms has %d samples, want 6", n)
	}
	if n := len(e.histogram(t, "http.phase.request_headers.processing_us")); n != 6 {
		t.Errorf("processing_us{phase=request_headers} has %d samples, want 6", n)
	}
	if n := len(e.histogram(t, "http.phase.stream_done.processing_us")); n != 6 {
		t.Errorf("processing_us{phase=stream_done} has %d samples, want 6", n)
	}
	if n := len(e.histogram(t, "http.phase.response_body.processing_us")); n < 4 {
		t.Errorf("processing_us{phase=response_body} has %d samples, want one per response with a body", n)
	}

	prom := e.prometheus(t)
	inst := `apiguard_instance="` + e.instance + `"`
	for _, want := range []string{
		`apiguard_authn_decisions_total{` + inst + `,provider="corp",decision="deny",reason="missing_token"} 1`,
		`apiguard_ratelimit_decisions_total{` + inst + `,policy="per_ip",decision="deny",reason="rate_limited"} 1`,
		`apiguard_http_requests_total{` + inst + `,route="api"} 4`,
		`apiguard_http_processing_us_count{` + inst + `,phase="request_headers"} 6`,
	} {
		if !containsLabels(prom, want) {
			t.Errorf("/stats/prometheus lacks %s", want)
		}
	}
}

// containsLabels finds a Prometheus sample line with the same name, labels
// (in any order) and value.
func containsLabels(prom, want string) bool {
	name, rest, _ := strings.Cut(want, "{")
	labels, value, _ := strings.Cut(rest, "} ")
	wantSet := strings.Split(labels, ",")
	for _, line := range strings.Split(prom, "\n") {
		n, r, ok := strings.Cut(line, "{")
		if !ok || n != name {
			continue
		}
		l, v, _ := strings.Cut(r, "} ")
		if v != value {
			continue
		}
		have := map[string]bool{}
		for _, x := range strings.Split(l, ",") {
			have[x] = true
		}
		all := true
		for _, x := range wantSet {
			all = all && have[x]
		}
		if all {
			return true
		}
	}
	return false
}

// Eight workers record into the same metric names, as Envoy's process-wide
// stats do: counters add up, and per-worker levels (memory, heap) are
// histogram samples from every worker, not a gauge the last writer wins.
func TestEightWorkersShareMetricNames(t *testing.T) {
	e := start(t, `, "audit": {"sink": "log"}`, 1000, 8, nil)
	const n = 160
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/public"
			if i%4 == 0 {
				path = "/api/x" // 401
			}
			e.do(t, "GET", path, "")
		}()
	}
	wg.Wait()
	if got := e.counter(t, "http.route._other.requests_total") + e.counter(t, "http.route.api.requests_total"); got != n {
		t.Errorf("requests_total = %d, want %d", got, n)
	}
	if got := e.counter(t, "authn.provider.corp.decision.deny.reason.missing_token.decisions_total"); got != n/4 {
		t.Errorf("missing_token denials = %d, want %d", got, n/4)
	}
	// One event per request, plus one per failed-auth burst (the 40 denials
	// from one client cross the threshold on some of the 8 workers).
	bursts := e.counter(t, "security.auth_failure_bursts_total")
	if got := e.counter(t, "audit.events_total"); got != n+bursts {
		t.Errorf("audit events = %d, want %d requests + %d bursts", got, n, bursts)
	}
	requests := 0
	for _, l := range e.auditLines(t, wasmhost.LogWarn) {
		if l["type"] == "request" {
			requests++
		}
	}
	if requests != n {
		t.Errorf("%d request events logged, want %d", requests, n)
	}
	if got := len(e.histogram(t, "http.route._other.latency_ms")) + len(e.histogram(t, "http.route.api.latency_ms")); got != n {
		t.Errorf("latency samples = %d, want %d", got, n)
	}
	// Every worker samples its memory on every tick (200 ms).
	waitFor(t, "memory samples from the 8 workers", 3*time.Second, func() bool {
		h, _ := e.p.Stats().Histogram("apiguard." + e.instance + ".runtime.memory_kib")
		return len(h) >= 16
	})
	for _, name := range []string{"runtime.memory_kib", "runtime.heap_inuse_kib"} {
		for _, v := range e.histogram(t, name) {
			if v == 0 || v > 1<<20 {
				t.Errorf("%s sample %d KiB is implausible", name, v)
			}
		}
	}
	seen := map[string]bool{}
	for _, name := range e.p.Stats().Names() {
		if seen[name] {
			t.Errorf("metric %s defined twice", name)
		}
		seen[name] = true
	}
	if e.p.FailedWorkers() != 0 {
		t.Errorf("%d workers failed: %v", e.p.FailedWorkers(), e.p.Traps())
	}
}
