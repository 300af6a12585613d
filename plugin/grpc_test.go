package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Every own reply carries its reason's gRPC code (Envoy uses it for gRPC
// requests only). Envoy then sends a trailers-only 200 back through the
// filter: the response policies skip it, and the audit event records
// apiguard's deny with its reason and the 200 that left.
func TestOwnRepliesCarryTheirGRPCCode(t *testing.T) {
	host, status := newHost(t, `{
	  "jwt": {"providers": {"corp": {"issuer": "https://idp.example.com", "audiences": ["orders"], "local_jwks": `+testJWKS()+`}},
	          "rules": [{"name": "admin", "match": {"prefix": "/pkg.Admin"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "admin"}]}},
	                    {"name": "svc", "match": {"prefix": "/"}, "requires": {"provider": "corp"}}]},
	  "rate_limits": [{"name": "say", "match": {"path": "/pkg.Svc/Say"}, "key": ["claim:sub", "path"], "limits": [{"requests": 1, "per": "60s"}]},
	                  {"name": "retryable", "match": {"path": "/pkg.Svc/Poll"}, "key": ["claim:sub"], "grpc_status": "unavailable", "limits": [{"requests": 1, "per": "60s"}]}],
	  "response_filter": {"rules": [{"match": {"prefix": "/"}, "allow": ["id"]}]},
	  "telemetry": {"audit": {"sink": "log"}}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	tok := "Bearer " + testToken(t)
	cases := []struct {
		name, path, auth string
		status           uint32
		grpc             int32
		reason           string
	}{
		{"no token", "/pkg.Svc/Say", "", 401, 16, "missing_token"},
		{"bad path", "/pkg.Svc%2fSay", tok, 400, 3, "non_canonical_path"},
		{"claims", "/pkg.Admin/Stats", tok, 403, 7, "claims_failed"},
		{"first call", "/pkg.Svc/Say", tok, 0, 0, ""},
		{"over the limit", "/pkg.Svc/Say", tok, 429, 8, "rate_limited"},
		{"first poll", "/pkg.Svc/Poll", tok, 0, 0, ""},
		{"over the limit, grpc_status unavailable", "/pkg.Svc/Poll", tok, 429, 14, "rate_limited"},
	}
	for _, c := range cases {
		id := host.InitializeHttpContext()
		hs := [][2]string{{":method", "POST"}, {":path", c.path}, {":authority", "api"}, {"content-type", "application/grpc"}, {"te", "trailers"}}
		if c.auth != "" {
			hs = append(hs, [2]string{"authorization", c.auth})
		}
		host.CallOnRequestHeaders(id, hs, false)
		r := host.GetSentLocalResponse(id)
		if c.status == 0 {
			if r != nil {
				t.Fatalf("%s: refused %+v", c.name, r)
			}
			host.CompleteHttpContext(id)
			continue
		}
		if r == nil || r.StatusCode != c.status || r.GRPCStatus != c.grpc {
			t.Fatalf("%s: reply %+v, want %d with gRPC code %d", c.name, r, c.status, c.grpc)
		}
		if v, _ := headerValue(r.Headers, "x-apiguard-reason"); v != c.reason {
			t.Errorf("%s: x-apiguard-reason %q", c.name, v)
		}
		// What Envoy sends back through the filter for a gRPC request.
		trailersOnly := [][2]string{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "16"}, {"x-apiguard-reason", c.reason}}
		if a := host.CallOnResponseHeaders(id, trailersOnly, true); a != types.ActionContinue {
			t.Errorf("%s: the trailers-only reply was held: %v", c.name, a)
		}
		if got := host.GetCurrentResponseHeaders(id); len(got) != len(trailersOnly) {
			t.Errorf("%s: the response policies changed the own reply: %v", c.name, got)
		}
		host.CompleteHttpContext(id)
	}
	var denied int
	for _, l := range host.GetWarnLogs() {
		if !strings.HasPrefix(l, `{"type":"request"`) {
			continue
		}
		var ev struct {
			Status     int
			GRPCStatus *int `json:"grpc_status"`
			BytesOut   *int `json:"bytes_out"`
			Decisions  []struct{ Policy, Decision, Reason string }
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		for _, d := range ev.Decisions {
			if d.Policy == "respfilter" {
				t.Errorf("the response filter judged a gRPC response: %s", l)
			}
			if d.Decision == "deny" {
				denied++
				if ev.Status != 200 || ev.BytesOut == nil || *ev.BytesOut != 0 {
					t.Errorf("a denial's event has status %d and bytes_out %v, want the trailers-only 200 without a body that left: %s", ev.Status, ev.BytesOut, l)
				}
				if ev.GRPCStatus == nil || *ev.GRPCStatus != 16 {
					t.Errorf("a denial's event has grpc_status %v, want the 16 the response carried: %s", ev.GRPCStatus, l)
				}
			}
		}
	}
	if denied != 5 {
		t.Errorf("%d denials in the audit trail, want 5", denied)
	}
}
