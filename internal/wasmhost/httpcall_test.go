package wasmhost

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// calloutPlugin starts the conformance guest with a "backend" cluster.
func calloutPlugin(t *testing.T, backendURL string) *Plugin {
	cfg := conformanceConfig("plain")
	cfg.Clusters = map[string]string{"backend": backendURL}
	cfg.Workers = 2
	return startConformance(t, Options{}, cfg)
}

func TestHTTPCallSuccessResumesTheStream(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "backend" || r.URL.Path != "/check" {
			w.WriteHeader(400)
			return
		}
		w.Write([]byte("allowed"))
	}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/check|1000")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "200" || res.header.Get("X-Callout-Body") != "allowed" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	// The response callback got the root context id, not the stream's.
	if !hasLog(p, LogInfo, "callout response root=1 ") {
		t.Fatalf("logs %q", p.LogsAt(LogInfo))
	}
}

func TestHTTPCallTimeoutIsEnvoy504(t *testing.T) {
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer backend.Close()
	defer close(release)
	p := calloutPlugin(t, backend.URL)
	start := time.Now()
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/slow|100")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "504" || res.header.Get("X-Callout-Body") != "upstream request timeout" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %v", d)
	}
}

func TestHTTPCallConnectionRefusedIsEnvoy503(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := calloutPlugin(t, "http://"+addr)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "503" ||
		!strings.HasPrefix(res.header.Get("X-Callout-Body"), "upstream connect error") {
		t.Fatalf("got %d %v", res.code, res.header)
	}
}

// A reset before the response headers is the router's local reply, a 503
// delivered as a response (Envoy Router::Filter::onUpstreamReset through
// the async client), not a failure with 0 headers.
func TestHTTPCallResetBeforeHeadersIsEnvoy503(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "503" ||
		res.header.Get("X-Callout-Body") != bodyUpstreamReset {
		t.Fatalf("got %d %v", res.code, res.header)
	}
}

// Only a failure once the headers arrived calls back with 0 headers
// (AsyncRequestSharedImpl::onReset → onFailure(Reset)).
func TestHTTPCallResetAfterHeadersArrivesWithoutHeaders(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "none" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	if !hasLog(p, LogInfo, "headers=0 status=none") {
		t.Fatalf("logs %q", p.LogsAt(LogInfo))
	}
}

// A body over kBufferLimitForResponse (32 MiB) is
// onFailure(ExceedResponseBufferLimit): 0 headers.
func TestHTTPCallBodyOverTheBufferLimitArrivesWithoutHeaders(t *testing.T) {
	chunk := make([]byte, 1<<20)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i <= maxCalloutBody/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|5000")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "none" {
		t.Fatalf("got %d %v", res.code, res.header.Get("X-Callout-Status"))
	}
}

// Callout response maps are read-only: Envoy Context::getMap has no case
// for them, so every change is BAD_ARGUMENT.
func TestHTTPCallResponseMapsAreReadOnly(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000,callout-write")
	if got := res.header.Get("X-Callout-Write"); got != "add=2 replace=2 remove=2" {
		t.Fatalf("got %q", got)
	}
}

func TestHTTPCallBadArguments(t *testing.T) {
	p := calloutPlugin(t, "http://127.0.0.1:1")
	// The upstream echoes the proxy_http_call status the guest got.
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Header.Get("X-Callout-Dispatch"))) })
	tests := []struct{ name, do string }{
		{"unknown cluster", "callout:nowhere|/x|100"},
		{"missing :path and :authority", "callout:backend|/x|100,callout-no-path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := do(t, p, up, "GET", "/", "", "x-do", tt.do); res.code != 200 || res.body != "2" {
				t.Fatalf("got %d status %q, want BAD_ARGUMENT (2)", res.code, res.body)
			}
		})
	}
}

// A local reply sent from the callout's callback (through the effective
// context) ends the paused stream, and passes through the plugin's
// response callbacks.
func TestHTTPCallResponseCanReplyLocally(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	called := false
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	res := do(t, p, up, "GET", "/", "", "x-do", "callout:backend|/x|1000,callout-deny")
	if called || res.code != 403 || res.body != "callout said no" || res.header.Get("X-Plugin-Saw-Status") != "403" {
		t.Fatalf("got %d %q %v (upstream called: %v)", res.code, res.body, res.header, called)
	}
}

// Envoy keeps a callout's response on the root context
// (rootContext()->http_call_response_ in Context::getConstMap and
// Context::getBuffer, source/extensions/common/wasm/context.cc), so the
// response headers and body stay readable after the callback made the
// dispatching stream its effective context, as the Go SDK does.
func TestHTTPCallResponseReadableAfterSetEffectiveContext(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "1")
		w.WriteHeader(201)
		w.Write([]byte("late"))
	}))
	defer backend.Close()
	p := calloutPlugin(t, backend.URL)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/x|1000,callout-read-late")
	if res.code != 200 || res.header.Get("X-Callout-Status") != "201" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	if got := res.header.Get("X-Callout-Late-Status"); got != "201" {
		t.Errorf("status read from the stream context: %q", got)
	}
	if got := res.header.Get("X-Callout-Late-Body"); got != "late/0" {
		t.Errorf("body read from the stream context: %q", got)
	}
	// :status, content-length, content-type, date, x-backend.
	if got := res.header.Get("X-Callout-Late-Pairs"); got != "5/0" {
		t.Errorf("header pairs read from the stream context: %q", got)
	}
}
