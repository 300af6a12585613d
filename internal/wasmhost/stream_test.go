package wasmhost

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A PAUSE from on_request_headers is StopAllIterationAndWatermark by
// default: no body callback runs until the guest continues, so a stream
// nobody continues ends with Envoy's stream timeout.
func TestPauseOnHeadersIsStopAllByDefault(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.StreamTimeout = 200 * time.Millisecond
	p := startConformance(t, Options{}, cfg)
	res := do(t, p, echoUpstream, "POST", "/", "hello", "x-do", "pause-req")
	if res.code != 408 || res.header.Get(DetailsHeader) != "stream_idle_timeout" {
		t.Fatalf("got %d %q", res.code, res.header.Get(DetailsHeader))
	}
	for _, cb := range callbackTrace(p, "2") {
		if cb == "on_request_body" {
			t.Fatal("a body callback ran while headers were StopAll-paused")
		}
	}
}

// With allow_on_headers_stop_iteration (Envoy 1.35+), PAUSE is
// StopIteration: body callbacks run and their CONTINUE resumes the stream.
func TestPauseOnHeadersIsStopIterationWhenAllowed(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.AllowOnHeadersStopIteration = true
	cfg.StreamTimeout = 2 * time.Second
	p := startConformance(t, Options{}, cfg)
	res := do(t, p, echoUpstream, "POST", "/", "hello", "x-do", "pause-req")
	if res.code != 200 || res.body != "upstream POST / body=hello" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	trace := strings.Join(callbackTrace(p, "2"), ",")
	// The body, then the empty end of stream of Envoy's HTTP/1 codec.
	if !strings.Contains(trace, "on_request_headers,on_request_body,on_request_body,on_response_headers") {
		t.Fatalf("trace %s", trace)
	}
}

// With StopIteration on response headers, the guest sees the whole body and
// can still change the status and content-length; without it, the headers
// have already gone and only the body changes.
func TestResponseStatusChangeNeedsStopIteration(t *testing.T) {
	for _, allow := range []bool{true, false} {
		t.Run(fmt.Sprintf("allow=%v", allow), func(t *testing.T) {
			cfg := conformanceConfig("plain")
			cfg.AllowOnHeadersStopIteration = allow
			cfg.StreamTimeout = time.Second
			p := startConformance(t, Options{}, cfg)
			up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "4")
				w.Write([]byte("data"))
			})
			srv := httptest.NewServer(p.Middleware(up))
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("x-do", "pause-resp,resp-body-status")
			resp, err := http.DefaultClient.Do(req)
			if allow {
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				buf := new(strings.Builder)
				fmt.Fprint(buf, readAll(resp))
				if resp.StatusCode != 299 || buf.String() != "data[filtered]" {
					t.Fatalf("got %d %q", resp.StatusCode, buf.String())
				}
				return
			}
			// StopAll: the headers wait for a continue that never comes, so
			// Envoy's response timeout answers 504 before any header left.
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 504 {
				t.Fatalf("got %d", resp.StatusCode)
			}
		})
	}
}

func readAll(resp *http.Response) string {
	b := new(strings.Builder)
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// A local reply sent while decoding passes through the plugin's own
// response callbacks (sendLocalReplyViaFilterChain), after the callback
// that sent it returned.
func TestLocalReplyPassesThroughOwnResponseCallbacks(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	upstreamCalled := false
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { upstreamCalled = true })
	res := do(t, p, up, "GET", "/", "", "x-do", "deny:403")
	if upstreamCalled {
		t.Fatal("upstream reached despite the local reply")
	}
	if res.code != 403 || res.body != "denied by guest" || res.header.Get("X-Guest-Reply") != "1" {
		t.Fatalf("got %d %q %v", res.code, res.body, res.header)
	}
	if got := res.header.Get("X-Plugin-Saw-Status"); got != "403" {
		t.Fatalf("the plugin's response callback did not see its own reply: %q", got)
	}
	if res.header.Get(DetailsHeader) != "guest_denied" {
		t.Fatalf("details %q", res.header.Get(DetailsHeader))
	}
	want := "on_context_create,on_request_headers,on_response_headers,on_response_body,on_log,on_done,on_delete"
	if got := strings.Join(callbackTrace(p, "2"), ","); got != want {
		t.Fatalf("trace\n got %s\nwant %s", got, want)
	}
}

// A local reply sent while encoding goes straight out (sendDirectLocalReply):
// the plugin's callbacks do not run again.
func TestLocalReplyWhileEncodingIsDirect(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "deny-resp:502")
	if res.code != 502 || res.body != "denied in response" || res.header.Get("X-Plugin-Saw-Status") != "" {
		t.Fatalf("got %d %q %v", res.code, res.body, res.header)
	}
}

