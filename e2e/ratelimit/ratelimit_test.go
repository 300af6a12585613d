package ratelimit

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("%s: got %d %q (headers %v), want %d", what, rec.Code, rec.Body.String(), rec.Header(), want)
	}
}

func TestClientsAreLimitedByTheirOwnAddress(t *testing.T) {
	e := start(t, `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 2, "per": "60s"}]}]`, opts{workers: 2})
	a := req{from: "198.51.100.7:5000"}
	wantStatus(t, e.do(t, a), 200, "first request of A")
	wantStatus(t, e.do(t, a), 200, "second request of A")
	wantStatus(t, e.do(t, a), 429, "third request of A")
	// Another port of the same address is the same client.
	wantStatus(t, e.do(t, req{from: "198.51.100.7:5001"}), 429, "A from another port")
	wantStatus(t, e.do(t, req{from: "198.51.100.8:5000"}), 200, "B")
	if got := e.up.hits.Load(); got != 3 {
		t.Errorf("upstream saw %d requests, want 3", got)
	}
	if got := e.decisions(t, "per_ip", verdict.Deny, verdict.RateLimited); got != 2 {
		t.Errorf("limited counter = %d, want 2", got)
	}
	if got := e.decisions(t, "per_ip", verdict.Allow, verdict.WithinLimit); got != 3 {
		t.Errorf("ok counter = %d, want 3", got)
	}
}

func TestForwardedForIsHonouredOnlyThroughTrustedHops(t *testing.T) {
	policy := `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 1, "per": "60s"}]}]`
	proxy := "10.0.0.1:443"
	xff := func(ip string) req { return req{from: proxy, headers: map[string]string{"x-forwarded-for": ip}} }

	// Without trusted hops a client cannot escape its bucket by inventing
	// x-forwarded-for values: the connection's address is the key.
	e := start(t, policy, opts{})
	wantStatus(t, e.do(t, xff("203.0.113.1")), 200, "first")
	wantStatus(t, e.do(t, xff("203.0.113.2")), 429, "spoofed x-forwarded-for")

	// Behind one trusted proxy, the address it appended is the client.
	e = start(t, policy, opts{extra: `, "client_ip": {"trusted_hops": 1}`})
	wantStatus(t, e.do(t, xff("203.0.113.1")), 200, "client 1")
	wantStatus(t, e.do(t, xff("203.0.113.2")), 200, "client 2")
	wantStatus(t, e.do(t, xff("203.0.113.1")), 429, "client 1 again")
	wantStatus(t, e.do(t, xff("198.51.100.9, 203.0.113.2")), 429, "client 2 with a forged earlier hop")
}

// A repeated key header is refused: Envoy hands a filter the first copy,
// an upstream may act on the last, so the key would not be the client's.
func TestARepeatedKeyHeaderIsRefused(t *testing.T) {
	e := start(t, `[{"name": "per_key", "key": ["header:x-api-key"], "limits": [{"requests": 1, "per": "60s"}]}]`, opts{workers: 1})
	wantStatus(t, e.do(t, req{headers: map[string]string{"x-api-key": "alpha"}}), 200, "alpha")
	wantStatus(t, e.do(t, req{headers: map[string]string{"x-api-key": "alpha", "X_Api_Key": "other"}}), 429, "alpha with an underscore spelling (dropped)")
	wantStatus(t, e.do(t, req{headers: map[string]string{"x-api-key": "alpha"}, repeat: []string{"x-api-key", "alpha"}}), 400, "alpha twice")
}

func TestClientsAreLimitedByAHeaderValue(t *testing.T) {
	e := start(t, `[{"name": "per_key", "key": ["header:x-api-key"], "limits": [{"requests": 1, "per": "60s"}]}]`, opts{workers: 2})
	key := func(k, from string) req { return req{from: from, headers: map[string]string{"x-api-key": k}} }
	wantStatus(t, e.do(t, key("alpha", "192.0.2.1:1")), 200, "alpha")
	wantStatus(t, e.do(t, key("alpha", "192.0.2.2:1")), 429, "alpha from another address")
	wantStatus(t, e.do(t, key("beta", "192.0.2.1:1")), 200, "beta from alpha's address")
}

