package ratelimit

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/verdict"
)

var t0 = time.Unix(1_800_000_000, 0)

func mustLimiter(t testing.TB, js string) (*Limiter, *castable.MemStore) {
	t.Helper()
	var cfg Config
	if err := config.Decode([]byte(js), &cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	s := &castable.MemStore{}
	l, err := New(cfg, s, "apiguard/root")
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	return l, s
}

func req(ip string, hdr map[string]string) *Request {
	r := &Request{Method: "GET", Path: "/api/x", Header: func(n string) (string, bool) {
		v, ok := hdr[n]
		return v, ok
	}}
	if ip != "" {
		r.ClientIP = netip.MustParseAddr(ip)
	}
	return r
}

func header(h [][2]string, name string) string {
	for _, kv := range h {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// admits counts admissions of n requests at one instant.
func admits(l *Limiter, r *Request, now time.Time, n int) int {
	ok := 0
	for i := 0; i < n; i++ {
		if l.Check(r, now).Allowed() {
			ok++
		}
	}
	return ok
}

func TestBurstAndRefill(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"ip","key":["client_ip"],"limits":[{"requests":10,"per":"10s","burst":5}]}]`)
	r := req("192.0.2.1", nil)
	// A rested client gets requests+burst at once.
	if got := admits(l, r, t0, 20); got != 15 {
		t.Fatalf("burst: admitted %d, want 15", got)
	}
	// One unit refills every per/requests = 1s.
	if got := admits(l, r, t0.Add(999*time.Millisecond), 1); got != 0 {
		t.Fatalf("before 1s: admitted %d, want 0", got)
	}
	if got := admits(l, r, t0.Add(time.Second), 3); got != 1 {
		t.Fatalf("after 1s: admitted %d, want 1", got)
	}
	if got := admits(l, r, t0.Add(4*time.Second), 5); got != 3 {
		t.Fatalf("after 4s: admitted %d, want 3", got)
	}
	// A full rest restores the whole capacity.
	if got := admits(l, r, t0.Add(time.Hour), 20); got != 15 {
		t.Fatalf("after rest: admitted %d, want 15", got)
	}
	// Another client has its own bucket.
	if got := admits(l, req("192.0.2.2", nil), t0, 20); got != 15 {
		t.Fatalf("other client: admitted %d, want 15", got)
	}
}

func TestSeveralWindowsAllMustAdmitAndRefusalConsumesNothing(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"limits":[
		{"requests":2,"per":"1s"},
		{"requests":5,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	now := t0
	got := 0
	// 1 request every 100 ms for 10 s: the per-second window allows 2 at
	// once; refusals by it must not consume the minute window.
	for i := 0; i < 100; i++ {
		if l.Check(r, now).Allowed() {
			got++
		}
		now = now.Add(100 * time.Millisecond)
	}
	if got != 5 {
		t.Fatalf("admitted %d in 10s, want the minute window's 5", got)
	}
	// Refusals by the per-second window alone do not eat the minute window:
	l2, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"limits":[
		{"requests":1,"per":"1s"},{"requests":3,"per":"60s"}]}]`)
	for s := 0; s < 3; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		if admits(l2, r, at, 10) != 1 {
			t.Fatalf("second %d: want exactly 1 admission", s)
		}
	}
	if admits(l2, r, t0.Add(3*time.Second), 1) != 0 {
		t.Fatal("minute window exhausted after 3, but a 4th was admitted")
	}
}

