package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/verdict"
)

// Request is what the limiter reads from a request.
type Request struct {
	Method string
	// Path is the judged path of route.CanonicalPath.
	Path string
	// Header returns a request header by lower-case name.
	Header func(name string) (string, bool)
	// ClientIP is the client address resolved by clientip.Resolver
	// (x-forwarded-for honoured only through trusted_hops); invalid if unknown.
	ClientIP netip.Addr
	// ClientKey is what keys carry for the client: its network under the
	// client_ip prefix lengths (clientip.Resolver.NetworkKey), so that a
	// client rotating addresses within its IPv6 /64 keeps one bucket. ""
	// keys by ClientIP's whole address.
	ClientKey string
	// EnvoyRoute is the Envoy route name (xds.route_name), or "".
	EnvoyRoute string
	// Claims are the verified JWT claims, nil without a verified token. Never
	// pass unverified claims.
	Claims map[string]any
}

// Decision is the outcome of one policy for one request, a metric label.
type Decision string

const (
	Allowed        Decision = "allowed"
	Limited        Decision = "limited"
	ShadowLimited  Decision = "shadow_limited" // would have been refused; shadow policy
	FailureAllowed Decision = "failure_allowed"
	FailureDenied  Decision = "failure_denied"
	Pending        Decision = "pending" // a global callout is still to be resolved
	Skipped        Decision = "skipped" // not evaluated: an earlier policy refused
)

// Local reasons (the global ones are in global.go), in apiguard's one
// vocabulary.
const (
	ReasonOK         = verdict.WithinLimit
	ReasonOverLimit  = verdict.RateLimited
	ReasonShadow     = verdict.ShadowRateLimited // over the limit, but the policy is a shadow
	ReasonContended  = verdict.StoreContended    // CAS attempts exhausted
	ReasonTableFull  = verdict.TableFull         // every candidate slot held by live keys
	ReasonStoreError = verdict.StoreError
	ReasonKeyMissing = verdict.MissingKey // missing key part and no fallback
	ReasonUnlimited  = verdict.Unlimited  // the claim tier has no limits
)

// Verdict is the decision in apiguard's vocabulary: only a refusal denies;
// a shadow policy's would-be refusal and a failure let through allow.
func (o Outcome) Verdict() verdict.Decision {
	if o.Decision == Limited || o.Decision == FailureDenied {
		return verdict.Deny
	}
	return verdict.Allow
}

// Outcome is one policy's decision on one request, for metrics and audit. A
// Pending outcome becomes final in ResolveCallout.
type Outcome struct {
	Policy   string
	Decision Decision
	Reason   verdict.Reason
	// Attempts is the number of CAS attempts (0 when the state was not
	// touched), for the retry distribution.
	Attempts int
	// FallbackKey is true when a missing key part was replaced by the client IP.
	FallbackKey bool
	// Evicted is true when the key's state took the slot of another key
	// whose state was still live (the policy's max_keys slots were all in
	// use): that key lost its debt. Counted, so that an operator sees churn
	// and sizes the table.
	Evicted bool
}

// Limiter holds the compiled policies. It is safe for concurrent use if its
// Store is.
type Limiter struct {
	policies []*policy
	warnings []string
	// lastPolicy is the RateLimit-Policy value last rendered: the applied
	// policies and tiers of most requests are those of the one before, so
	// the value is compared, not allocated, again.
	lastPolicy atomic.Pointer[string]
}

type policy struct {
	name string
	// auditName is the policy's name in the audit trail (AuditPolicy).
	auditName string
	// limitedGRPC is the gRPC code of a rate_limited refusal (grpc_status).
	limitedGRPC verdict.GRPCCode
	matcher     *route.Matcher
	parts       []part
	fallback    bool
	windows     []window
	override    *compiledOverride
	shadow      bool
	status      int
	body        []byte
	contentType string
	draft       bool
	legacy      bool
	bytes       bool
	estimate    int64    // estimated_bytes; 0: observed, else all that is left
	observed    averages // observed response sizes, for reservations
	failDeny    bool
	table       *castable.Table
	global      *compiledGlobal
}

type compiledOverride struct {
	claim   claims.Path
	values  map[string][]window
	numeric *NumericOverride
}

