package ratelimit

import (
	"strings"
	"testing"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/apiguard/apiguard/internal/verdict"
)

func TestGlobalCalloutBodyIsARateLimitRequest(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"fleet","key":["client_ip","header:x-tenant"],
		"global":{"cluster":"ratelimit","domain":"apiguard","timeout":"50ms"}}]`)
	huge := strings.Repeat("t", 1000)
	res := l.Check(req("192.0.2.7", map[string]string{"x-tenant": huge}), t0)
	if len(res.Callouts) != 1 || res.Outcomes[0].Decision != Pending {
		t.Fatalf("callouts %+v outcomes %+v", res.Callouts, res.Outcomes)
	}
	c := res.Callouts[0]
	if c.Cluster != "ratelimit" || c.Timeout.Milliseconds() != 50 || header(c.Headers, ":path") != "/json" ||
		header(c.Headers, ":method") != "POST" || header(c.Headers, ":authority") != "ratelimit" {
		t.Fatalf("callout %+v", c)
	}
	// The real proto, with protojson as the service reads it, accepts the body.
	var pr rlsv3.RateLimitRequest
	if err := protojson.Unmarshal(c.Body, &pr); err != nil {
		t.Fatalf("service would answer 400: %v\n%s", err, c.Body)
	}
	if pr.Domain != "apiguard" || len(pr.Descriptors) != 1 || len(pr.Descriptors[0].Entries) != 2 {
		t.Fatalf("request %v", &pr)
	}
	e := pr.Descriptors[0].Entries
	if e[0].Key != "client_ip" || e[0].Value != "192.0.2.7" || e[1].Key != "header:x-tenant" {
		t.Fatalf("entries %v", e)
	}
	if v := e[1].Value; !strings.HasPrefix(v, "sha256:") || len(v) != 7+64 {
		t.Fatalf("huge value not hashed: %d bytes", len(v))
	}
}

func TestGlobalExplicitDescriptorsAndFallback(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"fleet","key":["client_ip"],
		"global":{"cluster":"rl","domain":"d","descriptors":[[{"key":"generic_key","value":"api"},{"key":"user","from":"claim:sub"}]]}}]`)
	res := l.Check(req("192.0.2.7", nil), t0)
	var pr rlsv3.RateLimitRequest
	if err := protojson.Unmarshal(res.Callouts[0].Body, &pr); err != nil {
		t.Fatal(err)
	}
	e := pr.Descriptors[0].Entries
	if e[0].Key != "generic_key" || e[0].Value != "api" || e[1].Key != "user" || e[1].Value != "ip:192.0.2.7" {
		t.Fatalf("entries %v", e)
	}
}