func TestDraftHeaders(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"per_ip","key":["client_ip"],"limits":[{"requests":3,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	res := l.Check(r, t0)
	h := res.Headers()
	if got := header(h, "ratelimit-policy"); got != `"per_ip";q=3;w=60` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	// 2 left; the next unit comes back after 20 s.
	if got := header(h, "ratelimit"); got != `"per_ip";r=2;t=20` {
		t.Errorf("RateLimit = %q", got)
	}
	if header(h, "x-ratelimit-limit") != "" {
		t.Error("legacy headers sent in draft mode")
	}
	l.Check(r, t0.Add(5*time.Second))
	l.Check(r, t0.Add(5*time.Second))
	res = l.Check(r, t0.Add(10*time.Second))
	ref := res.Refusal()
	if ref == nil || ref.Status != 429 {
		t.Fatalf("refusal = %+v", ref)
	}
	// The oldest unit returns at t0+20s: 10 s from now.
	if got := header(ref.Headers, "retry-after"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	if got := header(ref.Headers, "ratelimit"); got != `"per_ip";r=0;t=10` {
		t.Errorf("RateLimit on refusal = %q, want t equal to Retry-After", got)
	}
	if string(ref.Body) != `{"error":"rate_limited"}` || header(ref.Headers, "content-type") != "application/json" {
		t.Errorf("body %q / content-type %q", ref.Body, header(ref.Headers, "content-type"))
	}
}

func TestTightestWindowIsReported(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"headers":"both","limits":[
		{"requests":10,"per":"1s"},{"requests":3,"per":"3600s"}]}]`)
	h := l.Check(req("192.0.2.1", nil), t0).Headers()
	// Every window is listed, each under its own name; RateLimit names the
	// tightest.
	if got := header(h, "ratelimit-policy"); got != `"p-1s";q=10;w=1, "p-3600s";q=3;w=3600` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := header(h, "ratelimit"); got != `"p-3600s";r=2;t=1200` {
		t.Errorf("RateLimit = %q", got)
	}
	if header(h, "x-ratelimit-limit") != "3" || header(h, "x-ratelimit-remaining") != "2" || header(h, "x-ratelimit-reset") != "1200" {
		t.Errorf("legacy = %v", h)
	}
}

func TestHeaderModes(t *testing.T) {
	for mode, want := range map[string][2]bool{"draft": {true, false}, "legacy": {false, true}, "both": {true, true}, "none": {false, false}} {
		l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"headers":"`+mode+`","limits":[{"requests":3,"per":"60s"}]}]`)
		h := l.Check(req("192.0.2.1", nil), t0).Headers()
		if (header(h, "ratelimit") != "") != want[0] || (header(h, "x-ratelimit-remaining") != "") != want[1] {
			t.Errorf("%s: headers %v", mode, h)
		}
	}
	// Refusals carry Retry-After even with no header set.
	l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"headers":"none","status":503,"body":"slow down","content_type":"text/plain","limits":[{"requests":1,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	l.Check(r, t0)
	ref := l.Check(r, t0).Refusal()
	if ref == nil || ref.Status != 503 || string(ref.Body) != "slow down" || header(ref.Headers, "retry-after") != "60" || header(ref.Headers, "content-type") != "text/plain" {
		t.Fatalf("refusal = %+v", ref)
	}
}

func TestShadowNeverRefuses(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"shadow":true,"limits":[{"requests":2,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	var last *Result
	for i := 0; i < 5; i++ {
		last = l.Check(r, t0)
		if !last.Allowed() || last.Refusal() != nil {
			t.Fatalf("request %d refused in shadow mode", i)
		}
	}
	if last.Outcomes[0].Decision != ShadowLimited || last.Outcomes[0].Reason != ReasonShadow {
		t.Fatalf("outcome = %+v", last.Outcomes[0])
	}
	if got := header(last.Headers(), "ratelimit"); got != `"p";r=0;t=30` {
		t.Fatalf("shadow headers: RateLimit = %q", got)
	}
}

func TestKeysFromHeaderAndClaim(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["header:X-API-Key","claim:sub"],"limits":[{"requests":1,"per":"60s"}]}]`)
	a := req("192.0.2.1", map[string]string{"x-api-key": "k1"})
	a.Claims = map[string]any{"sub": "alice"}
	b := req("192.0.2.1", map[string]string{"x-api-key": "k1"})
	b.Claims = map[string]any{"sub": "bob"}
	if !l.Check(a, t0).Allowed() || !l.Check(b, t0).Allowed() {
		t.Fatal("distinct subjects share a bucket")
	}
	if l.Check(a, t0).Allowed() {
		t.Fatal("same key admitted twice")
	}
}

func TestMissingPartFallsBackToClientIP(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["header:x-api-key"],"limits":[{"requests":1,"per":"60s"}]}]`)
	// Two clients without the header do not share one empty bucket.
	a, b := req("192.0.2.1", nil), req("192.0.2.2", nil)
	ra := l.Check(a, t0)
	if !ra.Allowed() || !ra.Outcomes[0].FallbackKey || !l.Check(b, t0).Allowed() {
		t.Fatal("clients without the header starve each other")
	}
	if l.Check(a, t0).Allowed() {
		t.Fatal("fallback bucket not limited")
	}
	// A client sending the header literally cannot collide with a fallback key.
	c := req("192.0.2.3", map[string]string{"x-api-key": "192.0.2.1"})
	if !l.Check(c, t0).Allowed() {
		t.Fatal("header value collided with a fallback key")
	}
	// With no client IP either (the host could not tell), failure_mode applies.
	res := l.Check(req("", nil), t0)
	if o := res.Outcomes[0]; o.Reason != ReasonKeyMissing || o.Decision != FailureAllowed || !res.Allowed() {
		t.Fatalf("no key at all: %+v", o)
	}
	ld, _ := mustLimiter(t, `[{"name":"p","key":["header:x-api-key"],"failure_mode":"deny","limits":[{"requests":1,"per":"60s"}]}]`)
	if res := ld.Check(req("", nil), t0); res.Allowed() || res.Outcomes[0].Decision != FailureDenied {
		t.Fatalf("no key at all, failure_mode deny: %+v", res.Outcomes[0])
	}
}