func TestRequestBodyChunksAndBuffering(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 4
	p := startConformance(t, Options{}, cfg)
	res := do(t, p, echoUpstream, "POST", "/up", "hello world", "x-do", "pause-req-body,upper-req-body")
	if res.code != 200 || res.body != "upstream POST /up body=HELLO WORLD" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
	var sizes []string
	for _, m := range p.LogsAt(LogDebug) {
		if strings.HasPrefix(m, "request body ") {
			sizes = append(sizes, strings.TrimPrefix(m, "request body "))
		}
	}
	// Buffered: each call sees the whole body so far; the end of stream
	// comes as an empty chunk of its own (Envoy's HTTP/1 codec,
	// ServerConnectionImpl::onMessageComplete).
	if got := strings.Join(sizes, ";"); got != "size=4 eos=0;size=8 eos=0;size=11 eos=0;size=11 eos=1" {
		t.Fatalf("body callbacks %s", got)
	}
}

func TestRequestBodyOverBufferLimitIs413(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 8
	cfg.BufferLimit = 16
	p := startConformance(t, Options{}, cfg)
	res := do(t, p, echoUpstream, "POST", "/", strings.Repeat("x", 40), "x-do", "pause-req-body")
	if res.code != 413 || res.header.Get(DetailsHeader) != "request_payload_too_large" || res.body != "Payload Too Large" {
		t.Fatalf("got %d %q %q", res.code, res.header.Get(DetailsHeader), res.body)
	}
	if res.header.Get("X-Plugin-Saw-Status") != "413" {
		t.Fatal("Envoy's 413 goes through the filter chain; the plugin should see it")
	}
}

func TestResponseBodyOverBufferLimitIs500BeforeHeaders(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 8
	cfg.BufferLimit = 16
	cfg.AllowOnHeadersStopIteration = true
	p := startConformance(t, Options{}, cfg)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("y", 40))) })
	res := do(t, p, up, "GET", "/", "", "x-do", "pause-resp,pause-resp-body")
	if res.code != 500 || res.header.Get(DetailsHeader) != "response_payload_too_large" {
		t.Fatalf("got %d %q", res.code, res.header.Get(DetailsHeader))
	}
}

func TestResponseBodyOverBufferLimitResetsOnceHeadersLeft(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 8
	cfg.BufferLimit = 16
	p := startConformance(t, Options{}, cfg)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(strings.Repeat("y", 40))) })
	expectResetPastBufferLimit(t, p, up, 40)
}

// httputil.ReverseProxy flushes from a timer goroutine. A reset that such a
// flush causes (here the body passing the buffer limit) must not panic in a
// goroutine net/http does not recover: it used to kill the process.
func TestResetCausedByAFlushFromAnotherGoroutine(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 8
	cfg.BufferLimit = 16
	p := startConformance(t, Options{}, cfg)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("head"))
		w.(http.Flusher).Flush()
		w.Write([]byte(strings.Repeat("y", 40)))
		done := make(chan struct{})
		go func() { defer close(done); w.(http.Flusher).Flush() }()
		<-done
		if _, err := w.Write([]byte("more")); err == nil {
			t.Errorf("a write after the reset succeeded")
		}
	})
	expectResetPastBufferLimit(t, p, up, 48)
}

func TestCloseStreamResets(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	srv := httptest.NewServer(p.Middleware(echoUpstream))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("x-do", "reset")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("expected a reset, got %d", resp.StatusCode)
	}
}

func TestTrailersReachTheGuestAndTheClient(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("body"))
		w.Header().Set("X-Checksum", "abc")
	})
	srv := httptest.NewServer(p.Middleware(up))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp)
	resp.Body.Close()
	if body != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("body %q trailers %v", body, resp.Trailer)
	}
	trace := strings.Join(callbackTrace(p, "2"), ",")
	if !strings.Contains(trace, "on_response_body,on_response_trailers,on_log") {
		t.Fatalf("trace %s", trace)
	}
}

func TestRequestHeadersCarryPseudoHeaders(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/a?b=c", "", "x-do", "echo-headers", "X-Mixed-Case", "v")
	saw := res.header.Get("X-Guest-Saw")
	for _, want := range []string{":authority", ":path", ":method", ":scheme", "x-mixed-case", "x-do"} {
		if !strings.Contains(" "+saw+" ", " "+want+" ") {
			t.Fatalf("guest saw %q, missing %s", saw, want)
		}
	}
}