func TestMethodAndPathPartsSplitTheBudget(t *testing.T) {
	e := start(t, `[{"name": "per_path", "match": {"prefix": "/api"}, "key": ["client_ip", "path"], "limits": [{"requests": 1, "per": "60s"}]}]`, opts{workers: 1})
	wantStatus(t, e.do(t, req{path: "/api/a"}), 200, "/api/a")
	wantStatus(t, e.do(t, req{path: "/api/b"}), 200, "/api/b")
	wantStatus(t, e.do(t, req{path: "/api/A"}), 429, "/api/A (the path key is case-folded, as matching is)")
	wantStatus(t, e.do(t, req{path: "/API/a"}), 400, "/API/a (a configured prefix in another case)")
	wantStatus(t, e.do(t, req{path: "/api//a"}), 400, "/api//a (not canonical)")
	wantStatus(t, e.do(t, req{path: "/other"}), 200, "an unmatched path")
	wantStatus(t, e.do(t, req{path: "/other"}), 200, "an unmatched path again")
}

func TestRouteNameKeysComeFromTheEnvoyRoute(t *testing.T) {
	// Every stream of this plugin is on the route named "orders".
	e := start(t, `[{"name": "per_route", "key": ["envoy_route"], "limits": [{"requests": 1, "per": "60s"}]}]`,
		opts{properties: map[string][]byte{"xds.route_name": []byte("orders")}})
	wantStatus(t, e.do(t, req{from: "192.0.2.1:1"}), 200, "first on the route")
	wantStatus(t, e.do(t, req{from: "192.0.2.2:1"}), 429, "second client on the same route")
}

func TestShadowPolicyCountsAndReportsButNeverRefuses(t *testing.T) {
	e := start(t, `[{"name": "trial", "shadow": true, "key": ["client_ip"], "limits": [{"requests": 2, "per": "60s"}]}]`, opts{workers: 2})
	for i := range 5 {
		rec := e.do(t, req{})
		wantStatus(t, rec, 200, "shadow request "+strconv.Itoa(i))
		if rec.Header().Get("RateLimit") == "" {
			t.Errorf("request %d: no RateLimit header in shadow mode", i)
		}
	}
	if got := e.up.hits.Load(); got != 5 {
		t.Errorf("upstream saw %d requests, want 5", got)
	}
	if got := e.decisions(t, "trial", verdict.Allow, verdict.ShadowRateLimited); got != 3 {
		t.Errorf("shadow_limited counter = %d, want 3", got)
	}
}

func TestResponseBytesBudgetRefusesTheNextRequestOfAScraper(t *testing.T) {
	e := start(t, `[{"name": "bytes", "cost": "response_bytes", "key": ["client_ip"], "limits": [{"requests": 10000, "per": "60s"}]}]`, opts{workers: 2})
	e.up.body = strings.Repeat("x", 6000)
	scraper := req{from: "198.51.100.66:1"}
	first := e.do(t, scraper)
	wantStatus(t, first, 200, "first page")
	if pol := first.Header().Get("RateLimit-Policy"); !strings.Contains(pol, `qu="content-bytes"`) {
		t.Errorf("RateLimit-Policy %q does not say the quota counts content bytes", pol)
	}
	wantStatus(t, e.do(t, scraper), 200, "second page (4000 bytes of budget left when it starts)")
	refused := e.do(t, scraper)
	wantStatus(t, refused, 429, "third page, budget overdrawn")
	if ra, _ := strconv.Atoi(refused.Header().Get("Retry-After")); ra < 1 {
		t.Errorf("Retry-After %q on a byte-budget refusal", refused.Header().Get("Retry-After"))
	}
	// Others are unaffected, and the scraper gets pages again as the budget
	// refills (6000 bytes of debt drain at 10000 per minute).
	wantStatus(t, e.do(t, req{from: "198.51.100.67:1"}), 200, "another client")
	e.clock.advance(20 * time.Second)
	wantStatus(t, e.do(t, scraper), 200, "scraper after 20 s")
}