func TestMissingKeyDeny(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["claim:sub"],"missing_key":"deny","limits":[{"requests":100,"per":"60s"}]}]`)
	res := l.Check(req("192.0.2.1", nil), t0)
	if res.Allowed() || res.Outcomes[0].Decision != FailureDenied || res.Outcomes[0].Reason != ReasonKeyMissing {
		t.Fatalf("outcome %+v", res.Outcomes[0])
	}
}

func TestHugeHeaderValueIsHashed(t *testing.T) {
	l, s := mustLimiter(t, `[{"name":"p","key":["header:x-k"],"max_keys":16,"limits":[{"requests":1,"per":"60s"}]}]`)
	huge := strings.Repeat("A", 1<<20)
	if !l.Check(req("192.0.2.1", map[string]string{"x-k": huge}), t0).Allowed() {
		t.Fatal("refused")
	}
	if s.Bytes() > 4096 || s.Bytes() > l.MaxBytes() {
		t.Fatalf("store holds %d bytes after a 1 MiB key (bound %d)", s.Bytes(), l.MaxBytes())
	}
}

func TestClaimOverrideTiers(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"user","key":["claim:sub"],"limits":[{"requests":2,"per":"60s"}],
		"override":{"claim":["plan"],"values":{"gold":[{"requests":5,"per":"60s"}],"internal":[]}}}]`)
	user := func(sub string, plan any) *Request {
		r := req("192.0.2.1", nil)
		r.Claims = map[string]any{"sub": sub}
		if plan != nil {
			r.Claims["plan"] = plan
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *Request
		want int
	}{
		{"gold tier", user("g", "gold"), 5},
		{"unlisted tier keeps the default", user("s", "silver"), 2},
		{"no plan claim keeps the default", user("n", nil), 2},
		{"non-scalar claim keeps the default", user("x", []any{"gold"}), 2},
		{"unlimited tier", user("i", "internal"), 50},
	} {
		if got := admits(l, tc.r, t0, 50); got != tc.want {
			t.Errorf("%s: admitted %d, want %d", tc.name, got, tc.want)
		}
	}
	h := l.Check(user("g2", "gold"), t0).Headers()
	if got := header(h, "ratelimit-policy"); got != `"user";q=5;w=60` {
		t.Errorf("gold RateLimit-Policy = %q", got)
	}
}

func TestNumericClaimOverride(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"user","key":["claim:sub"],"limits":[{"requests":2,"per":"60s"}],
		"override":{"claim":["rpm"],"numeric":{"per":"60s","max":10}}}]`)
	user := func(sub string, rpm any) *Request {
		r := req("192.0.2.1", nil)
		r.Claims = map[string]any{"sub": sub, "rpm": rpm}
		return r
	}
	for _, tc := range []struct {
		rpm  any
		want int
	}{
		{json.Number("7"), 7},
		{json.Number("1000000"), 10}, // capped at max
		{json.Number("-3"), 2},       // invalid: default
		{json.Number("2.5"), 2},
		{"4", 4},
		{true, 2},
	} {
		if got := admits(l, user("u"+string(mustJSON(tc.rpm)), tc.rpm), t0, 50); got != tc.want {
			t.Errorf("rpm %v: admitted %d, want %d", tc.rpm, got, tc.want)
		}
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestResponseBytesBudget(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"bytes","key":["client_ip"],"cost":"response_bytes","limits":[{"requests":1000,"per":"10s"}]}]`)
	r := req("192.0.2.1", nil)
	res := l.Check(r, t0)
	if !res.Allowed() {
		t.Fatal("first request refused")
	}
	if got := header(res.Headers(), "ratelimit-policy"); got != `"bytes";q=1000;qu="content-bytes";w=10` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if outs := res.ChargeResponse(600, t0); len(outs) != 1 || outs[0].Reason != ReasonOK {
		t.Fatalf("charge: %+v", outs)
	}
	res = l.Check(r, t0)
	if !res.Allowed() {
		t.Fatal("refused with 400 bytes of budget left")
	}
	if got := header(res.Headers(), "ratelimit"); !strings.HasPrefix(got, `"bytes";r=400;`) {
		t.Errorf("RateLimit = %q", got)
	}
	res.ChargeResponse(5000, t0) // a huge page overdraws the budget
	ref := l.Check(r, t0.Add(time.Second)).Refusal()
	if ref == nil {
		t.Fatal("next request after the budget was spent was admitted")
	}
	// Debt is capped at two windows: 20 s, less the second that passed, plus
	// the time for one byte.
	if got := header(ref.Headers, "retry-after"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	// A refused request charges nothing.
	if outs := l.Check(r, t0.Add(time.Second)).ChargeResponse(100, t0); outs != nil {
		t.Errorf("refused request was charged: %+v", outs)
	}
	if !l.Check(r, t0.Add(21*time.Second)).Allowed() {
		t.Fatal("budget did not come back")
	}
}

