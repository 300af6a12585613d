package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/apiguard/apiguard/internal/verdict"
)

const (
	dashboardFile = "../../../envoy/grafana-dashboard.json"
	rulesFile     = "../../../envoy/prometheus-rules.yaml"
)

// promLabels are the labels a query may use: the stats_tags tags, plus
// Prometheus's own.
var promLabels = []string{TagInstance, TagRoute, TagProvider, TagPolicy, TagDecision, TagReason, TagPhase, TagClass, "le", "job", "instance"}

// closedLabelValues are the values a literal matcher may compare a tag to.
func closedLabelValues() map[string][]string {
	reasons := slices.Concat(jwksFailReasons, auditDropReason, otlpFailReasons, invUnobservedReasons)
	for _, p := range []verdict.Policy{verdict.PolicyRequest, verdict.PolicyAuthn, verdict.PolicyRateLimit, verdict.PolicyRespFilter} {
		for _, l := range decisionLabels(p) {
			reasons = append(reasons, l[1])
		}
	}
	var phases []string
	for _, p := range Phases() {
		phases = append(phases, string(p))
	}
	return map[string][]string{
		TagDecision: {string(verdict.Allow), string(verdict.Deny)},
		TagReason:   reasons,
		TagPhase:    phases,
	}
}

var (
	identRe   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	byRe      = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	stringRe  = regexp.MustCompile(`"[^"]*"`)
	literalRe = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// checkPromQL reports (as test errors) the problems promQLProblems finds
// and returns the families used.
func checkPromQL(t *testing.T, where, expr string, fams map[string]Kind) []string {
	t.Helper()
	used, problems := promQLProblems(expr, fams)
	for _, p := range problems {
		t.Errorf("%s: %s", where, p)
	}
	return used
}

// promQLProblems checks that expr uses only metric families the catalogue
// defines (histograms through _bucket, _sum and _count), only known labels,
// and, for the closed-set labels, only values those sets contain.
func promQLProblems(expr string, fams map[string]Kind) (used, problems []string) {
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
		errorf("unbalanced brackets in %q", expr)
	}
	closed := closedLabelValues()
	for _, m := range matcherRe.FindAllStringSubmatch(expr, -1) {
		label, op, value := m[1], m[2], m[3]
		if !slices.Contains(promLabels, label) {
			errorf("unknown label %q", label)
		}
		set, ok := closed[label]
		if !ok {
			continue
		}
		values := []string{value}
		if op == "=~" || op == "!~" {
			values = strings.Split(value, "|")
		}
		for _, v := range values {
			if !literalRe.MatchString(v) || !slices.Contains(set, v) {
				errorf("%s%s%q: %q is not a %s value apiguard emits", label, op, value, v, label)
			}
		}
	}
	for _, m := range byRe.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(promLabels, l) {
				errorf("grouping by unknown label %q", l)
			}
		}
	}
	for _, id := range identRe.FindAllString(stringRe.ReplaceAllString(expr, `""`), -1) {
		if !strings.HasPrefix(id, DefaultPrefix+"_") || slices.Contains(promLabels, id) {
			continue
		}
		fam := id
		if _, ok := fams[id]; !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, cut := strings.CutSuffix(id, suffix); cut && fams[base] == KindHistogram {
					fam = base
				}
			}
		}
		if _, ok := fams[fam]; !ok {
			errorf("%s is not a metric apiguard defines", id)
			continue
		}
		if fams[fam] == KindHistogram && fam == id {
			errorf("histogram %s used without _bucket/_sum/_count", id)
		}
		used = append(used, fam)
	}
	if len(used) == 0 && strings.Contains(expr, DefaultPrefix) {
		errorf("no apiguard metric found in %q", expr)
	}
	return used, problems
}

func collectExprs(v any, path string, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			p := path + "." + k
			if s, ok := x.(string); ok && (k == "expr" || k == "definition" || (k == "query" && strings.Contains(s, "("))) {
				out[p] = s
				continue
			}
			collectExprs(x, p, out)
		}
	case []any:
		for i, x := range t {
			collectExprs(x, path+"["+itoaTest(i)+"]", out)
		}
	}
}