func TestMissingKeyPartFallsBackToTheClientAddress(t *testing.T) {
	e := start(t, `[{"name": "per_key", "key": ["header:x-api-key"], "limits": [{"requests": 1, "per": "60s"}]}]`, opts{workers: 1})
	wantStatus(t, e.do(t, req{from: "192.0.2.10:1"}), 200, "A without a key")
	wantStatus(t, e.do(t, req{from: "192.0.2.10:1"}), 429, "A without a key again")
	// B has no key either, but is not starved by A: there is no shared
	// "empty key" bucket.
	wantStatus(t, e.do(t, req{from: "192.0.2.11:1"}), 200, "B without a key")
	// A client that sends its address as the key value does not share A's
	// fallback bucket.
	wantStatus(t, e.do(t, req{from: "192.0.2.12:1", headers: map[string]string{"x-api-key": "192.0.2.10"}}), 200, "a key equal to A's address")
	// An empty header value is a value of its own; it is not missing.
	wantStatus(t, e.do(t, req{from: "192.0.2.13:1", headers: map[string]string{"x-api-key": ""}}), 200, "empty key")
}

func TestMissingKeyPartCanBeRefused(t *testing.T) {
	e := start(t, `[{"name": "per_key", "missing_key": "deny", "key": ["header:x-api-key"], "limits": [{"requests": 5, "per": "60s"}]}]`, opts{workers: 1})
	wantStatus(t, e.do(t, req{}), 429, "no key")
	wantStatus(t, e.do(t, req{headers: map[string]string{"x-api-key": "k"}}), 200, "with a key")
	if e.up.hits.Load() != 1 {
		t.Errorf("upstream saw %d requests, want 1", e.up.hits.Load())
	}
}

func TestHugeHeaderValueIsHashedNeverStoredRaw(t *testing.T) {
	e := start(t, `[{"name": "per_key", "key": ["header:x-api-key"], "limits": [{"requests": 1, "per": "60s"}]}]`, opts{workers: 1})
	huge := strings.Repeat("secret-token-material-", 3000) // 66 KB
	big := req{headers: map[string]string{"x-api-key": huge}}
	wantStatus(t, e.do(t, big), 200, "huge key")
	wantStatus(t, e.do(t, big), 429, "huge key again")
	wantStatus(t, e.do(t, req{headers: map[string]string{"x-api-key": huge[:len(huge)-1]}}), 200, "a different huge key")
	sd := e.p.SharedData()
	keys := sd.Keys()
	if len(keys) == 0 {
		t.Fatal("no shared data written")
	}
	for _, k := range keys {
		v, _, _ := sd.Get(k)
		if len(k)+len(v) > 256 {
			t.Errorf("shared-data entry of %d bytes: %q", len(k)+len(v), k)
		}
		if strings.Contains(k, "secret-token") || strings.Contains(string(v), "secret-token") {
			t.Errorf("shared data holds the raw header value under %q", k)
		}
	}
}

func TestDraftHeadersOnAdmittedAndRefusedResponses(t *testing.T) {
	e := start(t, `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 2, "per": "60s"}]}]`, opts{workers: 1})
	first := e.do(t, req{})
	wantStatus(t, first, 200, "first")
	if got, want := first.Header().Get("RateLimit-Policy"), `"per_ip";q=2;w=60`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	// t is when the quota is whole again: one request back in 30 s.
	if got, want := first.Header().Get("RateLimit"), `"per_ip";r=1;t=30`; got != want {
		t.Errorf("RateLimit after one request = %q, want %q", got, want)
	}
	if first.Header().Get("X-RateLimit-Limit") != "" {
		t.Error("legacy headers sent with the draft set")
	}
	second := e.do(t, req{})
	if got, want := second.Header().Get("RateLimit"), `"per_ip";r=0;t=30`; got != want {
		t.Errorf("RateLimit after two requests = %q, want %q", got, want)
	}
	refused := e.do(t, req{})
	wantStatus(t, refused, 429, "third")
	if got := refused.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30 (one request every 30 s)", got)
	}
	if got, want := refused.Header().Get("RateLimit"), `"per_ip";r=0;t=30`; got != want {
		t.Errorf("RateLimit on the refusal = %q, want %q", got, want)
	}
	if got := refused.Header().Values("RateLimit-Policy"); len(got) != 1 {
		t.Errorf("refusal carries %d RateLimit-Policy headers (%q); the response path must not add them again", len(got), got)
	}
	if ct := refused.Header().Values("Content-Type"); !slices.Contains(ct, "application/json") {
		t.Errorf("refusal content-type %q", ct)
	}
	if !strings.Contains(refused.Body.String(), "rate_limited") {
		t.Errorf("refusal body %q", refused.Body.String())
	}
	e.clock.advance(30 * time.Second)
	wantStatus(t, e.do(t, req{}), 200, "after Retry-After")
}