// Envoy answers 502 when a filter removes :status.
func TestRemovedStatusIs502(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "drop-status")
	if res.code != 502 || res.body != "missing required header: :status" {
		t.Fatalf("got %d %q", res.code, res.body)
	}
}

// An upstream that resets before its headers gets Envoy's router reply,
// through the plugin's response callbacks.
func TestUpstreamResetIsEnvoy503(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	res := do(t, p, up, "GET", "/", "")
	if res.code != 503 || !strings.HasPrefix(res.body, "upstream connect error or disconnect/reset before headers") ||
		res.header.Get("X-Plugin-Saw-Status") != "503" {
		t.Fatalf("got %d %q %v", res.code, res.body, res.header)
	}
}

// Local replies get their headers as Envoy's Utility::prepareLocalReply
// builds them (source/common/http/utility.cc): content-type text/plain only
// when the reply has a body and the plugin gave no content-type, and no
// content-length or content-type at all on a reply without a body.
func TestLocalReplyContentHeadersFollowEnvoy(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("upstream reached") })
	cases := []struct {
		do, body                  string
		code                      int
		contentType               []string // what the client gets
		sawType, sawLength        string   // what on_response_headers saw
		wantGuestHeader, viaChain bool
	}{
		{do: "deny:403", code: 403, body: "denied by guest", contentType: []string{"text/plain"},
			sawType: "text/plain|", sawLength: "15|", wantGuestHeader: true, viaChain: true},
		{do: "deny-json:401", code: 401, body: `{"error":"denied"}`, contentType: []string{"application/json"},
			sawType: "application/json|", sawLength: "18|", viaChain: true},
		{do: "deny-empty:429", code: 429, body: "", contentType: nil,
			sawType: "|", sawLength: "|", wantGuestHeader: true, viaChain: true},
	}
	for _, c := range cases {
		t.Run(c.do, func(t *testing.T) {
			res := do(t, p, up, "GET", "/", "", "x-do", c.do+",saw-content")
			if res.code != c.code || res.body != c.body {
				t.Fatalf("got %d %q", res.code, res.body)
			}
			if got := res.header.Values("Content-Type"); !slices.Equal(got, c.contentType) {
				t.Errorf("client got content-type %q, want %q", got, c.contentType)
			}
			if cl := res.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(c.body)) {
				t.Errorf("client got content-length %q for a %d-byte body", cl, len(c.body))
			}
			if got := res.header.Get("X-Plugin-Saw-Content-Type"); got != c.sawType {
				t.Errorf("plugin saw content-type %q, want %q", got, c.sawType)
			}
			if got := res.header.Get("X-Plugin-Saw-Content-Length"); got != c.sawLength {
				t.Errorf("plugin saw content-length %q, want %q", got, c.sawLength)
			}
			if c.wantGuestHeader && res.header.Get("X-Guest-Reply") != "1" {
				t.Errorf("the plugin's own header is missing: %v", res.header)
			}
		})
	}
	t.Run("direct reply keeps the plugin's content-type", func(t *testing.T) {
		res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "deny-resp-json:502")
		if res.code != 502 || res.body != `{"error":"denied"}` {
			t.Fatalf("got %d %q", res.code, res.body)
		}
		if got := res.header.Values("Content-Type"); !slices.Equal(got, []string{"application/json"}) {
			t.Fatalf("content-type %q", got)
		}
		if got := res.header.Get("Content-Length"); got != "18" {
			t.Fatalf("content-length %q", got)
		}
	})
}