func TestStoreFailureModes(t *testing.T) {
	for _, mode := range []string{"allow", "deny"} {
		var cfg Config
		js := `[{"name":"p","key":["client_ip"],"failure_mode":"` + mode + `","limits":[{"requests":5,"per":"1s"}]}]`
		if err := config.Decode([]byte(js), &cfg); err != nil {
			t.Fatal(err)
		}
		l, err := New(cfg, failingStore{}, "ns")
		if err != nil {
			t.Fatal(err)
		}
		res := l.Check(req("192.0.2.1", nil), t0)
		o := res.Outcomes[0]
		if o.Reason != ReasonStoreError || res.Allowed() != (mode == "allow") {
			t.Errorf("%s: outcome %+v allowed %v", mode, o, res.Allowed())
		}
		if mode == "deny" && header(res.Refusal().Headers, "retry-after") != "1" {
			t.Errorf("deny: Retry-After missing")
		}
	}
}

type failingStore struct{}

func (failingStore) Get(string) ([]byte, uint32, error) { return nil, 0, errors.New("boom") }
func (failingStore) Set(string, []byte, uint32) error   { return errors.New("boom") }

// headerKeyTable is a policy of 8 slots keyed by header x-k with limits,
// and the request of a key.
func headerKeyTable(t *testing.T, limits string) (*Limiter, func(string) *Request) {
	t.Helper()
	l, _ := mustLimiter(t, `[{"name":"p","key":["header:x-k"],"max_keys":8,"limits":[`+limits+`]}]`)
	return l, func(k string) *Request { return req("192.0.2.1", map[string]string{"x-k": k}) }
}

// fillTable sends one request from each of n new keys, 1 ms apart, each of
// which must be admitted, and returns the time after them and the number of
// live entries they evicted (at least one).
func fillTable(t *testing.T, l *Limiter, key func(string) *Request, now time.Time, n int) (time.Time, int) {
	t.Helper()
	evictions := 0
	for i := range n {
		now = now.Add(time.Millisecond)
		o := l.Check(key("filler-"+strconv.Itoa(i)), now).Outcomes[0]
		if o.Decision != Allowed {
			t.Fatalf("filler %d: outcome %+v, want allowed", i, o)
		}
		if o.Evicted {
			evictions++
		}
	}
	if evictions == 0 {
		t.Fatalf("%d keys into a full table counted no eviction", n)
	}
	return now, evictions
}

// The abuse case: once a client is at its limit, filling the policy's slots
// with other keys neither resets it nor switches limiting off. Every key
// inserted later holds less debt than the limited one, so eviction takes
// theirs; a burst from a new key afterwards gets exactly its capacity.
func TestFilledTableStillLimits(t *testing.T) {
	const maxKeys = 8
	l, key := headerKeyTable(t, `{"requests":5,"per":"60s","burst":1}`)
	now := t0
	if got := admits(l, key("victim"), now, 6); got != 6 {
		t.Fatalf("victim burst: admitted %d, want 6", got)
	}
	now, evictions := fillTable(t, l, key, now, 10*maxKeys)
	if res := l.Check(key("victim"), now); res.Allowed() || res.Outcomes[0].Reason != ReasonOverLimit {
		t.Fatalf("victim after %d other keys: outcome %+v, want over_limit", 10*maxKeys, res.Outcomes[0])
	}
	if got := admits(l, key("newcomer"), now, 20); got != 6 {
		t.Fatalf("newcomer burst after the fill: admitted %d, want exactly 6", got)
	}
	// Evictions took fillers only: the table never failed.
	t.Logf("%d live evictions", evictions)
}

// With a quota of 1 and no burst every live entry is at its limit, so a full
// table must free one: it frees the entry whose window ends first, the
// oldest, and that client may send its next request early, counted as an
// eviction. Keys inserted after it stay limited (docs/rate-limits.md).
func TestQuotaOneFullTableFreesTheOldestEntry(t *testing.T) {
	const maxKeys = 8
	l, key := headerKeyTable(t, `{"requests":1,"per":"60s"}`)
	now := t0
	if got := admits(l, key("oldest"), now, 3); got != 1 {
		t.Fatalf("oldest: admitted %d, want 1", got)
	}
	now, _ = fillTable(t, l, key, now, 10*maxKeys)
	// The latest filler holds the most debt: still limited.
	if res := l.Check(key("filler-"+strconv.Itoa(10*maxKeys-1)), now); res.Allowed() {
		t.Fatal("the newest entry was evicted before older ones")
	}
	// The oldest entry, evicted, gets one request before its window ended.
	res := l.Check(key("oldest"), now)
	if !res.Allowed() || !res.Outcomes[0].Evicted {
		t.Fatalf("oldest after the fill: %+v; want admitted early, by evicting another entry", res.Outcomes[0])
	}
	if got := admits(l, key("oldest"), now, 3); got != 0 {
		t.Fatalf("oldest again: admitted %d more, want 0", got)
	}
}