func TestTightestWindowIsReportedAndLegacyHeadersOnRequest(t *testing.T) {
	e := start(t, `[{"name": "api", "headers": "both", "key": ["client_ip"], "limits": [
		{"requests": 3, "per": "1s"}, {"requests": 4, "per": "3600s"}]}]`, opts{workers: 1})
	var last *httptest.ResponseRecorder
	for range 3 {
		last = e.do(t, req{})
		wantStatus(t, last, 200, "within both windows")
	}
	h := last.Header()
	if got, want := h.Get("RateLimit-Policy"), `"api-1s";q=3;w=1, "api-3600s";q=4;w=3600`; got != want {
		t.Errorf("RateLimit-Policy = %q, want %q", got, want)
	}
	if got := h.Get("RateLimit"); !strings.HasPrefix(got, `"api-1s";r=0;`) {
		t.Errorf("RateLimit = %q, want the per-second window (0 left)", got)
	}
	if h.Get("X-RateLimit-Limit") != "3" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("legacy headers %q/%q, want 3/0", h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"))
	}
	e.clock.advance(2 * time.Second)
	fourth := e.do(t, req{})
	wantStatus(t, fourth, 200, "fourth, in a new second")
	if got := fourth.Header().Get("RateLimit"); !strings.HasPrefix(got, `"api-3600s";r=0;`) {
		t.Errorf("RateLimit = %q, want the hourly window now (0 left)", got)
	}
	e.clock.advance(2 * time.Second)
	refused := e.do(t, req{})
	wantStatus(t, refused, 429, "fifth, over the hourly window")
	if ra, _ := strconv.Atoi(refused.Header().Get("Retry-After")); ra < 800 || ra > 900 {
		t.Errorf("Retry-After = %q, want about 900 s (one request per 15 min)", refused.Header().Get("Retry-After"))
	}
	if refused.Header().Get("X-RateLimit-Reset") != refused.Header().Get("Retry-After") {
		t.Errorf("X-RateLimit-Reset %q differs from Retry-After %q", refused.Header().Get("X-RateLimit-Reset"), refused.Header().Get("Retry-After"))
	}
}

func TestHeaderSetNoneSendsOnlyRetryAfter(t *testing.T) {
	e := start(t, `[{"name": "quiet", "headers": "none", "status": 503, "body": "slow down", "content_type": "text/plain",
		"key": ["client_ip"], "limits": [{"requests": 1, "per": "10s"}]}]`, opts{workers: 1})
	ok := e.do(t, req{})
	for _, name := range []string{"RateLimit", "RateLimit-Policy", "X-RateLimit-Limit"} {
		if ok.Header().Get(name) != "" {
			t.Errorf("%s sent with headers none", name)
		}
	}
	refused := e.do(t, req{})
	wantStatus(t, refused, 503, "configured status")
	if refused.Body.String() != "slow down" || !slices.Contains(refused.Header().Values("Content-Type"), "text/plain") {
		t.Errorf("refusal %q %q", refused.Header().Get("Content-Type"), refused.Body.String())
	}
	if refused.Header().Get("Retry-After") != "10" {
		t.Errorf("Retry-After = %q, want 10", refused.Header().Get("Retry-After"))
	}
}

