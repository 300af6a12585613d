package metrics

import (
	"fmt"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

// Counter is a metric that only goes up. The plugin implements it over
// proxywasm.DefineCounterMetric.
type Counter interface{ Add(delta uint64) }

// Histogram records samples. The plugin implements it over
// proxywasm.DefineHistogramMetric.
type Histogram interface{ Record(value uint64) }

// MetricSink defines metrics in the host. apiguard uses no gauges: Envoy
// metric names are process-wide, so a gauge set by 8 worker VMs would hold
// whichever worker wrote last. Per-worker levels (memory, JWKS age) are
// histogram samples instead.
type MetricSink interface {
	DefineCounter(name string) (Counter, error)
	DefineHistogram(name string) (Histogram, error)
}

// Metrics records apiguard's metrics. It is built once per VM by Define and
// is not safe for concurrent use (a Wasm VM is single-threaded). Every
// method is allocation-free; a label outside the catalogue is not recorded
// but counted in telemetry.unknown_label_total.
type Metrics struct {
	counters map[key]Counter
	hists    map[key]Histogram
	unknown  Counter

	// Handles of the metrics every stream records, resolved once by Define:
	// a map lookup keyed by strings costs several times the host call in a
	// Wasm VM, so the per-request path records through these instead.
	otherRequests Counter
	otherLatency  Histogram
	phases        [len(phaseIndex)]Histogram
	notRequired   Counter        // authn{provider=none, allow, not_required}
	verified      []labelCounter // authn{provider, allow, verified}, by provider
	withinLimit   []labelCounter // ratelimit{policy, allow, within_limit}, by policy
	routes        []routeHandles // requests and latency of the named routes
	auditEmitted  Counter
	rfResponses   []pairCounter // response_filter responses, by (decision, reason)
	rfRemoved     Counter
}

// pairCounter is a counter with the two label values that vary.
type pairCounter struct {
	a, b string
	c    Counter
}

// routeHandles are the per-route metrics of one named route.
type routeHandles struct {
	label    string
	requests Counter
	latency  Histogram
}

// route returns the handles of a named route, nil for OtherRoute and
// unknown names.
func (m *Metrics) route(name string) *routeHandles {
	if m == nil {
		return nil
	}
	for i := range m.routes {
		if m.routes[i].label == name {
			return &m.routes[i]
		}
	}
	return nil
}

// labelCounter is a counter with the one label value that varies. A linear
// scan of a few of these is cheaper in Wasm than hashing a key.
type labelCounter struct {
	label string
	c     Counter
}

// phaseIndex orders the Phase handles of Metrics.
var phaseIndex = [...]Phase{PhaseRequestHeaders, PhaseRequestBody, PhaseResponseHeaders, PhaseResponseBody, PhaseStreamDone}

// Define defines every metric of Catalogue(inv) in sink. Call it from the
// plugin's on_vm_start/on_configure, never from init(): the host forbids
// proxy_define_metric during _initialize.
func Define(inv Inventory, sink MetricSink) (*Metrics, error) {
	descs, err := Catalogue(inv)
	if err != nil {
		return nil, err
	}
	m := &Metrics{counters: make(map[key]Counter), hists: make(map[key]Histogram)}
	for _, d := range descs {
		switch d.Kind {
		case KindCounter:
			c, err := sink.DefineCounter(d.Name)
			if err != nil {
				return nil, fmt.Errorf("telemetry: define counter %s: %w", d.Name, err)
			}
			m.counters[d.key] = c
		case KindHistogram:
			h, err := sink.DefineHistogram(d.Name)
			if err != nil {
				return nil, fmt.Errorf("telemetry: define histogram %s: %w", d.Name, err)
			}
			m.hists[d.key] = h
		}
	}
	m.unknown = m.counters[key{f: famUnknownLabel}]
	m.otherRequests = m.counters[key{f: famRequests, a: OtherRoute}]
	m.otherLatency = m.hists[key{f: famLatency, a: OtherRoute}]
	for i, p := range phaseIndex {
		m.phases[i] = m.hists[key{f: famPhase, a: string(p)}]
	}
	allow := string(verdict.Allow)
	m.notRequired = m.counters[key{f: famAuthn, a: NoProvider, b: allow, c: string(verdict.NotRequired)}]
	for _, p := range inv.Providers {
		m.verified = append(m.verified, labelCounter{p, m.counters[key{f: famAuthn, a: p, b: allow, c: string(verdict.Verified)}]})
	}
	for _, p := range inv.Policies {
		m.withinLimit = append(m.withinLimit, labelCounter{p, m.counters[key{f: famRLDecision, a: p, b: allow, c: string(verdict.WithinLimit)}]})
	}
	for _, r := range inv.Routes {
		req, okReq := m.counters[key{f: famRequests, a: r}]
		lat, okLat := m.hists[key{f: famLatency, a: r}]
		if okReq && okLat && r != OtherRoute {
			m.routes = append(m.routes, routeHandles{label: r, requests: req, latency: lat})
		}
	}
	m.auditEmitted = m.counters[key{f: famAuditEvents}]
	for k, c := range m.counters {
		if k.f == famRFResponses && k.c == "" {
			m.rfResponses = append(m.rfResponses, pairCounter{k.a, k.b, c})
		}
	}
	m.rfRemoved = m.counters[key{f: famRFRemoved}]
	return m, nil
}

func (m *Metrics) inc(k key, n uint64) {
	if m == nil || n == 0 {
		return
	}
	if c, ok := m.counters[k]; ok {
		c.Add(n)
		return
	}
	m.unknown.Add(1)
}

func (m *Metrics) record(k key, v uint64) {
	if m == nil {
		return
	}
	if h, ok := m.hists[k]; ok {
		h.Record(v)
		return
	}
	m.unknown.Add(1)
}

// has reports whether k is a defined counter; callers use it to map a reason
// outside its closed set to ReasonOther.
func (m *Metrics) has(k key) bool {
	if m == nil {
		return false
	}
	_, ok := m.counters[k]
	return ok
}

func clampDur(d time.Duration, unit time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d / unit)
}