// A local reply to a gRPC request becomes a trailers-only response as
// Envoy's Utility::prepareLocalReply builds it (source/common/http/utility.cc):
// :status 200, content-type application/grpc, grpc-status from the
// grpc_status argument or else Grpc::Utility::httpToGrpcStatus, grpc-message
// the percent-encoded body, no content-length and no body. The plugin's own
// response callback sees the converted reply.
func TestLocalReplyToGRPCRequestIsTrailersOnly(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("upstream reached") })
	const msg = "denied 100%25 by guest%0A"
	cases := []struct {
		name, contentType, do string
		grpcStatus            string // "" for a reply that is not converted
	}{
		{"explicit code", "application/grpc", "deny-grpc:429/8", "8"},
		{"no code: 401 mapped", "application/grpc", "deny-grpc:401/-1", "16"},
		{"no code: 403 mapped", "application/grpc+proto", "deny-grpc:403/-1", "7"},
		{"no code: 429 mapped to UNAVAILABLE", "application/grpc+json", "deny-grpc:429/-1", "14"},
		{"no code: 400 mapped to INTERNAL", "application/grpc", "deny-grpc:400/-1", "13"},
		{"no code: other statuses UNKNOWN", "application/grpc", "deny-grpc:418/-1", "2"},
		{"unknown code is none", "application/grpc", "deny-grpc:403/17", "7"},
		{"the plugin's grpc-status header wins", "application/grpc", "deny-grpc:403/8/9", "9"},
		{"gRPC-Web is not gRPC", "application/grpc-web", "deny-grpc:403/7", ""},
		{"JSON is not gRPC", "application/json", "deny-grpc:403/7", ""},
		{"a prefix is not gRPC", "application/grpcx", "deny-grpc:403/7", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := do(t, p, up, "POST", "/pkg.Service/Method", "", "content-type", c.contentType, "x-do", c.do)
			if res.header.Get("X-Guest-Reply") != "1" || res.header.Get(DetailsHeader) != "guest_denied" {
				t.Fatalf("the plugin's headers or details are missing: %v", res.header)
			}
			if c.grpcStatus == "" {
				code, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(c.do, "deny-grpc:"), "/")[0])
				if res.code != code || res.header.Get("Grpc-Status") != "" || res.body != "denied 100% by guest\n" {
					t.Fatalf("a reply to a non-gRPC request changed: %d %v %q", res.code, res.header, res.body)
				}
				return
			}
			if res.code != 200 || res.body != "" {
				t.Fatalf("got %d %q, want 200 without a body", res.code, res.body)
			}
			if got := res.header.Values("Grpc-Status"); !slices.Equal(got, []string{c.grpcStatus}) {
				t.Errorf("grpc-status %q, want %s", got, c.grpcStatus)
			}
			if got := res.header.Get("Grpc-Message"); got != msg {
				t.Errorf("grpc-message %q, want %q", got, msg)
			}
			if got := res.header.Values("Content-Type"); !slices.Equal(got, []string{"application/grpc"}) {
				t.Errorf("content-type %q", got)
			}
			if got := res.header.Get("Content-Length"); got != "" {
				t.Errorf("content-length %q on a trailers-only reply", got)
			}
			if got := res.header.Get("X-Plugin-Saw-Status"); got != "200" {
				t.Errorf("the plugin's response callback saw :status %q, want the converted 200", got)
			}
		})
	}
}

// A HEAD gRPC request gets no grpc-message (Envoy's is_head_request_).
func TestLocalReplyToGRPCHeadRequestHasNoMessage(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "HEAD", "/pkg.Service/Method", "", "content-type", "application/grpc", "x-do", "deny-grpc:403/-1")
	if res.code != 200 || res.header.Get("Grpc-Status") != "7" || res.header.Values("Grpc-Message") != nil {
		t.Fatalf("got %d %v", res.code, res.header)
	}
}

// Replies the host makes itself follow the same conversion: an upstream
// reset before headers is the router's 503, UNAVAILABLE to a gRPC client.
func TestHostLocalReplyToGRPCRequest(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	res := do(t, p, up, "POST", "/pkg.Service/Method", "", "content-type", "application/grpc")
	if res.code != 200 || res.body != "" || res.header.Get("Grpc-Status") != "14" {
		t.Fatalf("got %d %q %v", res.code, res.body, res.header)
	}
	if got, want := res.header.Get("Grpc-Message"), percentEncodeGRPCMessage([]byte(bodyUpstreamReset)); got != want {
		t.Fatalf("grpc-message %q, want %q", got, want)
	}
}

// percentEncodeGRPCMessage follows Http::PercentEncoding::encode: bytes
// below ' ', from '~' up, and '%' are escaped; the rest pass.
func TestPercentEncodeGRPCMessage(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"plain text: ok": "plain text: ok",
		"50%":            "50%25",
		"tab\there\r\n":  "tab%09here%0D%0A",
		"tilde~ del\x7f": "tilde%7E del%7F",
		"caf\u00e9":      "caf%C3%A9",
		`{"error":"x"}`:  `{"error":"x"}`,
	} {
		if got := percentEncodeGRPCMessage([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// expectResetPastBufferLimit sends a request whose response body the guest
// pauses, through upstream up, and expects a reset instead of all full bytes.
func expectResetPastBufferLimit(t *testing.T, p *Plugin, up http.Handler, full int) {
	t.Helper()
	srv := httptest.NewServer(p.Middleware(up))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("x-do", "pause-resp-body")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body := readAll(resp)
		resp.Body.Close()
		if resp.StatusCode == 200 && len(body) == full {
			t.Fatalf("a reset was expected, got the full body")
		}
	}
	eventually(t, "on_delete after the reset", func() bool {
		return strings.Contains(strings.Join(callbackTrace(p, "2"), ","), "on_log,on_done,on_delete")
	})
}