// New validates cfg and compiles it over store. namespace must identify the
// plugin instance, e.g. "apiguard/" + plugin_root_id; each policy's slots live
// under namespace + "/rl/" + its name.
func New(cfg Config, store castable.Store, namespace string) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{}
	for i := range cfg {
		p, err := compilePolicy(&cfg[i], store, namespace)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: policy %q: %w", cfg[i].Name, err)
		}
		l.policies = append(l.policies, p)
		if w := smallTableWarning(&cfg[i], p); w != "" {
			l.warnings = append(l.warnings, w)
		}
	}
	return l, nil
}

// Warnings are configuration choices that are valid but likely wrong, for
// the plugin to log at start.
func (l *Limiter) Warnings() []string { return l.warnings }

// minKeyTurnover is the smallest rate of new keys per second a policy's
// table should sustain without evicting live state.
const minKeyTurnover = 1.0

// smallTableWarning warns when max_keys is small for the policy's longest
// window. A key's state lives until its debt is paid back, up to
// (requests+burst) units: about one window. A table of max_keys slots
// therefore holds every live key only while fewer than max_keys / window new
// keys arrive per second; past that, new keys evict the entries with the
// least debt (counted in the evictions metric), and a client can shed its
// debt by making others evict it.
func smallTableWarning(c *Policy, p *policy) string {
	longest := time.Duration(0)
	for _, w := range p.windows {
		longest = max(longest, time.Duration(w.capacity))
	}
	if longest <= 0 {
		return ""
	}
	turnover := float64(p.table.Slots()) / longest.Seconds()
	if turnover >= minKeyTurnover {
		return ""
	}
	return fmt.Sprintf("rate limit %q: max_keys %d holds live state for at most %.2g new keys per second over its %s window; "+
		"more distinct keys than that evict live entries (the ratelimit evictions metric counts them): raise max_keys to at least %d",
		c.Name, p.table.Slots(), turnover, longest.Round(time.Second), int(math.Ceil(longest.Seconds()*minKeyTurnover)))
}

func compilePolicy(c *Policy, store castable.Store, namespace string) (*policy, error) {
	m, err := route.Compile(c.Match)
	if err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	p := &policy{
		name:        c.Name,
		auditName:   string(verdict.PolicyRateLimit) + "." + c.Name,
		matcher:     m,
		fallback:    c.MissingKey != "deny",
		shadow:      c.Shadow,
		status:      c.Status,
		body:        []byte(c.Body),
		contentType: c.ContentType,
		draft:       c.Headers == "" || c.Headers == "draft" || c.Headers == "both",
		legacy:      c.Headers == "legacy" || c.Headers == "both",
		bytes:       c.Cost == "response_bytes",
		estimate:    c.EstimatedBytes,
		failDeny:    c.FailureMode == "deny",
		limitedGRPC: verdict.GRPCResourceExhausted,
	}
	if c.GRPCStatus == "unavailable" {
		p.limitedGRPC = verdict.GRPCUnavailable
	}
	if p.status == 0 {
		p.status = 429
	}
	if c.Body == "" {
		p.body = []byte(`{"error":"rate_limited"}`)
	}
	if p.contentType == "" {
		p.contentType = "application/json"
	}
	for _, k := range c.Key {
		pt, _ := parsePart(k) // checked by Validate
		p.parts = append(p.parts, pt)
	}
	p.windows = prerender(compileWindows(c.Name, c.Limits), p.bytes)
	if o := c.Override; o != nil {
		co := &compiledOverride{claim: o.Claim, numeric: o.Numeric}
		if o.Values != nil {
			co.values = make(map[string][]window, len(o.Values))
			for v, ls := range o.Values {
				co.values[v] = prerender(compileWindows(c.Name, ls), p.bytes)
			}
		}
		p.override = co
	}
	slots := c.MaxKeys
	if slots == 0 {
		slots = defaultMaxKeys
	}
	p.table, err = castable.New(store, castable.Options{
		Namespace:     namespace + "/rl/" + c.Name,
		Slots:         slots,
		MaxAttempts:   casAttempts,
		MaxStateBytes: 8 * maxWindows,
		// Filling the table must not switch limiting off: a new key takes
		// the slot whose state is worth least (see doc.go), and failure_mode
		// is left for CAS contention.
		Evict: true,
	})
	if err != nil {
		return nil, err
	}
	if c.Global != nil {
		p.global = compileGlobal(c.Global, p.parts)
	}
	return p, nil
}