// Request counts a request for a named route ("" or an unknown name counts
// under OtherRoute).
func (m *Metrics) Request(route string) {
	if route == OtherRoute && m != nil && m.otherRequests != nil {
		m.otherRequests.Add(1)
		return
	}
	if r := m.route(route); r != nil {
		r.requests.Add(1)
		return
	}
	m.inc(m.routeKey(famRequests, route), 1)
}

// Latency records the time from request headers to the end of the response.
func (m *Metrics) Latency(route string, d time.Duration) {
	if route == OtherRoute && m != nil && m.otherLatency != nil {
		m.otherLatency.Record(clampDur(d, time.Millisecond))
		return
	}
	if r := m.route(route); r != nil {
		r.latency.Record(clampDur(d, time.Millisecond))
		return
	}
	m.record(m.routeKey(famLatency, route), clampDur(d, time.Millisecond))
}

func (m *Metrics) routeKey(f family, route string) key {
	k := key{f: f, a: route}
	if m != nil {
		if _, ok := m.counters[k]; ok {
			return k
		}
		if _, ok := m.hists[k]; ok {
			return k
		}
	}
	return key{f: f, a: OtherRoute}
}

// Processing records apiguard's own time spent in one phase of a stream.
func (m *Metrics) Processing(p Phase, d time.Duration) {
	if m == nil {
		return
	}
	for i, q := range phaseIndex {
		if q == p {
			if h := m.phases[i]; h != nil {
				h.Record(clampDur(d, time.Microsecond))
				return
			}
			break
		}
	}
	m.record(key{f: famPhase, a: string(p)}, clampDur(d, time.Microsecond))
}

// Authn counts an authentication decision. provider is a configured
// provider or NoProvider.
func (m *Metrics) Authn(provider string, d verdict.Decision, r verdict.Reason) {
	if c := m.allowCounter(provider, d, r); c != nil {
		c.Add(1)
		return
	}
	m.decision(key{f: famAuthn, a: provider, b: string(d), c: string(r)})
}

