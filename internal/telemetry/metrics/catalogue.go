package metrics

import (
	"fmt"
	"slices"

	"github.com/apiguard/apiguard/internal/verdict"
)

// Kind is a metric type, as the proxy-wasm ABI knows them.
type Kind uint8

const (
	KindCounter Kind = iota + 1
	KindHistogram
)

func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindHistogram:
		return "histogram"
	}
	return "unknown"
}

// Phase is a stage of the stream whose processing time apiguard measures.
type Phase string

const (
	PhaseRequestHeaders  Phase = "request_headers"
	PhaseRequestBody     Phase = "request_body"
	PhaseResponseHeaders Phase = "response_headers"
	PhaseResponseBody    Phase = "response_body"
	PhaseStreamDone      Phase = "stream_done"
)

// Phases lists every Phase.
func Phases() []Phase {
	return []Phase{PhaseRequestHeaders, PhaseRequestBody, PhaseResponseHeaders, PhaseResponseBody, PhaseStreamDone}
}

// ReasonOther is in every reason set: the catalogue counts any reason
// outside a set under it (a plugin bug, counted rather than dropped).
const ReasonOther = string(verdict.Other)

// Closed label sets. Decision and reason labels are apiguard's one
// vocabulary (internal/verdict), recorded as the policies spell them.
var (
	jwksFailReasons = []string{"call_failed", "timeout", "http_status", "bad_document", "no_usable_keys", ReasonOther}
	auditDropReason = []string{"buffer_full", "too_large", "encode_error", "gave_up"}
	otlpFailReasons = []string{"call_failed", "http_status", "partial_success", ReasonOther}
	// invUnobservedReasons say why a JSON body on an unfiltered route was
	// not observed to its end: the response filter's reasons for the same
	// conditions (docs/vocabulary.md), plus other.
	invUnobservedReasons = []string{string(verdict.UnsupportedEncoding), string(verdict.DecodeFailed), string(verdict.BodyTooLarge), ReasonOther}
)

// decisionLabels is every (decision, reason) pair policy p records, plus
// (deny, other) for a reason outside the set.
func decisionLabels(p verdict.Policy) [][2]string {
	var out [][2]string
	for _, d := range []verdict.Decision{verdict.Allow, verdict.Deny} {
		for _, r := range verdict.Reasons(p, d) {
			out = append(out, [2]string{string(d), string(r)})
		}
	}
	return append(out, [2]string{string(verdict.Deny), ReasonOther})
}

// reasonLabels is a closed reason set plus ReasonOther.
func reasonLabels(rs []verdict.Reason) []string {
	out := make([]string, 0, len(rs)+1)
	for _, r := range rs {
		out = append(out, string(r))
	}
	return append(out, ReasonOther)
}

// Inventory is what the catalogue needs from the configuration: only
// configured names, all checked by ValidName.
type Inventory struct {
	Prefix        string   // metric_prefix; DefaultPrefix when empty
	Instance      string   // this filter's instance segment
	Routes        []string // named routes (requests and latency are per route)
	Providers     []string // JWT providers
	JWKSProviders []string // providers with a remote JWKS (a subset of Providers)
	Policies      []string // rate-limit policy names
	// InventoryRoutes are the routes the response inventory counts by
	// (OtherRoute is added), and Classes its class names; both empty
	// without a response_inventory section.
	InventoryRoutes []string
	Classes         []string
}

// family identifies a metric family; with up to three label values it is the
// allocation-free lookup key of a defined metric.
type family uint8

const (
	famRequests family = iota + 1
	famRequestDecision
	famLatency
	famPhase
	famAuthn
	famJWKSOK
	famJWKSFail
	famJWKSAge
	famRLDecision
	famRLError
	famRLNear
	famRLEvict
	famRFResponses
	famRFRemoved
	famRFMasked
	famRFErrors
	famAuditEvents
	famAuditSampledOut
	famAuditBodyBudget
	famAuditDropped
	famOTLPExports
	famOTLPEvents
	famOTLPFail
	famBursts
	famInvObserved
	famInvValues
	famInvExposures
	famInvDropped
	famInvUnobserved
	famMemory
	famHeap
	famGCCycles
	famForcedGC
	famForcedGCFreed
	famUnknownLabel
)