// compileWindows compiles ls and names their RateLimit-Policy items: a
// single window after the policy, several as "<policy>-<w>s" so that every
// item has its own name (Validate makes the pers distinct).
// casAttempts bounds the read-modify-write attempts of one check. Only
// admissions write (refusals do not), so a check can lose a race only to
// another admission of the same key; 16 straight losses need 16 admissions by
// other workers while this one retries.
const casAttempts = 16

func compileWindows(name string, ls []Limit) []window {
	ws := make([]window, 0, len(ls))
	for _, l := range ls {
		w, _ := newWindow(l) // checked by Validate
		w.item = name
		if len(ls) > 1 {
			w.item += "-" + windowSuffix(l.Per.Duration)
		}
		ws = append(ws, w)
	}
	return ws
}

// windowSuffix names a window in its item: "60s", or "1500ms" when per is
// not whole seconds (Validate keeps per in whole milliseconds, and the pers of
// a policy distinct, so the names are too).
func windowSuffix(per time.Duration) string {
	if per%time.Second == 0 {
		return strconv.FormatInt(int64(per/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64(per/time.Millisecond), 10) + "ms"
}

// prerender renders the header text of configured windows once, so a
// response's RateLimit headers only append numbers.
func prerender(ws []window, bytes bool) []window {
	for i := range ws {
		ws[i].itemName = string(appendItemName(nil, &ws[i]))
		ws[i].policyItem = string(appendPolicyItem(nil, &ws[i], bytes))
	}
	return ws
}

// appendItemName appends the window's item name as a quoted string.
func appendItemName(dst []byte, w *window) []byte {
	if w.itemName != "" {
		return append(dst, w.itemName...)
	}
	return strconv.AppendQuote(dst, w.item)
}

// appendPolicyItem appends the window's RateLimit-Policy item.
func appendPolicyItem(dst []byte, w *window, bytes bool) []byte {
	if w.policyItem != "" {
		return append(dst, w.policyItem...)
	}
	dst = appendItemName(dst, w)
	dst = append(dst, ";q="...)
	dst = strconv.AppendInt(dst, w.quota, 10)
	if bytes {
		dst = append(dst, `;qu="content-bytes"`...)
	}
	dst = append(dst, ";w="...)
	return strconv.AppendInt(dst, w.perSec, 10)
}

// MaxBytes is the most shared data all policies together can hold.
func (l *Limiter) MaxBytes() int {
	n := 0
	for _, p := range l.policies {
		n += p.table.MaxBytes()
	}
	return n
}

// Result is the limiter's verdict on one request. The plugin keeps it for the
// stream: it resolves the callouts, then sends Refusal or adds Headers to the
// upstream response, and finally calls ChargeResponse.
type Result struct {
	// Outcomes has one entry per matched policy, in configuration order.
	Outcomes []Outcome
	// Callouts are the global checks still to make; empty when a local
	// decision already refused the request.
	Callouts []Callout

	applied []applied
	now     time.Time
	limiter *Limiter
	// Room for the outcomes, policies and headers of a usual request, so
	// that a Result is one allocation.
	outcomes   [inlinePolicies]Outcome
	appliedArr [inlinePolicies]applied
	headerArr  [5][2]string
	// state is where a check encodes a key's next window states for the
	// table, which copies them into its slot before Apply returns.
	state [8 * maxWindows]byte
	// keyArr holds the applied policies' bucket keys (applied.key) while
	// they fit, keyUsed bytes of it so far; values the rate-limit header
	// values (headers). Strings share them, so a Result is never copied.
	keyArr  [128]byte
	keyUsed int
	values  [256]byte
}

// inlinePolicies is the number of matched policies a Result holds without
// further allocation.
const inlinePolicies = 2

type applied struct {
	p        *policy
	key      string
	windows  []window
	refusing bool
	consumed bool    // units were taken (give them back if another policy refuses)
	units    int64   // the units taken: 1, or the bytes reserved under response_bytes
	numbers  numbers // items is nil when there is nothing to report
	callout  int     // index in Callouts, or -1
	settled  bool    // ChargeResponse ran
	route    string  // the Envoy route name, for response_bytes averages
}

// numbers are the header values of one policy: every window as a quota
// policy item, and the standing of the tightest one.
type numbers struct {
	items     []window      // only item, quota and perSec are used
	tight     int           // index of the tightest item
	remaining int64         // r of the tightest item
	wait      time.Duration // its t; Retry-After when refusing
	bytes     bool          // quota unit content-bytes
}

func localNumbers(p *policy, ws []window, v *evaluation) numbers {
	s := v.standings[v.tightest]
	n := numbers{items: ws, tight: v.tightest, remaining: s.remaining, wait: s.wait, bytes: p.bytes}
	if !v.admitted {
		n.wait = v.retryAfter
	}
	return n
}

// Check applies every matching policy to r at now.
func (l *Limiter) Check(r *Request, now time.Time) *Result {
	return l.CheckInto(new(Result), r, now)
}

// CheckInto is Check into the caller's Result, which it overwrites and
// returns: a caller that keeps one per stream allocates none. res must not
// be copied afterwards (it points into itself).
func (l *Limiter) CheckInto(res *Result, r *Request, now time.Time) *Result {
	*res = Result{now: now, limiter: l}
	res.Outcomes, res.applied = res.outcomes[:0], res.appliedArr[:0]
	mr := &route.Request{Method: r.Method, Path: r.Path, Header: r.Header}
	if mr.Header == nil {
		mr.Header = func(string) (string, bool) { return "", false }
	}
	refused := false
	for _, p := range l.policies {
		if !p.matcher.Matches(mr) {
			continue
		}
		if refused {
			// The request is refused already: spend nothing more on it.
			res.Outcomes = append(res.Outcomes, Outcome{Policy: p.name, Decision: Skipped})
			res.applied = append(res.applied, applied{p: p, callout: -1})
			continue
		}
		res.check(p, r, now)
		refused = res.applied[len(res.applied)-1].refusing
	}
	if refused {
		for i := range res.applied {
			if res.Outcomes[i].Decision == Pending {
				res.Outcomes[i].Decision = Skipped
				res.applied[i].callout = -1
			}
		}
		res.Callouts = nil
		res.refund(now)
	}
	return res
}

// refund gives back the unit that admitted policies took for a request that
// another policy refused, so that, e.g., a client refused by a per-user limit
// does not drain its office's per-IP budget. It is the exact inverse of the
// admission (one unit off every window's TAT) under CAS; if time has passed
// in between it can only give back less.
func (res *Result) refund(now time.Time) {
	for i := range res.applied {
		a := &res.applied[i]
		if !a.consumed {
			continue
		}
		a.consumed = false
		a.numbers.remaining += a.units // report the units given back
		ws, units := a.windows, a.units
		a.units = 0
		_, _ = a.p.table.Update(a.key, now, func(state []byte) ([]byte, time.Time, bool) {
			if len(state) != 8*len(ws) {
				return nil, time.Time{}, false
			}
			var buf tatBuf
			tats := decodeTATs(&buf, state, len(ws))
			exp := int64(0)
			for j, w := range ws {
				tats[j] -= satMul(units, w.unit)
				exp = max(exp, tats[j])
			}
			return encodeTATs(tats), time.Unix(0, exp), true
		})
	}
}

func (res *Result) check(p *policy, r *Request, now time.Time) {
	out := Outcome{Policy: p.name, Decision: Allowed, Reason: ReasonOK}
	a := applied{p: p, callout: -1}
	defer func() {
		res.Outcomes = append(res.Outcomes, out)
		res.applied = append(res.applied, a)
	}()

	tier, ws := p.windowsFor(r.Claims)
	var partBuf [4]string
	vals, fell, err := resolveParts(partBuf[:0], p.parts, r, p.fallback)
	out.FallbackKey = fell != 0
	if err != nil {
		// missing_key "deny" refuses; a fallback made impossible by an unknown
		// client address is a host failure and follows failure_mode.
		out, a.refusing = p.fail(out, ReasonKeyMissing, !p.fallback || p.failDeny)
		return
	}
	if len(ws) > 0 {
		free := res.keyArr[res.keyUsed:]
		var inside bool
		a.key, inside = bucketKey(free[:0:len(free)], p.name, tier, vals, fell)
		if inside {
			res.keyUsed += len(a.key)
		}
		a.windows = ws
		var v evaluation
		st, err := p.table.Apply(a.key, now, func(state []byte) ([]byte, time.Time, bool) {
			var buf tatBuf
			tats := decodeTATs(&buf, state, len(ws))
			if p.bytes {
				v = reserve(ws, tats, now.UnixNano(), p.reservation(r.EnvoyRoute))
				return appendTATs(res.state[:0], v.next[:len(ws)]), time.Unix(0, v.expires), v.admitted
			}
			v = admitOne(ws, tats, now.UnixNano())
			return appendTATs(res.state[:0], v.next[:len(ws)]), time.Unix(0, v.expires), v.admitted
		})
		out.Attempts, out.Evicted = st.Attempts, st.Evicted
		if err != nil {
			out, a.refusing = p.fail(out, storeReason(err), p.failDeny)
			return
		}
		a.numbers = localNumbers(p, ws, &v)
		if !v.admitted {
			a.refusing = p.refuse(&out)
			return
		}
		a.consumed, a.units = true, 1
		if p.bytes {
			a.units, a.route = v.reserved, r.EnvoyRoute
		}
	} else if p.global == nil {
		out.Reason = ReasonUnlimited
		return
	}
	if p.global != nil {
		c, err := p.global.buildCallout(p.name, r, p.fallback)
		if err != nil {
			out, a.refusing = p.fail(out, ReasonKeyMissing, !p.fallback || p.global.failDeny)
			return
		}
		a.callout = len(res.Callouts)
		res.Callouts = append(res.Callouts, c)
		out.Decision, out.Reason = Pending, ""
	}
}

func storeReason(err error) verdict.Reason {
	switch {
	case errors.Is(err, castable.ErrContended):
		return ReasonContended
	case errors.Is(err, castable.ErrFull):
		return ReasonTableFull
	}
	return ReasonStoreError
}

// refuse decides an over-limit request; it reports whether the request is
// refused.
func (p *policy) refuse(out *Outcome) bool {
	if p.shadow {
		out.Decision, out.Reason = ShadowLimited, ReasonShadow
		return false
	}
	out.Decision, out.Reason = Limited, ReasonOverLimit
	return true
}

// fail applies a failure mode.
func (p *policy) fail(out Outcome, reason verdict.Reason, deny bool) (Outcome, bool) {
	out.Reason = reason
	switch {
	case !deny:
		out.Decision = FailureAllowed
	case p.shadow:
		out.Decision = ShadowLimited
	default:
		out.Decision = FailureDenied
		return out, true
	}
	return out, false
}

// windowsFor picks the limits for the verified claims: the tier's limits when
// the override claim names a configured tier, else the policy's own. The tier
// is part of the bucket key, so a client whose plan changes starts a fresh
// bucket.
func (p *policy) windowsFor(cl map[string]any) (string, []window) {
	o := p.override
	if o == nil || cl == nil {
		return "", p.windows
	}
	c, ok := claims.Lookup(cl, o.claim)
	if !ok {
		return "", p.windows
	}
	s, ok := claimString(c)
	if !ok {
		return "", p.windows
	}
	if o.values != nil {
		if ws, ok := o.values[s]; ok {
			return "v:" + s, ws
		}
		return "", p.windows
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return "", p.windows
	}
	n = min(n, o.numeric.Max)
	w, ok := newWindow(Limit{Requests: n, Per: o.numeric.Per, Burst: o.numeric.Burst})
	if !ok {
		return "", p.windows
	}
	w.item = p.name
	return "n:" + strconv.FormatInt(n, 10), []window{w}
}

// ResolveCallout records the answer to Callouts[i]: status is the HTTP status
// of the answer (0 for a reset with no headers; Envoy's 503/504 for refused
// connections and timeouts), body its body. It returns the policy's updated
// outcome.
func (res *Result) ResolveCallout(i int, status int, body []byte) Outcome {
	return res.resolve(i, judgeGlobal(status, body))
}

// ResolveOversized records an answer to Callouts[i] whose body is larger than
// MaxAnswerBytes, so the caller never reads it: whatever its status, it is a
// bad answer and follows the policy's failure_mode.
func (res *Result) ResolveOversized(i int) Outcome {
	return res.resolve(i, globalAnswer{reason: ReasonGlobalBadAnswer})
}

// resolve applies the judged answer to Callouts[i].
func (res *Result) resolve(i int, ans globalAnswer) Outcome {
	for j := range res.applied {
		a := &res.applied[j]
		if a.callout != i {
			continue
		}
		out := &res.Outcomes[j]
		if out.Decision != Pending {
			return *out
		}
		out.Reason = ans.reason
		switch {
		case ans.pass:
			out.Decision = Allowed
		case ans.limited:
			a.refusing = a.p.refuse(out)
		default:
			*out, a.refusing = a.p.fail(*out, ans.reason, a.p.global.failDeny)
		}
		if a.refusing {
			// The refusing policy keeps its own pre-limit unit, so that a
			// client over the fleet-wide limit is soon shed locally, without
			// callouts; the other policies give theirs back.
			a.consumed = false
			res.refund(res.now)
		}
		// A global policy reports the fleet-wide numbers of the answer. Without
		// them it keeps its pre-limit's numbers, unless it refuses (then none,
		// and Retry-After falls back to 1 s).
		if ans.limited || ans.numbers != nil {
			a.numbers = numbers{}
		}
		if n := ans.numbers; n != nil {
			a.numbers = numbers{items: []window{{item: a.p.name, quota: n.quota, perSec: n.perSec}}, remaining: n.remaining, wait: n.reset}
			if ans.limited {
				a.numbers.remaining = 0
			}
		}
		return *out
	}
	return Outcome{}
}

// Pending reports whether a callout is still unresolved.
func (res *Result) Pending() bool {
	for _, o := range res.Outcomes {
		if o.Decision == Pending {
			return true
		}
	}
	return false
}

// Standing returns what the RateLimit header reports for Outcomes[i]: the
// remaining quota and the quota of its tightest window. ok is false when the
// policy has no numbers (skipped, failed, unlimited, or a global answer
// without them). The plugin uses it for near-limit signals.
func (res *Result) Standing(i int) (remaining, quota int64, ok bool) {
	if i < 0 || i >= len(res.applied) {
		return 0, 0, false
	}
	n := &res.applied[i].numbers
	if n.items == nil {
		return 0, 0, false
	}
	return n.remaining, n.items[n.tight].quota, true
}

// BucketKey returns the bucket key of Outcomes[i], or "" when the policy
// touched no local bucket. It holds request values (header and claim values,
// the client address): it is for a salted hash in the audit trail and must
// never be logged raw. The string views the Result's own buffer, which the
// Result's next use overwrites: copy it to keep it.
func (res *Result) BucketKey(i int) string {
	if i < 0 || i >= len(res.applied) {
		return ""
	}
	return res.applied[i].key
}

// AuditKey is the one bucket key an audit event holds: the refusing
// policy's, else the first decided policy's; "" when no decided policy has
// a key. Like BucketKey's, the string is valid until the Result's next use.
func (res *Result) AuditKey() string {
	keyIndex := -1
	for i, o := range res.Outcomes {
		if o.Decision == Skipped || o.Decision == Pending {
			continue
		}
		refusing := o.Decision == Limited && (keyIndex < 0 || res.Outcomes[keyIndex].Decision != Limited)
		if res.BucketKey(i) != "" && (keyIndex < 0 || refusing) {
			keyIndex = i
		}
	}
	if keyIndex < 0 {
		return ""
	}
	return res.BucketKey(keyIndex)
}

// Allowed reports whether the request may proceed: no enforcing policy
// refused it. An unresolved callout counts as its failure mode.
func (res *Result) Allowed() bool {
	for i, a := range res.applied {
		if a.refusing || (res.Outcomes[i].Decision == Pending && a.p.global.failDeny && !a.p.shadow) {
			return false
		}
	}
	return true
}

// Refusal is the local reply for a refused request.
type Refusal struct {
	Status  int
	Headers [][2]string
	Body    []byte
	// Policy is the first refusing policy, whose status and body are used.
	Policy string
	// Reason is why that policy refused: rate_limited, missing_key or the
	// failure that its failure_mode denied.
	Reason verdict.Reason
	// GRPCStatus is the gRPC code for a gRPC client: the reason's
	// (verdict.GRPCStatus), or the policy's grpc_status for rate_limited.
	GRPCStatus verdict.GRPCCode
}

// Refusal returns the reply to send, or nil when the request is allowed.
func (res *Result) Refusal() *Refusal {
	if res.Allowed() {
		return nil
	}
	var first *policy
	reason := verdict.RateLimited
	retry := time.Duration(0)
	for i, a := range res.applied {
		refusing := a.refusing || (res.Outcomes[i].Decision == Pending && a.p.global.failDeny && !a.p.shadow)
		if !refusing {
			continue
		}
		if first == nil {
			first = a.p
			// A callout still pending when the request is refused has no
			// answer: the service did not reply in time.
			reason = res.Outcomes[i].Reason
			if res.Outcomes[i].Decision == Pending {
				reason = verdict.GlobalTimeout
			}
		}
		if a.numbers.items != nil {
			retry = max(retry, a.numbers.wait)
		}
	}
	secs := max(ceilSeconds(retry), 1)
	h := res.headers(true)
	h = append(h, [2]string{"retry-after", strconv.FormatInt(secs, 10)}, [2]string{"content-type", first.contentType})
	code, ok := verdict.GRPCStatus(reason)
	if reason == verdict.RateLimited {
		code = first.limitedGRPC
	} else if !ok {
		code = verdict.GRPCUnavailable
	}
	return &Refusal{Status: first.status, Headers: h, Body: first.body, Policy: first.name, Reason: reason, GRPCStatus: code}
}

// Headers returns the rate-limit headers to add to an admitted request's
// response. The slice is the Result's own, valid until the next Headers or
// Refusal.
func (res *Result) Headers() [][2]string { return res.headers(false) }

// headers renders the configured header sets, per
// draft-ietf-httpapi-ratelimit-headers: RateLimit-Policy lists every window of
// every applied policy as a quota policy item; RateLimit gives, per policy,
// the item of its tightest window (the least remaining), whose t equals the
// Retry-After when that policy refuses. Legacy: the X-RateLimit-* triple of
// the tightest item of all policies.
func (res *Result) headers(refused bool) [][2]string {
	// One buffer holds both draft values and the legacy ones; the
	// RateLimit-Policy value is copied (policyValue), the others share
	// the Result's buffer while they fit in it.
	buf := res.values[:0]
	var leg *numbers
	legT := int64(0)
	draft := false
	for i := range res.applied {
		a := &res.applied[i]
		n := &a.numbers
		if n.items == nil || !a.p.draft {
			continue
		}
		for j := range n.items {
			if draft {
				buf = append(buf, ", "...)
			}
			draft = true
			buf = appendPolicyItem(buf, &n.items[j], n.bytes)
		}
	}
	polLen := len(buf)
	first := true
	for i := range res.applied {
		a := &res.applied[i]
		n := &a.numbers
		if n.items == nil {
			continue
		}
		t := ceilSeconds(n.wait)
		if a.refusing {
			t = max(t, 1)
		}
		if a.p.draft {
			if !first {
				buf = append(buf, ", "...)
			}
			first = false
			buf = appendItemName(buf, &n.items[n.tight])
			buf = append(buf, ";r="...)
			buf = strconv.AppendInt(buf, n.remaining, 10)
			buf = append(buf, ";t="...)
			buf = strconv.AppendInt(buf, t, 10)
		}
		if a.p.legacy && (leg == nil || n.remaining < leg.remaining || (n.remaining == leg.remaining && t > legT)) {
			leg, legT = n, t
		}
	}
	size := 0
	if draft {
		size += 2
	}
	if leg != nil {
		size += 3
	}
	if size == 0 {
		return nil
	}
	// The legacy numbers follow the RateLimit value in buf, so one string
	// holds every value but the policy's.
	rlEnd := len(buf)
	var legEnd [3]int
	if leg != nil {
		buf = strconv.AppendInt(buf, leg.items[leg.tight].quota, 10)
		legEnd[0] = len(buf)
		buf = strconv.AppendInt(buf, leg.remaining, 10)
		legEnd[1] = len(buf)
		buf = strconv.AppendInt(buf, legT, 10)
		legEnd[2] = len(buf)
	}
	var values string
	if len(buf) > polLen {
		if unsafe.SliceData(buf) == &res.values[0] {
			values = unsafe.String(&buf[polLen], len(buf)-polLen)
		} else {
			values = string(buf[polLen:])
		}
	}
	h := res.headerArr[:0:size] // Refusal appends two more: a new array then
	if draft {
		h = append(h, [2]string{"ratelimit-policy", res.limiter.policyValue(buf[:polLen])}, [2]string{"ratelimit", values[:rlEnd-polLen]})
	}
	if leg != nil {
		h = append(h,
			[2]string{"x-ratelimit-limit", values[rlEnd-polLen : legEnd[0]-polLen]},
			[2]string{"x-ratelimit-remaining", values[legEnd[0]-polLen : legEnd[1]-polLen]},
			[2]string{"x-ratelimit-reset", values[legEnd[1]-polLen : legEnd[2]-polLen]})
	}
	return h
}

// policyValue is v as a string, the one rendered last when they are equal.
func (l *Limiter) policyValue(v []byte) string {
	if last := l.lastPolicy.Load(); last != nil && *last == string(v) {
		return *last
	}
	s := string(v)
	l.lastPolicy.Store(&s)
	return s
}

// AuditPolicy is the name of Outcomes[i]'s policy in the audit trail and
// the decision: "rate_limit." and the policy name.
func (res *Result) AuditPolicy(i int) string { return res.applied[i].p.auditName }

// ChargesResponse reports whether ChargeResponse has anything to do: an
// admitted response_bytes policy applies. The plugin counts the response body
// only then.
func (res *Result) ChargesResponse() bool {
	for i, a := range res.applied {
		if a.p.bytes && a.key != "" && res.Outcomes[i].Decision == Allowed {
			return res.Allowed()
		}
	}
	return false
}

// ChargeResponse settles a completed stream that delivered n response body
// bytes with every admitted response_bytes policy of the request: the bytes
// reserved at request time are replaced by n (more is charged, or the unused
// reservation given back). The plugin calls it once per admitted stream from
// on_done, with n = 0 when apiguard replied itself or nothing was delivered,
// so that the reservation is released. A refused Result charges nothing. It
// returns one outcome per settled policy; a settlement that cannot be written
// follows no failure mode (the response is gone) and is reported with its
// reason.
func (res *Result) ChargeResponse(n int64, now time.Time) []Outcome {
	if n < 0 || !res.Allowed() {
		return nil
	}
	var outs []Outcome
	for i := range res.applied {
		a := &res.applied[i]
		if !a.p.bytes || a.key == "" || res.Outcomes[i].Decision != Allowed || a.settled {
			continue
		}
		a.settled = true
		if n > 0 {
			a.p.observe(a.route, n)
		}
		if n == 0 && a.units == 0 {
			continue
		}
		ws, reserved := a.windows, a.units
		attempts, err := a.p.table.Update(a.key, now, func(state []byte) ([]byte, time.Time, bool) {
			var buf tatBuf
			next, exp := settle(ws, decodeTATs(&buf, state, len(ws)), now.UnixNano(), reserved, n)
			return encodeTATs(next), time.Unix(0, exp), true
		})
		o := Outcome{Policy: a.p.name, Decision: Allowed, Reason: ReasonOK, Attempts: attempts}
		if err != nil {
			o.Decision, o.Reason = FailureAllowed, storeReason(err)
		}
		outs = append(outs, o)
	}
	return outs
}

// observedWeight is the weight of the newest response in an observed
// average (1/8: an exponentially weighted mean over about the last 8).
const observedWeight = 8

// maxObservedRoutes bounds the routes whose average a policy keeps apart;
// responses of further routes share the policy-wide average.
const maxObservedRoutes = 64

// averages are running average response sizes, policy-wide and per Envoy
// route name, for the reservations of a response_bytes policy. Each worker
// learns its own (a Limiter lives in one VM).
type averages struct {
	all    average
	mu     sync.Mutex
	routes map[string]*average
}

// average is a running mean in bytes, 0 until a response completes. A lost
// update between concurrent callers only drops one sample.
type average struct{ v atomic.Int64 }

func (a *average) add(n int64) {
	old := a.v.Load()
	if old == 0 {
		a.v.Store(n)
		return
	}
	a.v.Store(max(old+(n-old)/observedWeight, 1))
}

// route returns the average of a route, created while there is room.
func (o *averages) route(name string, create bool) *average {
	if name == "" {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.routes[name]
	if a == nil && create && len(o.routes) < maxObservedRoutes {
		if o.routes == nil {
			o.routes = make(map[string]*average)
		}
		a = &average{}
		o.routes[name] = a
	}
	return a
}

// observe adds a completed response's size to the averages.
func (p *policy) observe(route string, n int64) {
	p.observed.all.add(n)
	if a := p.observed.route(route, true); a != nil {
		a.add(n)
	}
}

// reservation is the bytes a request on route reserves: the configured
// estimate, else the route's observed average, else the policy's, else 0,
// meaning all the budget that is left.
func (p *policy) reservation(route string) int64 {
	if p.estimate > 0 {
		return p.estimate
	}
	if a := p.observed.route(route, false); a != nil {
		if v := a.v.Load(); v > 0 {
			return v
		}
	}
	return p.observed.all.v.Load()
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int64(s)
}