func TestOwnRepliesAreNeverChargedToAByteBudget(t *testing.T) {
	// "bytes" charges response bytes for every request; "strict" refuses all
	// but the first request to /strict. The refusals are apiguard's own
	// replies: they must not be charged to "bytes".
	e := start(t, `[
		{"name": "bytes", "cost": "response_bytes", "key": ["client_ip"], "limits": [{"requests": 1000, "per": "3600s"}]},
		{"name": "strict", "match": {"prefix": "/strict"}, "key": ["client_ip"], "limits": [{"requests": 1, "per": "3600s"}]}
	]`, opts{workers: 2})
	e.up.body = strings.Repeat("y", 100)
	wantStatus(t, e.do(t, req{path: "/strict"}), 200, "first strict")
	for range 20 {
		wantStatus(t, e.do(t, req{path: "/strict"}), 429, "strict refusal")
	}
	// Paths that cannot be normalised are answered by apiguard too.
	for range 5 {
		wantStatus(t, e.do(t, req{path: "/%2e%2e/%00"}), 400, "bad path")
	}
	rec := e.do(t, req{path: "/other"})
	wantStatus(t, rec, 200, "other")
	// Only the two upstream responses (100 bytes each... the first charged
	// before this request started) count: 1000 - 100 = 900 left now.
	if got := rec.Header().Get("RateLimit"); !strings.Contains(got, `"bytes";r=900;`) {
		t.Errorf("RateLimit %q: the byte budget was charged for apiguard's own replies", got)
	}
}

func TestCheckedRequestsCountNearLimitAndAuditKey(t *testing.T) {
	e := start(t, `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 10, "per": "60s"}]}]`, opts{workers: 1})
	for range 10 {
		wantStatus(t, e.do(t, req{}), 200, "within the limit")
	}
	// 80% of the quota used: requests 8, 9 and 10 leave 2, 1 and 0.
	if got := e.counter(t, "ratelimit", "policy.per_ip", "near_limit_total"); got != 3 {
		t.Errorf("near_limit_total = %d, want 3", got)
	}
}

func TestGlobalPolicyWithAnUnknownClusterFollowsItsFailureMode(t *testing.T) {
	// Envoy refuses a callout to a cluster it does not know; the policy then
	// decides as if the service were unavailable.
	e := start(t, `[
		{"name": "open", "match": {"prefix": "/open"}, "key": ["client_ip"], "global": {"cluster": "nowhere", "domain": "d"}},
		{"name": "closed", "match": {"prefix": "/closed"}, "key": ["client_ip"], "global": {"cluster": "nowhere", "domain": "d", "failure_mode": "deny"}}
	]`, opts{})
	wantStatus(t, e.do(t, req{path: "/open"}), 200, "failure_mode allow")
	wantStatus(t, e.do(t, req{path: "/closed"}), 429, "failure_mode deny")
	if a, d := e.failures(t, "open", verdict.Allow), e.failures(t, "closed", verdict.Deny); a != 1 || d != 1 {
		t.Errorf("failure_allowed = %d, failure_denied = %d, want 1 each", a, d)
	}
	if got := e.errors(t, "open", "global_unavailable"); got != 1 {
		t.Errorf("global_unavailable = %d, want 1", got)
	}
}

// The recommended demo section (demo-rate-limits.json) is valid and shows a
// 429 with its headers within a short curl loop.
func TestDemoConfigShowsARefusalInAShortLoop(t *testing.T) {
	raw, err := os.ReadFile("demo-rate-limits.json")
	if err != nil {
		t.Fatal(err)
	}
	var demo struct {
		RateLimits json.RawMessage `json:"rate_limits"`
	}
	if err := json.Unmarshal(raw, &demo); err != nil {
		t.Fatal(err)
	}
	e := start(t, string(demo.RateLimits), opts{})
	for i := range 5 {
		wantStatus(t, e.do(t, req{path: "/api/items"}), 200, "demo request "+strconv.Itoa(i+1))
	}
	refused := e.do(t, req{path: "/api/items"})
	wantStatus(t, refused, 429, "demo request 6")
	for _, h := range []string{"RateLimit-Policy", "RateLimit", "Retry-After", "X-RateLimit-Remaining"} {
		if refused.Header().Get(h) == "" {
			t.Errorf("the demo refusal has no %s", h)
		}
	}
}
