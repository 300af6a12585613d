package main

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Every decision, its policy and reason reach Envoy as filter state
// (wasm.apiguard.*) before the response headers leave, own replies included.
func TestDecisionIsPublishedAsFilterState(t *testing.T) {
	host, status := newHost(t, `{"telemetry": {"audit": {"sink": "log"}}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/a%2f..%2fsecret?token=abc"}, {":authority", "api"}}, true)
	if r := host.GetSentLocalResponse(id); r == nil || r.StatusCode != 400 {
		t.Fatalf("local reply = %+v, want 400", r)
	}
	host.CallOnResponseHeaders(id, [][2]string{{":status", "400"}}, false)
	reason := ""
	for _, kv := range host.GetSentLocalResponse(id).Headers {
		if kv[0] == "x-apiguard-reason" {
			reason = kv[1]
		}
	}
	if reason != "non_canonical_path" {
		t.Errorf("x-apiguard-reason = %q, want non_canonical_path", reason)
	}
	for name, want := range map[string]string{"apiguard.decision": "deny", "apiguard.policy": "request", "apiguard.reason": reason} {
		got, err := proxywasm.GetProperty([]string{name})
		if err != nil || string(got) != want {
			t.Errorf("filter state %s = %q (%v), want %q", name, got, err, want)
		}
	}
	host.CompleteHttpContext(id)
	var lines []string
	for _, l := range host.GetWarnLogs() {
		if strings.HasPrefix(l, `{"type":"request"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"reason":"non_canonical_path"`) || strings.Contains(lines[0], "abc") {
		t.Errorf("audit lines %q: want one, with the reason and without the query value", lines)
	}
}

// A burst is the client's failed credentials crossing the threshold, counted
// by the JWT policy (across workers in Envoy): missing tokens are not
// guesses and do not count, and the crossing is reported once.
func TestAuthFailureBurstCountsFailedCredentialsOnly(t *testing.T) {
	host, status := newHost(t, `{"jwt": {"providers": {"corp": {"issuer": "https://idp.example.com", "audiences": ["orders"], "local_jwks": `+testJWKS()+`}},
	  "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]},
	  "telemetry": {"audit": {"sink": "log"}, "signals": {"auth_failure_threshold": 3}}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	if err := host.SetProperty([]string{"source", "address"}, []byte("203.0.113.7:40000")); err != nil {
		t.Fatal(err)
	}
	send := func(extra ...[2]string) {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, append([][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}}, extra...), true)
		if r := host.GetSentLocalResponse(id); r == nil || r.StatusCode != 401 {
			t.Fatalf("reply %+v, want 401", r)
		}
		host.CompleteHttpContext(id)
	}
	bursts := func() []string {
		var out []string
		for _, l := range host.GetWarnLogs() {
			if strings.HasPrefix(l, `{"type":"auth_failure_burst"`) {
				out = append(out, l)
			}
		}
		return out
	}
	for range 5 {
		send()
	}
	if b := bursts(); len(b) != 0 {
		t.Fatalf("missing tokens made a burst: %q", b)
	}
	forged := signedToken(t, testRSA2(), "k1", "mallory") // right kid, wrong key
	for range 5 {
		send([2]string{"authorization", "Bearer " + forged})
	}
	b := bursts()
	if len(b) != 1 || !strings.Contains(b[0], `"client_ip":"203.0.113.7"`) || !strings.Contains(b[0], `"failures":3`) {
		t.Fatalf("bursts %q: want one, for 203.0.113.7 at 3 failures", b)
	}
}