func TestPoliciesOnlyApplyWhenMatched(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"admin","match":{"prefix":"/admin"},"key":["client_ip"],"limits":[{"requests":1,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	if res := l.Check(r, t0); len(res.Outcomes) != 0 || res.Headers() != nil {
		t.Fatalf("unmatched policy applied: %+v", res.Outcomes)
	}
}

// TestHammerExactCapacity: 8 goroutines on one key with a frozen clock. With
// failure_mode deny exactly requests+burst requests pass; with allow, the
// passes beyond it are exactly the counted contention failures.
func TestHammerExactCapacity(t *testing.T) {
	for _, mode := range []string{"deny", "allow"} {
		l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"failure_mode":"`+mode+`",
			"limits":[{"requests":100,"per":"60s","burst":28},{"requests":1000,"per":"3600s"}]}]`)
		r := req("192.0.2.1", nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed, admitted, contended := 0, 0, 0
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					res := l.Check(r, t0)
					mu.Lock()
					if res.Allowed() {
						passed++
					}
					switch o := res.Outcomes[0]; {
					case o.Decision == Allowed:
						admitted++
					case o.Reason == ReasonContended:
						contended++
					case o.Reason != ReasonOverLimit:
						t.Errorf("unexpected outcome %+v", o)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if admitted != 128 {
			t.Errorf("%s: %d admissions through CAS, want exactly requests+burst = 128", mode, admitted)
		}
		want := 128
		if mode == "allow" {
			want += contended
		}
		if passed != want {
			t.Errorf("%s: %d passed, want %d (contention failures: %d)", mode, passed, want, contended)
		}
		t.Logf("%s: %d passed, %d contention failures", mode, passed, contended)
	}
}

func FuzzCheckHeaders(f *testing.F) {
	f.Add("k", "sub", int64(0))
	f.Fuzz(func(t *testing.T, hv, sub string, dt int64) {
		l, _ := mustLimiter(t, `[{"name":"p","key":["header:x-k","claim:sub"],"headers":"both","limits":[{"requests":3,"per":"1s","burst":1}]}]`)
		r := req("192.0.2.1", map[string]string{"x-k": hv})
		r.Claims = map[string]any{"sub": sub}
		for i := 0; i < 6; i++ {
			res := l.Check(r, t0.Add(time.Duration(dt)))
			_ = res.Headers()
			_ = res.Refusal()
			res.ChargeResponse(dt, t0)
		}
	})
}

func TestSeveralPoliciesCombine(t *testing.T) {
	l, _ := mustLimiter(t, `[
		{"name":"per_ip","key":["client_ip"],"headers":"both","limits":[{"requests":5,"per":"60s"}]},
		{"name":"per_user","key":["claim:sub"],"headers":"both","status":503,"limits":[{"requests":2,"per":"10s"}]},
		{"name":"quiet","key":["client_ip"],"headers":"none","limits":[{"requests":100,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	r.Claims = map[string]any{"sub": "alice"}
	res := l.Check(r, t0)
	h := res.Headers()
	if got := header(h, "ratelimit-policy"); got != `"per_ip";q=5;w=60, "per_user";q=2;w=10` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := header(h, "ratelimit"); got != `"per_ip";r=4;t=12, "per_user";r=1;t=5` {
		t.Errorf("RateLimit = %q", got)
	}
	// Legacy reports the single tightest window of all policies.
	if header(h, "x-ratelimit-limit") != "2" || header(h, "x-ratelimit-remaining") != "1" || header(h, "x-ratelimit-reset") != "5" {
		t.Errorf("legacy %v", h)
	}
	l.Check(r, t0)
	res = l.Check(r, t0)
	ref := res.Refusal()
	if ref == nil || ref.Policy != "per_user" || ref.Status != 503 || header(ref.Headers, "retry-after") != "5" {
		t.Fatalf("refusal %+v", ref)
	}
	// per_ip gave this request's unit back: r=3, not 2.
	if got := header(ref.Headers, "ratelimit"); got != `"per_ip";r=3;t=12, "per_user";r=0;t=5` {
		t.Errorf("RateLimit on refusal = %q", got)
	}
	if o := res.Outcomes[2]; o.Decision != Skipped {
		t.Errorf("policy after the refusal: %+v", o)
	}
	// The refused request gave its per_ip unit back: 3 of 5 remain, and
	// further refused requests do not drain per_ip either.
	for i := 0; i < 10; i++ {
		l.Check(r, t0)
	}
	other := req("192.0.2.1", nil)
	other.Claims = map[string]any{"sub": "bob"}
	if got := admits(l, other, t0, 10); got != 2 {
		t.Errorf("bob on the same IP: admitted %d, want per_user's 2 (per_ip has 3 left)", got)
	}
	if got := admits(l, req("192.0.2.1", map[string]string{}), t0, 10); got != 1 {
		t.Errorf("per_ip left %d, want 1", got)
	}
	if res.ChargesResponse() || res.ChargeResponse(100, t0) != nil {
		t.Error("a refused request would be charged")
	}
}

func TestPendingCalloutFollowsFailureMode(t *testing.T) {
	for mode, allowed := range map[string]bool{"allow": true, "deny": false} {
		l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d","failure_mode":"`+mode+`"}}]`)
		res := l.Check(req("192.0.2.1", nil), t0)
		if !res.Pending() || res.Allowed() != allowed {
			t.Errorf("%s: pending %v allowed %v", mode, res.Pending(), res.Allowed())
		}
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(`[{"name":"p","key":["client_ip","header:x","claim:a.b"],"limits":[{"requests":3,"per":"1s","burst":2}],"override":{"claim":"plan","numeric":{"per":"60s","max":9}}}]`)
	f.Add(`[{"name":"g","key":["path","method","envoy_route"],"cost":"response_bytes","limits":[{"requests":1000000000,"per":"1s"},{"requests":1,"per":"720h","burst":1000000000000}]}]`)
	f.Fuzz(func(t *testing.T, js string) {
		var cfg Config
		if config.Decode([]byte(js), &cfg) != nil {
			return
		}
		l, err := New(cfg, &castable.MemStore{}, "ns")
		if err != nil {
			return
		}
		r := req("192.0.2.1", map[string]string{"x": "v"})
		r.Claims = map[string]any{"plan": json.Number("5"), "a": map[string]any{"b": "c"}}
		for i := 0; i < 3; i++ {
			res := l.Check(r, t0)
			for j := range res.Callouts {
				res.ResolveCallout(j, 200, []byte(`{"overallCode":"OK"}`))
			}
			_ = res.Headers()
			_ = res.Refusal()
			res.ChargeResponse(1<<40, t0)
		}
	})
}

// A refusal names its reason and the gRPC code a gRPC client gets:
// RESOURCE_EXHAUSTED over the limit (UNAVAILABLE with grpc_status
// "unavailable"), INVALID_ARGUMENT for a missing key, UNAVAILABLE for a
// failure that failure_mode denies.
func TestRefusalReasonAndGRPCStatus(t *testing.T) {
	over := func(js string) *Refusal {
		l, _ := mustLimiter(t, js)
		l.Check(req("192.0.2.1", nil), t0)
		return l.Check(req("192.0.2.1", nil), t0).Refusal()
	}
	if r := over(`[{"name":"p","key":["client_ip"],"limits":[{"requests":1,"per":"60s"}]}]`); r.Reason != verdict.RateLimited || r.GRPCStatus != verdict.GRPCResourceExhausted {
		t.Errorf("over the limit: %s %v", r.Reason, r.GRPCStatus)
	}
	if r := over(`[{"name":"p","key":["client_ip"],"grpc_status":"unavailable","limits":[{"requests":1,"per":"60s"}]}]`); r.Reason != verdict.RateLimited || r.GRPCStatus != verdict.GRPCUnavailable {
		t.Errorf("over the limit, grpc_status unavailable: %s %v", r.Reason, r.GRPCStatus)
	}
	l, _ := mustLimiter(t, `[{"name":"p","key":["claim:sub"],"missing_key":"deny","limits":[{"requests":100,"per":"60s"}]}]`)
	if r := l.Check(req("192.0.2.1", nil), t0).Refusal(); r.Reason != verdict.MissingKey || r.GRPCStatus != verdict.GRPCInvalidArgument {
		t.Errorf("missing key: %s %v", r.Reason, r.GRPCStatus)
	}
	l, _ = mustLimiter(t, `[{"name":"p","key":["header:x-api-key"],"failure_mode":"deny","limits":[{"requests":1,"per":"60s"}]}]`)
	if r := l.Check(req("", nil), t0).Refusal(); r.Reason != verdict.MissingKey {
		t.Errorf("no key at all, failure_mode deny: %s %v", r.Reason, r.GRPCStatus)
	}
	var cfg Config
	err := config.Decode([]byte(`[{"name":"p","key":["client_ip"],"grpc_status":"UNAVAILABLE","limits":[{"requests":1,"per":"60s"}]}]`), &cfg)
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), "grpc_status") {
		t.Errorf("grpc_status UNAVAILABLE accepted: %v", err)
	}
}

func TestSmallTableWarns(t *testing.T) {
	for _, c := range []struct {
		js   string
		warn bool
	}{
		{`[{"name":"p","key":["client_ip"],"max_keys":8,"limits":[{"requests":5,"per":"60s"}]}]`, true},
		{`[{"name":"p","key":["client_ip"],"limits":[{"requests":5,"per":"1h"}]}]`, false},
		{`[{"name":"p","key":["client_ip"],"limits":[{"requests":5,"per":"24h"}]}]`, true},
		{`[{"name":"p","key":["client_ip"],"max_keys":100,"limits":[{"requests":5,"per":"10s"}]}]`, false},
	} {
		l, _ := mustLimiter(t, c.js)
		w := l.Warnings()
		if got := len(w) == 1 && strings.Contains(w[0], `"p"`) && strings.Contains(w[0], "max_keys"); got != c.warn {
			t.Errorf("%s: warnings %q, want a warning: %v", c.js, w, c.warn)
		}
	}
}

// wave sends n concurrent requests of one key at one instant, then completes
// every admitted one with a body of size bytes. It returns the admissions
// and the bytes delivered.
func wave(t *testing.T, l *Limiter, r *Request, now time.Time, n int, size int64) (admitted int, delivered int64) {
	t.Helper()
	results := make([]*Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = l.Check(r, now) }()
	}
	wg.Wait() // every stream is in flight before the first completes
	for _, res := range results {
		if res.Allowed() {
			admitted++
			delivered += size
			res.ChargeResponse(size, now)
		}
	}
	return admitted, delivered
}

// The abuse case of a byte budget: 60 parallel requests against 10,000 bytes
// per hour with 5 KB responses. Every admitted stream reserves bytes at
// request time, so the overspend is bounded by the concurrent streams ×
// (actual − reserved), and with no estimate and no history the first stream
// reserves all that is left.
func TestByteBudgetHoldsUnderConcurrency(t *testing.T) {
	const budget, size, parallel = 10_000, 5_000, 60
	policy := func(extra string) string {
		return `[{"name":"b","key":["client_ip"],"cost":"response_bytes"` + extra + `,"limits":[{"requests":10000,"per":"1h"}]}]`
	}
	t.Run("defaults", func(t *testing.T) {
		l, _ := mustLimiter(t, policy(""))
		r := req("192.0.2.1", nil)
		admitted, delivered := wave(t, l, r, t0, parallel, size)
		if admitted < 1 || delivered > 2*budget {
			t.Fatalf("first wave: %d admitted, %d bytes delivered; want at least 1 and at most %d", admitted, delivered, 2*budget)
		}
		// With history (the observed average), a second wave reserves
		// 5,000 bytes a stream: the key ends within its budget.
		a2, d2 := wave(t, l, r, t0, parallel, size)
		if delivered+d2 > 2*budget {
			t.Fatalf("two waves delivered %d bytes (%d+%d admitted), want at most %d", delivered+d2, admitted, a2, 2*budget)
		}
		t.Logf("defaults: %d then %d admitted, %d bytes delivered for a %d-byte budget", admitted, a2, delivered+d2, budget)
	})
	t.Run("estimate", func(t *testing.T) {
		const estimate = 1_000
		l, _ := mustLimiter(t, policy(`,"estimated_bytes":1000`))
		admitted, delivered := wave(t, l, req("192.0.2.1", nil), t0, parallel, size)
		bound := int64(budget + admitted*(size-estimate))
		if admitted != budget/estimate || delivered > bound {
			t.Fatalf("%d admitted, %d bytes delivered; want %d admitted and at most budget + admitted × (actual − reserved) = %d",
				admitted, delivered, budget/estimate, bound)
		}
	})
}

func TestByteReservationIsReleased(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"b","key":["client_ip"],"cost":"response_bytes","estimated_bytes":4000,"limits":[{"requests":10000,"per":"1h"}]},
		{"name":"r","key":["header:x-u"],"limits":[{"requests":1,"per":"1h"}]}]`)
	ip := "192.0.2.1"
	// Another policy's refusal gives the reservation back.
	if !l.Check(req(ip, map[string]string{"x-u": "a"}), t0).Allowed() {
		t.Fatal("first request refused")
	}
	for range 5 {
		if l.Check(req(ip, map[string]string{"x-u": "a"}), t0).Allowed() {
			t.Fatal("policy r admitted a second request")
		}
	}
	// A stream that delivered nothing (settled with 0) gives it back too.
	res := l.Check(req(ip, map[string]string{"x-u": "c"}), t0)
	if !res.Allowed() {
		t.Fatal("refused with 6,000 bytes unreserved")
	}
	res.ChargeResponse(0, t0)
	if got := header(l.Check(req(ip, map[string]string{"x-u": "d"}), t0).Headers(), "ratelimit"); !strings.Contains(got, `"b";r=6000;`) {
		t.Fatalf("after an empty stream settled: RateLimit %q, want r=6000 (only the first request's 4,000 reserved)", got)
	}
}

// Reservations follow each route's observed average: a route of small
// responses is not held back by a route of large ones under one policy.
func TestByteReservationFollowsTheRoute(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"b","key":["client_ip"],"cost":"response_bytes","limits":[{"requests":100000,"per":"1h"}]}]`)
	on := func(route, ip string) *Request { r := req(ip, nil); r.EnvoyRoute = route; return r }
	// History: "big" answers 40,000 bytes, "small" 100.
	for range 3 {
		l.Check(on("big", "192.0.2.1"), t0).ChargeResponse(40_000, t0)
		l.Check(on("small", "192.0.2.2"), t0).ChargeResponse(100, t0)
	}
	// A fresh client on "small" can have many streams in flight at once.
	if got, _ := wave(t, l, on("small", "192.0.2.3"), t0, 50, 100); got != 50 {
		t.Errorf("small route: %d of 50 parallel streams admitted, want 50 (100-byte reservations)", got)
	}
	// On "big", reservations of 40,000 bytes admit 3 of a 100,000 budget.
	if got, _ := wave(t, l, on("big", "192.0.2.4"), t0, 50, 40_000); got != 3 {
		t.Errorf("big route: %d of 50 parallel streams admitted, want 3", got)
	}
}

