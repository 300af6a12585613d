package main

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func rateLimitHost(t *testing.T, policies string) proxytest.HostEmulator {
	t.Helper()
	host, status := newHost(t, `{"rate_limits": `+policies+`}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	return host
}

func rlRequest(host proxytest.HostEmulator, extra ...[2]string) (uint32, types.Action) {
	id := host.InitializeHttpContext()
	headers := append([][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}}, extra...)
	return id, host.CallOnRequestHeaders(id, headers, true)
}

func TestRateLimitAddsHeadersToAdmittedResponsesAndRefusesOverTheLimit(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "per_key", "key": ["header:x-key"], "limits": [{"requests": 1, "per": "60s"}]}]`)
	id, action := rlRequest(host, [2]string{"x-key", "k1"})
	if action != types.ActionContinue {
		t.Fatalf("first request: %v, reply %+v", action, host.GetSentLocalResponse(id))
	}
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	if v, _ := headerValue(host.GetCurrentResponseHeaders(id), "ratelimit-policy"); v != `"per_key";q=1;w=60` {
		t.Errorf("ratelimit-policy = %q", v)
	}

	id, action = rlRequest(host, [2]string{"x-key", "k1"})
	r := host.GetSentLocalResponse(id)
	if action != types.ActionPause || r == nil || r.StatusCode != 429 {
		t.Fatalf("second request: %v, reply %+v", action, r)
	}
	if v, _ := headerValue(r.Headers, "retry-after"); v != "60" {
		t.Errorf("retry-after = %q, want 60", v)
	}
	// Envoy sends the refusal back through the response callbacks: it must
	// pass untouched (no second set of headers, no charge).
	if a := host.CallOnResponseHeaders(id, r.Headers, false); a != types.ActionContinue {
		t.Errorf("own reply response headers: %v", a)
	}
	host.CompleteHttpContext(id)
}

func TestGlobalLimitPausesUntilTheServiceAnswers(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "fleet", "key": ["header:x-key"],
		"global": {"cluster": "rls", "domain": "api", "timeout": "250ms"}}]`)
	for _, c := range []struct {
		status, body string
		want         uint32 // 0: continue
	}{
		{"200", `{"overallCode": "OK"}`, 0},
		{"429", `{"overallCode": "OVER_LIMIT"}`, 429},
		{"400", ``, 0}, // Redis down: failure_mode allow
		{"200", `{"overallCode": "UNKNOWN"}`, 0},
	} {
		id, action := rlRequest(host, [2]string{"x-key", "k1"})
		if action != types.ActionPause {
			t.Fatalf("%s: action %v, want pause for the callout", c.status, action)
		}
		calls := host.GetCalloutAttributesFromContext(id)
		if len(calls) != 1 || calls[0].Upstream != "rls" {
			t.Fatalf("callouts %+v", calls)
		}
		if p, _ := headerValue(calls[0].Headers, ":path"); p != "/json" {
			t.Errorf("callout :path %q", p)
		}
		if !strings.Contains(string(calls[0].Body), `"domain":"api"`) || !strings.Contains(string(calls[0].Body), `"value":"k1"`) {
			t.Errorf("callout body %s", calls[0].Body)
		}
		host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", c.status}}, nil, []byte(c.body))
		r := host.GetSentLocalResponse(id)
		switch {
		case c.want == 0 && (r != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue):
			t.Errorf("%s %s: reply %+v, action %v; want the request to continue", c.status, c.body, r, host.GetCurrentHttpStreamAction(id))
		case c.want != 0 && (r == nil || r.StatusCode != c.want):
			t.Errorf("%s %s: reply %+v, want %d", c.status, c.body, r, c.want)
		}
		host.CompleteHttpContext(id)
	}
}

func TestResponseBytesAreChargedWhenTheStreamCompletes(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "bytes", "cost": "response_bytes", "key": ["header:x-key"], "limits": [{"requests": 1000, "per": "3600s"}]}]`)
	page := make([]byte, 600)
	for i, want := range []uint32{0, 0, 429} {
		id, _ := rlRequest(host, [2]string{"x-key", "scraper"})
		r := host.GetSentLocalResponse(id)
		if want != 0 {
			if r == nil || r.StatusCode != want {
				t.Fatalf("request %d: reply %+v, want %d", i, r, want)
			}
			continue
		}
		if r != nil {
			t.Fatalf("request %d refused: %+v", i, r)
		}
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		host.CallOnResponseBody(id, page[:200], false)
		host.CallOnResponseBody(id, page[200:], true)
		host.CompleteHttpContext(id)
	}
}

func TestHugeKeyValuesAreSentToTheServiceHashed(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "fleet", "key": ["header:x-key"], "global": {"cluster": "rls", "domain": "api"}}]`)
	huge := strings.Repeat("k", 70000)
	id, _ := rlRequest(host, [2]string{"x-key", huge})
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 {
		t.Fatalf("callouts %+v", calls)
	}
	body := string(calls[0].Body)
	if strings.Contains(body, strings.Repeat("k", 257)) || !strings.Contains(body, `"value":"sha256:`) || len(body) > 512 {
		t.Errorf("callout body of %d bytes carries the raw value: %.200s", len(body), body)
	}
}
