package wasmhost

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Response streaming, as Envoy's router hands an HTTP/1.1 upstream's
// response to the filter chain (source/common/http/http1/codec_impl.cc
// ClientConnectionImpl: onHeadersComplete, onBody, onMessageComplete) and
// the filter manager buffers it (source/common/http/filter_manager.cc).

// serveThrough runs the plugin in a real server, so responses stream to a
// real client and resets reach it.
func serveThrough(t *testing.T, p *Plugin, upstream http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(p.Middleware(upstream))
	t.Cleanup(srv.Close)
	return srv
}

func getWith(t *testing.T, url string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// A slow upstream's first chunk reaches the plugin and the client before
// the upstream finishes.
func TestResponseStreamsWhileTheUpstreamWrites(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	release := make(chan struct{})
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first;"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
			w.Write([]byte("second"))
		case <-time.After(5 * time.Second):
			w.Write([]byte("not streamed"))
		}
	})
	srv := serveThrough(t, p, up)
	res := getWith(t, srv.URL)
	if got := res.Header.Get("X-Plugin-Saw-Status"); got != "200" {
		t.Fatalf("headers before the body ended: saw status %q", got)
	}
	br := bufio.NewReader(res.Body)
	first, err := br.ReadString(';')
	if err != nil || first != "first;" {
		t.Fatalf("first chunk %q %v", first, err)
	}
	if !hasLog(p, LogDebug, "response body size=6 eos=0") {
		t.Fatalf("the plugin did not get the first chunk on its own: %q", p.LogsAt(LogDebug))
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second" {
		t.Fatalf("rest %q", rest)
	}
	// The end of stream comes as an empty chunk (onMessageComplete).
	eventually(t, "the end-of-stream callback", func() bool { return hasLog(p, LogDebug, "response body size=0 eos=1") })
}

// An upstream that stops before the body it announced resets the stream:
// the plugin never sees end of stream, the client sees a broken response.
func TestUpstreamThatStopsMidBodyResetsTheStream(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only part"))
		w.(http.Flusher).Flush()
	})
	srv := serveThrough(t, p, up)
	res := getWith(t, srv.URL)
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("the client read a whole body")
	}
	eventually(t, "on_log", func() bool { return hasLog(p, LogDebug, "cb on_log") })
	if !hasLog(p, LogDebug, "response body size=9 eos=0") || hasLog(p, LogDebug, "eos=1") {
		t.Fatalf("callbacks %q", p.LogsAt(LogDebug))
	}
}

// A panicking upstream after its headers is a reset too, not a 503.
func TestUpstreamResetAfterHeadersResetsTheStream(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	srv := serveThrough(t, p, up)
	res := getWith(t, srv.URL)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("the client read a whole body")
	}
}

// While the filter holds the response headers (StopAllIterationAndWatermark),
// the filter manager buffers the body up to its limit and then stops
// reading: the upstream stalls instead of the host buffering without bound.
func TestHeldResponseAppliesBackPressure(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.BufferLimit = 8 << 10
	cfg.StreamTimeout = 300 * time.Millisecond
	p := startConformance(t, Options{}, cfg)
	var written atomic.Int64
	chunk := make([]byte, 1<<10)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 1024 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
			w.(http.Flusher).Flush()
		}
	})
	res := do(t, p, up, "GET", "/", "", "x-do", "pause-resp")
	if res.code != http.StatusGatewayTimeout {
		t.Fatalf("got %d", res.code)
	}
	if n := written.Load(); n >= 1<<20 || n > int64(cfg.BufferLimit)+16<<10 {
		t.Fatalf("the upstream wrote %d bytes while the response was held (limit %d)", n, cfg.BufferLimit)
	}
}

// 1xx responses go through Envoy's encode1xxHeaders, which never calls the
// plugin: the plugin sees the final status only.
func TestInformationalResponsesNeverReachThePlugin(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Write([]byte("final"))
	})
	res := do(t, p, up, "GET", "/", "")
	if res.code != 200 || res.header.Get("X-Plugin-Saw-Status") != "200" || res.body != "final" {
		t.Fatalf("got %d %v %q", res.code, res.header, res.body)
	}
}

// A body the filter buffered is readable and writable in the trailers
// callback (Context::getBuffer with buffering_response_body_).
func TestBufferedBodyIsReadableInTheTrailersCallback(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("hello"))
		w.Header().Set("X-Checksum", "abc")
	})
	srv := serveThrough(t, p, up)
	res := getWith(t, srv.URL, "x-do", "pause-resp-body,body-in-trailers")
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "hello[trailers saw 5/0]" {
		t.Fatalf("got %d %q %v", res.StatusCode, body, err)
	}
	if res.Trailer.Get("X-Checksum") != "abc" {
		t.Fatalf("trailers %v %v %v", res.Trailer, res.Header, res.TransferEncoding)
	}
	if !strings.Contains(strings.Join(callbackTrace(p, "2"), ","), "on_response_trailers") {
		t.Fatalf("callbacks %v", callbackTrace(p, "2"))
	}
}

// In the last body callback of a direction without trailers, Envoy's getMap
// adds them (addDecodedTrailers / addEncodedTrailers): the plugin can send
// trailers neither the client nor the upstream sent.
func TestTrailersCanBeAddedInTheLastBodyCallback(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	var upstreamSaw string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		upstreamSaw = r.Trailer.Get("X-Req-Added")
		w.(http.Flusher).Flush() // chunked: trailers can follow
		w.Write([]byte("body"))
	})
	srv := serveThrough(t, p, up)
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("payload"))
	req.Header.Set("x-do", "add-trailers")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.Header.Get("X-Add-Req-Trailer") != "0" || upstreamSaw != "1" {
		t.Fatalf("request trailer: add status %q, upstream saw %q", res.Header.Get("X-Add-Req-Trailer"), upstreamSaw)
	}
	if string(body) != "body[resp-trailer 0]" || res.Trailer.Get("X-Resp-Added") != "1" {
		t.Fatalf("response: %q trailers %v", body, res.Trailer)
	}
}

// Request trailers reach an upstream behind a real HTTP hop (devproxy's
// ReverseProxy), as Envoy forwards them (HTTP/2, or HTTP/1 chunked with
// enable_trailers): what the plugin leaves in them is what the upstream
// reads, so the plugin's trailer tests through the host are real.
func TestRequestTrailersCrossAnHTTPHop(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	saw := make(chan http.Header, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		saw <- r.Trailer.Clone()
	}))
	t.Cleanup(origin.Close)
	target, _ := url.Parse(origin.URL)
	srv := serveThrough(t, p, httputil.NewSingleHostReverseProxy(target))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", srv.URL, pr)
	req.Trailer = http.Header{"X-Checksum": nil}
	go func() {
		pw.Write([]byte("payload"))
		req.Trailer.Set("X-Checksum", "abc")
		pw.Close()
	}()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := (<-saw).Get("X-Checksum"); got != "abc" {
		t.Fatalf("the origin got trailer X-Checksum %q, want abc", got)
	}
}