// A window is any duration from 1s in whole milliseconds: "1500ms" and "1.5s"
// are the same window; headers state it rounded up to whole seconds, so a
// client pacing itself by them stays under the real rate.
func TestSubSecondWindows(t *testing.T) {
	for _, per := range []string{"1500ms", "1.5s"} {
		l, _ := mustLimiter(t, `[{"name":"p","key":["client_ip"],"limits":[{"requests":3,"per":"`+per+`"},{"requests":100,"per":"60s"}]}]`)
		r := req("192.0.2.1", nil)
		if got := admits(l, r, t0, 10); got != 3 {
			t.Fatalf("per %s: admitted %d at once, want 3", per, got)
		}
		// One unit returns every 500ms.
		if got := admits(l, r, t0.Add(500*time.Millisecond), 10); got != 1 {
			t.Fatalf("per %s: admitted %d after 500ms, want 1", per, got)
		}
		h := l.Check(req("192.0.2.9", nil), t0).Headers()
		if got := header(h, "ratelimit-policy"); got != `"p-1500ms";q=3;w=2, "p-60s";q=100;w=60` {
			t.Errorf("per %s: RateLimit-Policy = %q", per, got)
		}
	}
}

// A claim key part names its claim as a `claim` key does: dotted, or a JSON
// array of segments for a claim name with dots.
func TestClaimKeyPartPaths(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"p","key":["claim:[\"https://example.com/tenant\"]","claim:org.id"],"missing_key":"deny","limits":[{"requests":1,"per":"60s"}]}]`)
	a := req("192.0.2.1", nil)
	a.Claims = map[string]any{"https://example.com/tenant": "t1", "org": map[string]any{"id": "o1"}}
	b := req("192.0.2.1", nil)
	b.Claims = map[string]any{"https://example.com/tenant": "t2", "org": map[string]any{"id": "o1"}}
	if !l.Check(a, t0).Allowed() || !l.Check(b, t0).Allowed() {
		t.Fatal("distinct tenants share a bucket")
	}
	if l.Check(a, t0).Allowed() {
		t.Fatal("same tenant admitted twice")
	}
	c := req("192.0.2.1", nil)
	c.Claims = map[string]any{"https://example": map[string]any{"com/tenant": "t1"}, "org": map[string]any{"id": "o1"}}
	if l.Check(c, t0).Allowed() {
		t.Fatal("the array form was read as a dotted path")
	}
}

// TestKeysLongAndShortInOneReusedResult checks the buckets a reused Result
// charges when its policies' keys fit in the Result and when they do not
// (a 300-byte header value): each client is limited alone, whatever
// request the Result served before, and the RateLimit values it reports
// are its own.
func TestKeysLongAndShortInOneReusedResult(t *testing.T) {
	l, _ := mustLimiter(t, `[
		{"name":"user","key":["header:x-user"],"limits":[{"requests":2,"per":"60s"}],"headers":"both"},
		{"name":"ip","key":["client_ip"],"limits":[{"requests":100,"per":"60s"}]}]`)
	long := func(c byte) string { return strings.Repeat(string(c), 300) }
	users := []string{"a", long('b'), "c", long('d')}
	var res Result
	for round := range 3 {
		for i, u := range users {
			r := req("192.0.2."+strconv.Itoa(1+i), map[string]string{"x-user": u})
			out := l.CheckInto(&res, r, t0)
			if want := round < 2; out.Allowed() != want {
				t.Fatalf("round %d, user %d: allowed %v, want %v", round, i, out.Allowed(), want)
			}
			if round < 2 {
				if got, want := header(out.Headers(), "x-ratelimit-remaining"), strconv.Itoa(1-round); got != want {
					t.Fatalf("round %d, user %d: remaining %q, want %q", round, i, got, want)
				}
			}
		}
	}
}