func rlsAnswer(t *testing.T, code rlsv3.RateLimitResponse_Code, remaining uint32) []byte {
	t.Helper()
	b, err := protojson.Marshal(&rlsv3.RateLimitResponse{
		OverallCode: code,
		Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{
			Code:               code,
			CurrentLimit:       &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 100, Unit: rlsv3.RateLimitResponse_RateLimit_MINUTE},
			LimitRemaining:     remaining,
			DurationUntilReset: durationpb.New(17_500_000_000),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGlobalVerdicts(t *testing.T) {
	ok := rlsAnswer(t, rlsv3.RateLimitResponse_OK, 42)
	over := rlsAnswer(t, rlsv3.RateLimitResponse_OVER_LIMIT, 0)
	unknown := rlsAnswer(t, rlsv3.RateLimitResponse_UNKNOWN, 0)
	cases := []struct {
		name   string
		status int
		body   []byte
		reason verdict.Reason
		// allowed under failure_mode allow / deny
		allow, deny bool
	}{
		{"200 OK", 200, ok, ReasonGlobalOK, true, true},
		{"200 OK numeric enum", 200, []byte(`{"overallCode":1}`), ReasonGlobalOK, true, true},
		{"200 without OK", 200, unknown, ReasonGlobalBadAnswer, true, false},
		{"200 garbage", 200, []byte("<html>"), ReasonGlobalBadAnswer, true, false},
		{"200 OVER_LIMIT", 200, over, ReasonGlobalBadAnswer, true, false},
		{"429", 429, over, ReasonGlobalOverLimit, false, false},
		{"429 no body", 429, nil, ReasonGlobalOverLimit, false, false},
		{"400 redis down", 400, []byte("Bad Request\n"), ReasonGlobalServiceError, true, false},
		{"500 unknown", 500, unknown, ReasonGlobalUnknown, true, false},
		{"503 refused", 503, []byte("upstream connect error"), ReasonGlobalUnavailable, true, false},
		{"504 timeout", 504, nil, ReasonGlobalTimeout, true, false},
		{"reset", 0, nil, ReasonGlobalReset, true, false},
		{"302", 302, nil, ReasonGlobalUnexpected, true, false},
		{"200 OK oversized", 200, append(append([]byte{}, ok...), make([]byte, MaxAnswerBytes)...), ReasonGlobalBadAnswer, true, false},
		{"429 oversized", 429, make([]byte, MaxAnswerBytes+1), ReasonGlobalBadAnswer, true, false},
	}
	for _, tc := range cases {
		for _, mode := range []string{"allow", "deny"} {
			l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d","failure_mode":"`+mode+`"}}]`)
			res := l.Check(req("192.0.2.1", nil), t0)
			out := res.ResolveCallout(0, tc.status, tc.body)
			want := tc.allow
			if mode == "deny" {
				want = tc.deny
			}
			if out.Reason != tc.reason || res.Allowed() != want || res.Pending() {
				t.Errorf("%s/%s: outcome %+v allowed %v, want reason %s allowed %v", tc.name, mode, out, res.Allowed(), tc.reason, want)
			}
		}
	}
}

func TestGlobalHeadersFromAnswer(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d"}}]`)
	res := l.Check(req("192.0.2.1", nil), t0)
	res.ResolveCallout(0, 200, rlsAnswer(t, rlsv3.RateLimitResponse_OK, 42))
	h := res.Headers()
	if header(h, "ratelimit-policy") != `"g";q=100;w=60` || header(h, "ratelimit") != `"g";r=42;t=18` {
		t.Fatalf("headers %v", h)
	}
	res = l.Check(req("192.0.2.1", nil), t0)
	res.ResolveCallout(0, 429, rlsAnswer(t, rlsv3.RateLimitResponse_OVER_LIMIT, 0))
	ref := res.Refusal()
	if ref == nil || header(ref.Headers, "retry-after") != "18" || header(ref.Headers, "ratelimit") != `"g";r=0;t=18` {
		t.Fatalf("refusal %+v", ref)
	}
}

func TestLocalPreLimitShedsBeforeCallout(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"limits":[{"requests":1,"per":"60s"}],
		"global":{"cluster":"rl","domain":"d"}}]`)
	r := req("192.0.2.1", nil)
	if res := l.Check(r, t0); len(res.Callouts) != 1 {
		t.Fatal("first request: no callout")
	}
	res := l.Check(r, t0)
	if len(res.Callouts) != 0 || res.Allowed() || res.Outcomes[0].Reason != ReasonOverLimit {
		t.Fatalf("pre-limit did not shed: %+v", res.Outcomes)
	}
}

func TestShadowGlobalNeverRefuses(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"shadow":true,"global":{"cluster":"rl","domain":"d","failure_mode":"deny"}}]`)
	res := l.Check(req("192.0.2.1", nil), t0)
	if res.ResolveCallout(0, 429, nil); !res.Allowed() || res.Outcomes[0].Decision != ShadowLimited {
		t.Fatalf("%+v", res.Outcomes)
	}
	res = l.Check(req("192.0.2.1", nil), t0)
	if res.ResolveCallout(0, 400, nil); !res.Allowed() {
		t.Fatal("shadow failure refused")
	}
}