// decision counts a (decision, reason) labelled counter; a reason outside
// its closed set counts as (deny, other).
func (m *Metrics) decision(k key) {
	if !m.has(k) {
		k.b, k.c = string(verdict.Deny), ReasonOther
	}
	m.inc(k, 1)
}

// allowCounter is the handle of an allowed authentication, nil when the
// labels are not those of one.
func (m *Metrics) allowCounter(provider string, d verdict.Decision, r verdict.Reason) Counter {
	if m == nil || d != verdict.Allow {
		return nil
	}
	switch r {
	case verdict.NotRequired:
		if provider == NoProvider {
			return m.notRequired
		}
	case verdict.Verified:
		return find(m.verified, provider)
	}
	return nil
}

// find is the counter labelled label, or nil.
func find(cs []labelCounter, label string) Counter {
	for _, c := range cs {
		if c.label == label {
			return c.c
		}
	}
	return nil
}

// Refused counts a request refused before any policy judged it (PolicyRequest)
// or failed closed (PolicyInternal).
func (m *Metrics) Refused(r verdict.Reason) {
	m.decision(key{f: famRequestDecision, a: string(verdict.Deny), b: string(r)})
}

// JWKSFetched counts a successful JWKS fetch.
func (m *Metrics) JWKSFetched(provider string) { m.inc(key{f: famJWKSOK, a: provider}, 1) }

// JWKSFetchFailed counts a failed JWKS fetch.
func (m *Metrics) JWKSFetchFailed(provider, reason string) {
	k := key{f: famJWKSFail, a: provider, b: reason}
	if !m.has(k) {
		k.b = ReasonOther
	}
	m.inc(k, 1)
}

// JWKSAge records how old the keys in use are; call it on every tick.
func (m *Metrics) JWKSAge(provider string, age time.Duration) {
	m.record(key{f: famJWKSAge, a: provider}, clampDur(age, time.Second))
}

// RateLimit counts a rate-limit decision of a policy.
func (m *Metrics) RateLimit(policy string, d verdict.Decision, r verdict.Reason) {
	if m == nil {
		return
	}
	if d == verdict.Allow && r == verdict.WithinLimit {
		if c := find(m.withinLimit, policy); c != nil {
			c.Add(1)
			return
		}
	}
	m.decision(key{f: famRLDecision, a: policy, b: string(d), c: string(r)})
}

// RateLimitError counts a rate-limit error (table full, CAS contended, ...).
func (m *Metrics) RateLimitError(policy string, r verdict.Reason) {
	k := key{f: famRLError, a: policy, b: string(r)}
	if !m.has(k) {
		k.b = ReasonOther
	}
	m.inc(k, 1)
}

// NearLimit counts a request allowed close to its limit (see IsNearLimit).
func (m *Metrics) NearLimit(policy string) { m.inc(key{f: famRLNear, a: policy}, 1) }

// RateLimitEviction counts a key whose state evicted another key's live
// state from a full policy table.
func (m *Metrics) RateLimitEviction(policy string) { m.inc(key{f: famRLEvict, a: policy}, 1) }

// Filter counts a response-filter decision and the fields it removed or masked.
func (m *Metrics) Filter(d verdict.Decision, r verdict.Reason, removed, masked int) {
	if c := m.rfResponse(d, r); c != nil {
		c.Add(1)
	} else {
		m.decision(key{f: famRFResponses, a: string(d), b: string(r)})
	}
	if removed > 0 {
		if m != nil && m.rfRemoved != nil {
			m.rfRemoved.Add(uint64(removed))
		} else {
			m.inc(key{f: famRFRemoved}, uint64(removed))
		}
	}
	if masked > 0 {
		m.inc(key{f: famRFMasked}, uint64(masked))
	}
}

// rfResponse is the handle of a defined response_filter responses counter,
// nil when (d, r) is not one.
func (m *Metrics) rfResponse(d verdict.Decision, r verdict.Reason) Counter {
	if m == nil {
		return nil
	}
	for _, p := range m.rfResponses {
		if p.a == string(d) && p.b == string(r) {
			return p.c
		}
	}
	return nil
}

