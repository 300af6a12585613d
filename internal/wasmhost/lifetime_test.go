package wasmhost

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Header-map lifetime, as Envoy's source/extensions/common/wasm/context.cc
// has it: decodeHeaders/encodeHeaders reset request_headers_ /
// response_headers_ when the callback returns Continue, continueStream
// resets the request maps, getMap/getConstMap then return nullptr, and
// Context::log points the reads at the access-log copies.

func TestHeaderMapsAreReleasedWhenTheCallbackContinues(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	var upstreamSaw string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamSaw = r.Header.Get("X-Late")
		w.Write([]byte("body"))
	})
	res := do(t, p, up, "POST", "/", "request-body", "x-do", "late")
	// getHeaderMapValue: BAD_ARGUMENT (2); getHeaderMapPairs: OK (0) with no
	// pairs; addHeaderMapValue: BAD_ARGUMENT; the request body buffer is
	// empty and read-only (Buffer::copyFrom with no instance).
	if got := res.header.Get("X-Late-Req"); got != "get=2 pairs=0/0 add=2 body=0/0 set-body=2" {
		t.Fatalf("late request reads in on_response_headers: %q", got)
	}
	if upstreamSaw != "" {
		t.Fatalf("a late add reached the upstream: %q", upstreamSaw)
	}
	if !strings.HasSuffix(res.body, "[late-resp get=2 replace=2]") {
		t.Fatalf("late response-header reads in on_response_body: %q", res.body)
	}
	// on_log reads the access-log copies; request trailers have none
	// (NOT_FOUND in the log phase). on_done has no maps at all.
	for _, want := range []string{"on_log req=late/0 status=200/0 req-trailers=1", "on_done req=2 pairs=0/0"} {
		if !hasLog(p, LogInfo, want) {
			t.Fatalf("no %q in %q", want, p.LogsAt(LogInfo))
		}
	}
}

func TestContinueStreamReleasesTheRequestHeaders(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000,late")
	// Paused request headers stay writable until the stream continues...
	if res.header.Get("X-Callout-Status") != "200" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	// ...and not after proxy_continue_stream, in the same callback.
	if !hasLog(p, LogInfo, "after continue req=2") {
		t.Fatalf("logs %q", p.LogsAt(LogInfo))
	}
}