type key struct {
	f       family
	a, b, c string
}

// Descriptor is one metric the catalogue defines.
type Descriptor struct {
	Name string // full name as passed to proxy_define_metric (Envoy adds "wasmcustom.")
	Kind Kind
	Unit string // "1" for counts, or ms, us, s, KiB
	Help string
	key  key
}

type builder struct {
	prefix, instance string
	out              []Descriptor
}

func (b *builder) add(k key, kind Kind, unit, help, subsystem string, pairs []pair, leaf string) {
	b.out = append(b.out, Descriptor{
		Name: metricName(b.prefix, b.instance, subsystem, pairs, leaf),
		Kind: kind, Unit: unit, Help: help, key: k,
	})
}

func checkNames(field string, names []string) error {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if err := CheckName(n); err != nil {
			return fmt.Errorf("telemetry: %s[%d]: %w", field, i, err)
		}
		if seen[n] {
			return fmt.Errorf("telemetry: %s[%d]: duplicate name %q", field, i, n)
		}
		seen[n] = true
	}
	return nil
}

func (inv Inventory) prefix() string {
	if inv.Prefix == "" {
		return DefaultPrefix
	}
	return inv.Prefix
}

func (inv Inventory) validate() error {
	if err := CheckName(inv.prefix()); err != nil {
		return fmt.Errorf("telemetry: metric prefix: %w", err)
	}
	if err := CheckName(inv.Instance); err != nil {
		return fmt.Errorf("telemetry: instance: %w", err)
	}
	for _, l := range []struct {
		field string
		names []string
	}{{"routes", inv.Routes}, {"providers", inv.Providers}, {"jwks providers", inv.JWKSProviders}, {"policies", inv.Policies},
		{"inventory routes", inv.InventoryRoutes}, {"classes", inv.Classes}} {
		if err := checkNames(l.field, l.names); err != nil {
			return err
		}
	}
	for _, p := range inv.JWKSProviders {
		if !slices.Contains(inv.Providers, p) {
			return fmt.Errorf("telemetry: jwks provider %q is not a provider", p)
		}
	}
	return nil
}

