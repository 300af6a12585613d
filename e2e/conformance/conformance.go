// Package conformance is a conformance kit for Proxy-Wasm hosts: the
// conformance guest (internal/wasmhost/testdata/guests/conformance) and
// HTTP-level assertions on where a host may differ from Envoy, each naming
// the Envoy source it mirrors. It runs against any host that can put the
// guest in front of the kit's upstream: wasmhost (this package's test, part
// of make test) and a real Envoy (e2e/envoy, when envoy is on PATH).
//
// Every assertion is observable over HTTP or through the guest's shared
// data, read back by a later request, so no host-specific log access is
// needed.
package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// Config is the plugin configuration the host must give the guest.
const Config = "plain setprop-root"

// Names of the clusters the host must map (Env.Clusters).
const (
	ClusterBackend = "backend" // the kit's callout server
	ClusterRefused = "refused" // a port nothing listens on
)

// Host starts the guest (a .wasm path) with Config, in front of upstream,
// with clusters mapped to URLs, and returns the URL clients send to.
type Host func(t *testing.T, wasm, upstream string, clusters map[string]string) (front string)

// Case is one assertion.
type Case struct {
	Name   string
	Source string // the Envoy source the assertion mirrors
	Run    func(t *testing.T, k *Kit)
}

// Kit is the running kit: the host's front URL and the kit's servers.
type Kit struct {
	Front  string
	client *http.Client
	seq    atomic.Int64

	mu       sync.Mutex
	release  map[string]chan struct{}
	finished sync.Map // slow upstream calls that wrote their end
}

// BuildGuest compiles the conformance guest with the standard Go compiler.
func BuildGuest(t testing.TB) string {
	t.Helper()
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "conformance.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./internal/wasmhost/testdata/guests/conformance")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the conformance guest: %v\n%s", err, msg)
	}
	return out
}

// Run starts the kit's servers, the host, and every case.
func Run(t *testing.T, host Host) {
	k := &Kit{client: &http.Client{Timeout: 10 * time.Second}, release: map[string]chan struct{}{}}
	upstream := httptest.NewServer(http.HandlerFunc(k.upstream))
	t.Cleanup(upstream.Close)
	backend := httptest.NewServer(http.HandlerFunc(backend))
	t.Cleanup(backend.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()
	k.Front = host(t, BuildGuest(t), upstream.URL, map[string]string{ClusterBackend: backend.URL, ClusterRefused: refused})
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("mirrors %s", c.Source)
			c.Run(t, k)
		})
	}
}