// FilterError counts a response-filter error.
func (m *Metrics) FilterError(r verdict.Reason) {
	k := key{f: famRFErrors, a: string(r)}
	if !m.has(k) {
		k.a = ReasonOther
	}
	m.inc(k, 1)
}

// AuditEmitted counts an audit event handed to its sink.
func (m *Metrics) AuditEmitted() {
	if m != nil && m.auditEmitted != nil {
		m.auditEmitted.Add(1)
		return
	}
	m.inc(key{f: famAuditEvents}, 1)
}

// AuditSampledOut counts an allowed request left out by sampling.
func (m *Metrics) AuditSampledOut() { m.inc(key{f: famAuditSampledOut}, 1) }

// AuditBodyBudgetRefused counts a request body not kept for its excerpt
// because the worker's in-flight body budget was in use.
func (m *Metrics) AuditBodyBudgetRefused() { m.inc(key{f: famAuditBodyBudget}, 1) }

// AuditDropped counts n lost audit events.
func (m *Metrics) AuditDropped(reason string, n int) {
	if n > 0 {
		m.inc(key{f: famAuditDropped, a: reason}, uint64(n))
	}
}

// OTLPExported counts a batch of events the collector accepted.
func (m *Metrics) OTLPExported(events int) {
	m.inc(key{f: famOTLPExports}, 1)
	if events > 0 {
		m.inc(key{f: famOTLPEvents}, uint64(events))
	}
}

// OTLPFailed counts a failed export call.
func (m *Metrics) OTLPFailed(reason string) {
	k := key{f: famOTLPFail, a: reason}
	if !m.has(k) {
		k.a = ReasonOther
	}
	m.inc(k, 1)
}

// InventoryObserved counts a response the inventory observed on route.
func (m *Metrics) InventoryObserved(route string) { m.inc(key{f: famInvObserved, a: route}, 1) }

// InventoryValues counts n values of class on route.
func (m *Metrics) InventoryValues(route, class string, n uint64) {
	m.inc(key{f: famInvValues, a: route, b: class}, n)
}

// SensitiveExposure counts a route showing its first sensitive class.
func (m *Metrics) SensitiveExposure(route string) { m.inc(key{f: famInvExposures, a: route}, 1) }

// InventoryDropped counts fields the inventory could not record.
func (m *Metrics) InventoryDropped(n uint64) {
	if n > 0 {
		m.inc(key{f: famInvDropped}, n)
	}
}

// InventoryUnobserved counts a JSON response the inventory could not
// observe to its end, by reason (inventory.Stream.Unobserved).
func (m *Metrics) InventoryUnobserved(reason string) {
	k := key{f: famInvUnobserved, a: reason}
	if !m.has(k) {
		k.a = ReasonOther
	}
	m.inc(k, 1)
}

// AuthFailureBurst counts a client crossing the failed-auth burst threshold.
func (m *Metrics) AuthFailureBurst() { m.inc(key{f: famBursts}, 1) }

// Runtime records one worker's memory sample and the GC cycles since its
// previous sample.
func (m *Metrics) Runtime(s RuntimeSample, newGCCycles uint64) {
	m.record(key{f: famMemory}, s.TotalBytes/1024)
	m.record(key{f: famHeap}, s.HeapInUseBytes/1024)
	m.inc(key{f: famGCCycles}, newGCCycles)
}

// ForcedGC counts a runtime.GC() made by the GC policy and what it freed.
func (m *Metrics) ForcedGC(freedBytes uint64) {
	m.inc(key{f: famForcedGC}, 1)
	m.record(key{f: famForcedGCFreed}, freedBytes/1024)
}

// InventoryRoute returns route when the catalogue counts the inventory by
// it, else OtherRoute: a name that is not a metric name segment (a
// response_filter rule named "Users API", say) is counted as _other.
func (m *Metrics) InventoryRoute(route string) string {
	if m != nil {
		if _, ok := m.counters[key{f: famInvObserved, a: route}]; ok {
			return route
		}
	}
	return OtherRoute
}