// Catalogue lists every metric apiguard defines for inv, in a stable order.
// All of them are defined at plugin start, so its length is also the exact
// number of Envoy stats one filter instance adds: with R routes, P
// providers, J remote-JWKS providers and L rate-limit policies,
//
//	22P + 8J + 39L + 2R + 88
//
// plus (I+1)(C+2)+5 with a response inventory of I routes and C classes
// (the factors are the sizes of the closed sets above), so it grows only
// with the configuration, never with traffic.
func Catalogue(inv Inventory) ([]Descriptor, error) {
	if err := inv.validate(); err != nil {
		return nil, err
	}
	b := &builder{prefix: inv.prefix(), instance: inv.Instance}
	routes := append(slices.Clone(inv.Routes), OtherRoute)
	for _, r := range routes {
		b.add(key{f: famRequests, a: r}, KindCounter, "1", "Requests seen, by route.", "http", []pair{{TagRoute, r}}, "requests_total")
		b.add(key{f: famLatency, a: r}, KindHistogram, "ms", "Request latency from request headers to the end of the response, by route.", "http", []pair{{TagRoute, r}}, "latency_ms")
	}
	for _, ph := range Phases() {
		b.add(key{f: famPhase, a: string(ph)}, KindHistogram, "us", "apiguard's own processing time per stream phase.", "http", []pair{{TagPhase, string(ph)}}, "processing_us")
	}
	for _, l := range decisionLabels(verdict.PolicyRequest) {
		b.add(key{f: famRequestDecision, a: l[0], b: l[1]}, KindCounter, "1", "Requests refused before any policy could judge them (path, method, headers), by reason.", "request",
			[]pair{{TagDecision, l[0]}, {TagReason, l[1]}}, "decisions_total")
	}
	const authnHelp = "Authentication decisions by provider, decision and reason."
	authn := decisionLabels(verdict.PolicyAuthn)
	for _, p := range append(slices.Clone(inv.Providers), NoProvider) {
		for _, l := range authn {
			b.add(key{f: famAuthn, a: p, b: l[0], c: l[1]}, KindCounter, "1", authnHelp, "authn",
				[]pair{{TagProvider, p}, {TagDecision, l[0]}, {TagReason, l[1]}}, "decisions_total")
		}
	}
	for _, p := range inv.JWKSProviders {
		pp := []pair{{TagProvider, p}}
		b.add(key{f: famJWKSOK, a: p}, KindCounter, "1", "Successful JWKS fetches.", "jwks", pp, "fetch_successes_total")
		for _, r := range jwksFailReasons {
			b.add(key{f: famJWKSFail, a: p, b: r}, KindCounter, "1", "Failed JWKS fetches, by reason.", "jwks",
				[]pair{{TagProvider, p}, {TagReason, r}}, "fetch_failures_total")
		}
		b.add(key{f: famJWKSAge, a: p}, KindHistogram, "s", "Age of the JWKS in use, sampled by each worker on every tick.", "jwks", pp, "age_seconds")
	}
	rlDecisions := decisionLabels(verdict.PolicyRateLimit)
	rlErrors := reasonLabels(verdict.RateLimitFailures())
	for _, p := range inv.Policies {
		for _, l := range rlDecisions {
			b.add(key{f: famRLDecision, a: p, b: l[0], c: l[1]}, KindCounter, "1", "Rate-limit decisions by policy, decision and reason.", "ratelimit",
				[]pair{{TagPolicy, p}, {TagDecision, l[0]}, {TagReason, l[1]}}, "decisions_total")
		}
		for _, r := range rlErrors {
			b.add(key{f: famRLError, a: p, b: r}, KindCounter, "1", "Rate-limit errors (full or contended table, service failures), by reason.", "ratelimit",
				[]pair{{TagPolicy, p}, {TagReason, r}}, "errors_total")
		}
		b.add(key{f: famRLNear, a: p}, KindCounter, "1", "Requests allowed with less than 20% of the limit left.", "ratelimit",
			[]pair{{TagPolicy, p}}, "near_limit_total")
		b.add(key{f: famRLEvict, a: p}, KindCounter, "1", "Keys that took the slot of another key's live state because the policy's max_keys slots were all in use; that key lost its debt. Raise max_keys when this grows.", "ratelimit",
			[]pair{{TagPolicy, p}}, "evictions_total")
	}
	for _, l := range decisionLabels(verdict.PolicyRespFilter) {
		b.add(key{f: famRFResponses, a: l[0], b: l[1]}, KindCounter, "1", "Responses seen by the response filter, by decision and reason.", "respfilter",
			[]pair{{TagDecision, l[0]}, {TagReason, l[1]}}, "responses_total")
	}
	b.add(key{f: famRFRemoved}, KindCounter, "1", "JSON fields removed from responses.", "respfilter", nil, "fields_removed_total")
	b.add(key{f: famRFMasked}, KindCounter, "1", "JSON fields masked in responses.", "respfilter", nil, "fields_masked_total")
	for _, r := range reasonLabels(verdict.FilterErrors()) {
		b.add(key{f: famRFErrors, a: r}, KindCounter, "1", "Response-filter errors, by reason.", "respfilter",
			[]pair{{TagReason, r}}, "errors_total")
	}
	b.add(key{f: famAuditEvents}, KindCounter, "1", "Audit events emitted.", "audit", nil, "events_total")
	b.add(key{f: famAuditSampledOut}, KindCounter, "1", "Allowed requests left out of the audit trail by sampling.", "audit", nil, "sampled_out_total")
	b.add(key{f: famAuditBodyBudget}, KindCounter, "1", "Request bodies not kept for the audit excerpt because the worker's in-flight body budget was in use.", "audit", nil, "body_budget_refusals_total")
	for _, r := range auditDropReason {
		b.add(key{f: famAuditDropped, a: r}, KindCounter, "1", "Audit events lost, by reason.", "audit",
			[]pair{{TagReason, r}}, "dropped_total")
	}
	b.add(key{f: famOTLPExports}, KindCounter, "1", "OTLP export calls accepted by the collector.", "otlp", nil, "exports_total")
	b.add(key{f: famOTLPEvents}, KindCounter, "1", "Audit events accepted by the OTLP collector.", "otlp", nil, "exported_events_total")
	for _, r := range otlpFailReasons {
		b.add(key{f: famOTLPFail, a: r}, KindCounter, "1", "Failed OTLP export calls, by reason.", "otlp",
			[]pair{{TagReason, r}}, "export_failures_total")
	}
	b.add(key{f: famBursts}, KindCounter, "1", "Clients that crossed the failed-authentication burst threshold.", "security", nil, "auth_failure_bursts_total")
	if len(inv.Classes) > 0 {
		for _, r := range append(slices.Clone(inv.InventoryRoutes), OtherRoute) {
			rp := []pair{{TagRoute, r}}
			b.add(key{f: famInvObserved, a: r}, KindCounter, "1", "Responses the response inventory observed or classified, by route.", "inventory", rp, "observed_responses_total")
			for _, c := range inv.Classes {
				b.add(key{f: famInvValues, a: r, b: c}, KindCounter, "1", "Response values of a sensitive class, by route and class.", "inventory",
					[]pair{{TagRoute, r}, {TagClass, c}}, "sensitive_values_total")
			}
			b.add(key{f: famInvExposures, a: r}, KindCounter, "1", "Routes whose responses showed a sensitive class for the first time (the route had none).", "security", rp, "sensitive_exposures_total")
		}
		b.add(key{f: famInvDropped}, KindCounter, "1", "Response fields the inventory could not record: its table full or contended, a path over 256 bytes, a response's fields past 256.", "inventory", nil, "dropped_total")
		for _, r := range invUnobservedReasons {
			b.add(key{f: famInvUnobserved, a: r}, KindCounter, "1", "JSON responses the inventory could not observe to their end, by reason: a coding apiguard does not decode, a compressed body that does not decode or decodes past 16 MiB.", "inventory",
				[]pair{{TagReason, r}}, "unobserved_responses_total")
		}
	}
	b.add(key{f: famMemory}, KindHistogram, "KiB", "Memory the Go runtime holds (≈ the VM's Wasm linear memory), sampled per worker per tick.", "runtime", nil, "memory_kib")
	b.add(key{f: famHeap}, KindHistogram, "KiB", "Go heap in use, sampled per worker per tick.", "runtime", nil, "heap_inuse_kib")
	b.add(key{f: famGCCycles}, KindCounter, "1", "Completed Go GC cycles, summed over workers.", "runtime", nil, "gc_cycles_total")
	b.add(key{f: famForcedGC}, KindCounter, "1", "runtime.GC() calls made by the GC policy, or at the end of a stream whose response filtering handled a body of 256 KiB or more.", "runtime", nil, "forced_gc_total")
	b.add(key{f: famForcedGCFreed}, KindHistogram, "KiB", "Heap freed by each forced GC.", "runtime", nil, "forced_gc_freed_kib")
	b.add(key{f: famUnknownLabel}, KindCounter, "1", "Recordings dropped because a label was not in the catalogue (a plugin bug).", "telemetry", nil, "unknown_label_total")
	return b.out, nil
}