// Cases are the kit's assertions.
func Cases() []Case {
	return []Case{
		{"request headers are released when on_request_headers continues",
			"source/extensions/common/wasm/context.cc Context::decodeHeaders, getMap, getHeaderMapValue, getHeaderMapPairs, getBuffer",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "POST", "chunked", "request-body", "x-do", "late")
				// BAD_ARGUMENT (2) for a read or a write, OK (0) with no
				// pairs for the whole map, an empty read-only body.
				k.expectHeader(t, r, "X-Late-Req", "get=2 pairs=0/0 add=2 body=0/0 set-body=2")
			}},
		{"response headers are released when on_response_headers continues",
			"source/extensions/common/wasm/context.cc Context::encodeHeaders, getMap",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "late")
				if !strings.HasSuffix(r.body, "[late-resp get=2 replace=2]") {
					t.Fatalf("body %q", r.body)
				}
			}},
		{"on_log reads the access-log copies, on_done no map",
			"source/extensions/common/wasm/context.cc Context::log, getConstMap, onDestroy",
			func(t *testing.T, k *Kit) {
				key := k.key()
				k.do(t, "GET", "chunked", "", "x-do", "late:"+key)
				k.expectShared(t, "late-log-"+key, "req=late:"+key+"/0 status=200/0 req-trailers=1")
				k.expectShared(t, "late-done-"+key, "req=2 pairs=0/0")
			}},
		{"continue_stream releases the request headers at once",
			"source/extensions/common/wasm/context.cc Context::continueStream",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "callout:"+ClusterBackend+"|/ok|2000,late")
				k.expectHeader(t, r, "X-Callout-Status", "200")
				k.expectHeader(t, r, "X-After-Continue", "2")
			}},
		{"a callout reset before its headers is the router's 503",
			"source/common/router/router.cc Filter::onUpstreamReset; source/common/http/async_client_impl.cc",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/reset-before|2000")
				k.expectHeader(t, r, "X-Callout-Status", "503")
			}},
		{"a callout reset after its headers calls back with no headers",
			"source/common/http/async_client_impl.cc AsyncRequestSharedImpl::onReset; context.cc Context::onHttpCallFailure",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/reset-after|2000")
				k.expectHeader(t, r, "X-Callout-Status", "none")
			}},
		{"a refused callout is the router's 503",
			"source/common/router/router.cc Filter::onUpstreamReset (connection failure)",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterRefused+"|/x|2000")
				k.expectHeader(t, r, "X-Callout-Status", "503")
			}},
		{"callout response maps are read-only",
			"source/extensions/common/wasm/context.cc Context::getMap (no HttpCallResponse case)",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/ok|2000,callout-write")
				k.expectHeader(t, r, "X-Callout-Write", "add=2 replace=2 remove=2")
			}},
		{"the response streams while the upstream writes",
			"source/common/http/http1/codec_impl.cc ClientConnectionImpl::onHeadersComplete, onBody",
			func(t *testing.T, k *Kit) {
				key := k.key()
				release := k.gate(key)
				resp := k.send(t, "GET", "slow/"+key, "")
				defer resp.Body.Close()
				if resp.Header.Get("X-Plugin-Saw-Status") != "200" {
					t.Fatalf("headers %v", resp.Header)
				}
				first, err := bufio.NewReader(resp.Body).ReadString(';')
				if err != nil || first != "first;" {
					t.Fatalf("first chunk %q %v", first, err)
				}
				if _, done := k.finished.Load(key); done {
					t.Fatal("the first chunk reached the client only after the upstream finished")
				}
				close(release)
			}},
		{"an upstream that stops mid-body resets the stream",
			"source/common/router/router.cc Filter::onUpstreamReset after the response started",
			func(t *testing.T, k *Kit) {
				resp := k.send(t, "GET", "short", "")
				defer resp.Body.Close()
				if _, err := io.ReadAll(resp.Body); err == nil {
					t.Fatal("the client read a whole body from a broken upstream")
				}
			}},
		{"1xx responses never reach the plugin",
			"source/extensions/common/wasm/context.cc Context::encode1xxHeaders",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "early-hints", "")
				if r.code != 200 || r.body != "final" {
					t.Fatalf("got %d %q", r.code, r.body)
				}
				k.expectHeader(t, r, "X-Plugin-Saw-Status", "200")
			}},
		{"the buffered body is readable in the trailers callback",
			"source/extensions/common/wasm/context.cc Context::getBuffer (buffering_response_body_)",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "trailers", "", "x-do", "pause-resp-body,body-in-trailers")
				if r.body != "hello[trailers saw 5/0]" || r.trailer.Get("X-Checksum") != "abc" {
					t.Fatalf("got %d %q trailers %v", r.code, r.body, r.trailer)
				}
			}},
		{"trailers can be added in the last body callback",
			"source/extensions/common/wasm/context.cc Context::getMap (addEncodedTrailers)",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "add-trailers")
				if !strings.HasSuffix(r.body, "[resp-trailer 0]") || r.trailer.Get("X-Resp-Added") != "1" {
					t.Fatalf("got %q trailers %v", r.body, r.trailer)
				}
			}},
		{"set_buffer_bytes writes only at 0 or at the end",
			"source/extensions/common/wasm/context.cc Buffer::copyFrom",
			func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "hello", "", "x-do", "splice")
				if r.body != "Jllo![splice 2 0 0]" {
					t.Fatalf("body %q", r.body)
				}
			}},
		{"send_local_response keeps the status code",
			"source/extensions/common/wasm/context.cc Context::sendLocalResponse (static_cast<Http::Code>(response_code))",
			func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", "send-local:600|teapot|-1"); r.code != 600 {
					t.Fatalf("got %d", r.code)
				}
			}},
		{"set_property in a root context is NOT_FOUND",
			"source/extensions/common/wasm/context.cc Context::setProperty",
			func(t *testing.T, k *Kit) { k.expectShared(t, "root-setprop", "1") }},
	}
}