func itoaTest(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestDashboardUsesOnlyCatalogueMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	exprs := map[string]string{}
	collectExprs(dash, "", exprs)
	if len(exprs) < 10 {
		t.Fatalf("only %d queries found", len(exprs))
	}
	fams := promFamilies(t)
	used := map[string]bool{}
	for where, e := range exprs {
		for _, f := range checkPromQL(t, dashboardFile+where, e, fams) {
			used[f] = true
		}
	}
	// The dashboard shows what the issues ask for: decisions, reasons,
	// latency, JWKS health, memory, and the response inventory's sensitive
	// values by route and class, exposures, drops, and the responses it
	// could not observe, by reason (issue 14).
	for _, f := range []string{"apiguard_authn_decisions_total", "apiguard_ratelimit_decisions_total", "apiguard_respfilter_responses_total",
		"apiguard_http_latency_ms", "apiguard_http_processing_us", "apiguard_jwks_age_seconds", "apiguard_jwks_fetch_failures_total",
		"apiguard_runtime_memory_kib", "apiguard_runtime_heap_inuse_kib",
		"apiguard_inventory_sensitive_values_total", "apiguard_security_sensitive_exposures_total", "apiguard_inventory_dropped_total",
		"apiguard_inventory_unobserved_responses_total"} {
		if !used[f] {
			t.Errorf("dashboard does not show %s", f)
		}
	}
	ids := map[float64]bool{}
	for _, p := range dash["panels"].([]any) {
		id := p.(map[string]any)["id"].(float64)
		if ids[id] {
			t.Errorf("duplicate panel id %v", id)
		}
		ids[id] = true
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func TestAlertRulesUseOnlyCatalogueMetrics(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(raw, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	fams := promFamilies(t)
	used := map[string]bool{}
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule without alert name or expr: %+v", r)
			}
			if alerts[r.Alert] {
				t.Errorf("duplicate alert %s", r.Alert)
			}
			alerts[r.Alert] = true
			if !slices.Contains([]string{"info", "warning", "critical"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			for _, f := range checkPromQL(t, rulesFile+":"+r.Alert, r.Expr, fams) {
				used[f] = true
			}
			for k, a := range r.Annotations {
				for _, m := range regexp.MustCompile(`\$labels\.([a-z_]+)`).FindAllStringSubmatch(a, -1) {
					if !slices.Contains(promLabels, m[1]) {
						t.Errorf("%s: annotation %s uses unknown label %s", r.Alert, k, m[1])
					}
				}
			}
		}
	}
	// The alerts: auth-failure spikes, JWKS stale, rate-limit
	// failure mode in use, filter errors; the inventory's exposures, its
	// drops, and responses it could not observe (issue 14).
	for _, f := range []string{"apiguard_authn_decisions_total", "apiguard_security_auth_failure_bursts_total", "apiguard_jwks_age_seconds",
		"apiguard_jwks_fetch_failures_total", "apiguard_ratelimit_decisions_total", "apiguard_respfilter_errors_total",
		"apiguard_security_sensitive_exposures_total", "apiguard_inventory_dropped_total", "apiguard_inventory_unobserved_responses_total"} {
		if !used[f] {
			t.Errorf("no alert rule uses %s", f)
		}
	}
}

// The checker itself must catch what it is there to catch.
func TestPromQLCheckerRejectsUnknownNames(t *testing.T) {
	fams := promFamilies(t)
	for _, expr := range []string{
		`rate(apiguard_authn_denied_total[5m])`,
		`rate(apiguard_authn_decisions_total{reason="expiredd"}[5m])`,
		`sum by (user) (rate(apiguard_http_requests_total[5m]))`,
		`apiguard_http_latency_ms > 1`,
		`rate(apiguard_http_requests_total{tenant="x"}[5m])`,
	} {
		if _, problems := promQLProblems(expr, fams); len(problems) == 0 {
			t.Errorf("checker accepted %q", expr)
		}
	}
}