func FuzzJudgeGlobal(f *testing.F) {
	f.Add(200, []byte(`{"overallCode":"OK","statuses":[{"currentLimit":{"requestsPerUnit":5,"unit":"HOUR"},"limitRemaining":1,"durationUntilReset":"3.5s"}]}`))
	f.Add(429, []byte(`{"statuses":[{"currentLimit":{"unit":9}}]}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		a := judgeGlobal(status, body)
		if a.pass && status != 200 || a.limited && status != 429 {
			t.Fatalf("status %d judged %+v", status, a)
		}
	})
}

func TestGlobalRefusalRefundsLocalPolicies(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"local","key":["client_ip"],"limits":[{"requests":2,"per":"60s"}]},
		{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d"}}]`)
	r := req("192.0.2.1", nil)
	for i := 0; i < 5; i++ {
		res := l.Check(r, t0)
		res.ResolveCallout(0, 429, nil)
		if res.Allowed() {
			t.Fatal("globally limited request allowed")
		}
	}
	// The local budget is untouched: the next two requests pass locally.
	for i := 0; i < 2; i++ {
		res := l.Check(r, t0)
		if res.Outcomes[0].Decision != Allowed {
			t.Fatalf("local budget drained by globally refused requests: %+v", res.Outcomes[0])
		}
		res.ResolveCallout(0, 200, []byte(`{"overallCode":"OK"}`))
	}
}

func TestLocalRefusalSkipsCallouts(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d"}},
		{"name":"local","key":["client_ip"],"limits":[{"requests":1,"per":"60s"}]}]`)
	r := req("192.0.2.1", nil)
	l.Check(r, t0)
	res := l.Check(r, t0)
	if len(res.Callouts) != 0 || res.Outcomes[0].Decision != Skipped || res.Allowed() {
		t.Fatalf("callouts %d outcomes %+v", len(res.Callouts), res.Outcomes)
	}
}

func TestGlobalRefusalKeepsItsOwnPreLimitUnit(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"limits":[{"requests":3,"per":"60s"}],"global":{"cluster":"rl","domain":"d"}}]`)
	r := req("192.0.2.1", nil)
	callouts := 0
	for i := 0; i < 10; i++ {
		res := l.Check(r, t0)
		callouts += len(res.Callouts)
		if len(res.Callouts) == 1 {
			res.ResolveCallout(0, 429, nil)
		}
	}
	if callouts != 3 {
		t.Fatalf("%d callouts for a globally limited client, want the pre-limit's 3", callouts)
	}
}

func TestGlobalAnswerWithoutNumbersKeepsPreLimitHeaders(t *testing.T) {
	l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"limits":[{"requests":3,"per":"60s"}],"global":{"cluster":"rl","domain":"d"}}]`)
	res := l.Check(req("192.0.2.1", nil), t0)
	res.ResolveCallout(0, 200, []byte(`{"overallCode":"OK","statuses":[{"code":"OK"}]}`))
	if got := header(res.Headers(), "ratelimit"); got != `"g";r=2;t=20` {
		t.Fatalf("RateLimit = %q", got)
	}
}

func TestOversizedAnswerFollowsFailureMode(t *testing.T) {
	for _, c := range []struct {
		mode  string
		allow bool
	}{{"allow", true}, {"deny", false}} {
		l, _ := mustLimiter(t, `[{"name":"g","key":["client_ip"],"global":{"cluster":"rl","domain":"d","failure_mode":"`+c.mode+`"}}]`)
		res := l.Check(req("192.0.2.1", nil), t0)
		out := res.ResolveOversized(0)
		if out.Reason != ReasonGlobalBadAnswer || res.Allowed() != c.allow || res.Pending() {
			t.Errorf("%s: outcome %+v allowed %v, want bad answer allowed %v", c.mode, out, res.Allowed(), c.allow)
		}
	}
}

func TestKeyHoldsClientValues(t *testing.T) {
	for _, c := range []struct {
		key     []KeyPart
		missing string
		want    bool
	}{
		{[]KeyPart{"client_ip"}, "", true},
		{[]KeyPart{"header:x-api-key"}, "deny", true},
		{[]KeyPart{"claim:sub"}, "deny", true},
		{[]KeyPart{"path"}, "deny", true},
		{[]KeyPart{"method"}, "", false},
		{[]KeyPart{"envoy_route", "method"}, "deny", false},
		{[]KeyPart{"envoy_route"}, "", true}, // an unnamed route falls back to the client IP
	} {
		p := Policy{Name: "p", Key: c.key, MissingKey: c.missing}
		if got := p.KeyHoldsClientValues(); got != c.want {
			t.Errorf("key %v missing_key %q: %v, want %v", c.key, c.missing, got, c.want)
		}
	}
}
