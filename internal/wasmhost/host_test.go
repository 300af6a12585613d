package wasmhost

import (
	"context"
	"strings"
	"testing"
)

func TestPassThrough(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/hello?x=1", "")
	if res.code != 200 || res.body != "upstream GET /hello body=" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	if got := res.header.Get("X-Plugin-Saw-Status"); got != "200" {
		t.Fatalf("plugin did not see the response: %q", got)
	}
	// Two body callbacks: the body, then the empty end of stream Envoy's
	// HTTP/1 codec delivers (ClientConnectionImpl::onMessageComplete).
	want := []string{"on_context_create", "on_request_headers", "on_response_headers", "on_response_body", "on_response_body", "on_log", "on_done", "on_delete"}
	if got := callbackTrace(p, "2"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("callback order\n got %v\nwant %v", got, want)
	}
	_ = context.Background()
}