// upstream serves the cases' upstream behaviours, by path.
func (k *Kit) upstream(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	switch p := strings.TrimPrefix(r.URL.Path, "/"); {
	case strings.HasPrefix(p, "slow/"):
		w.Write([]byte("first;"))
		w.(http.Flusher).Flush()
		key := strings.TrimPrefix(p, "slow/")
		select {
		case <-k.gate(key):
		case <-time.After(5 * time.Second):
		}
		k.finished.Store(key, true)
		w.Write([]byte("second"))
	case p == "short":
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only part"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case p == "early-hints":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Write([]byte("final"))
	case p == "trailers":
		w.Header().Set("Trailer", "X-Checksum")
		w.Write([]byte("hello"))
		w.Header().Set("X-Checksum", "abc")
	case p == "hello":
		w.(http.Flusher).Flush() // chunked: the guest changes the body's length
		w.Write([]byte("hello"))
	default: // "echo", or "chunked": without a length, as the guest may change the body's
		for name, vs := range r.Header {
			if strings.HasPrefix(name, "X-Callout-") {
				w.Header()[name] = vs
			}
		}
		if p == "chunked" {
			w.(http.Flusher).Flush()
		}
		fmt.Fprintf(w, "upstream %s body=%s", r.Method, body)
	}
}

// backend is the callout cluster.
func backend(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/reset-before":
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	case "/reset-after":
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	default:
		w.Write([]byte("ok"))
	}
}

// gate returns the release channel of one slow upstream call.
func (k *Kit) gate(key string) chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.release[key]
	if !ok {
		c = make(chan struct{})
		k.release[key] = c
	}
	return c
}

func (k *Kit) key() string { return fmt.Sprintf("k%d-%d", time.Now().UnixNano(), k.seq.Add(1)) }

// response is what the client got, body read in full.
type response struct {
	code    int
	header  http.Header
	trailer http.Header
	body    string
}

func (k *Kit) send(t *testing.T, method, path, body string, hdr ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, k.Front+"/"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := k.client.Do(req)
	if err != nil {
		t.Fatalf("%s /%s: %v", method, path, err)
	}
	return resp
}

func (k *Kit) do(t *testing.T, method, path, body string, hdr ...string) response {
	t.Helper()
	resp := k.send(t, method, path, body, hdr...)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s /%s: read: %v", method, path, err)
	}
	return response{resp.StatusCode, resp.Header, resp.Trailer, string(b)}
}

func (k *Kit) expectHeader(t *testing.T, r response, name, want string) {
	t.Helper()
	if got := r.header.Get(name); got != want {
		t.Fatalf("%s: got %q, want %q (status %d, body %q)", name, got, want, r.code, r.body)
	}
}

// expectShared reads a shared-data value the guest wrote, through a later
// request, waiting briefly: on_log and on_done run after the response.
func (k *Kit) expectShared(t *testing.T, key, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = k.do(t, "GET", "echo", "", "x-do", "get-shared:"+key).header.Get("X-Shared")
		if got == want+"/0" {
			return
		}
	}
	t.Fatalf("shared data %s: got %q, want %q", key, got, want+"/0")
}
