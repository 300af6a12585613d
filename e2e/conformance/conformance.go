// Package conformance is a conformance kit for Proxy-Wasm hosts: the
// conformance guest (internal/wasmhost/testdata/guests/conformance) and
// HTTP-level assertions on where a host may differ from Envoy, each naming
// the Envoy source it mirrors. It runs against any host that can put the
// guest in front of the kit's upstream: wasmhost (this package's test, part
// of make test), Node's V8 (e2e/v8) and a real Envoy (e2e/envoy, when envoy
// is on PATH).
//
// Every assertion is observable over HTTP or through the guest's shared
// data, read back by a later request, so no host-specific log access is
// needed.
//
// Cases come in two kinds. A runtime case is about the guest on its engine:
// the Go runtime (its GC, its scheduler idling in poll_oneoff), linear
// memory and its cap, traps, and the guest's side of the ABI (data crossing
// linear memory through return slots). It runs under every host. A host
// case is about the host's own behaviour (header-map lifetime, callouts,
// streaming, 1xx, trailers, buffer writes, local replies); it says
// something only about a host that implements Envoy's semantics, so a host
// that does not (Host.RuntimeOnly, e2e/v8's host.mjs) does not run it, and
// the test log gives the case's HostOnly reason.
package conformance

import (
	"bufio"
	"context"
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

// EnvoyMemoryCap is the most linear memory a VM gets in Envoy
// (proxy-wasm-cpp-host include/proxy-wasm/limits.h
// PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES, given to V8 as
// --wasm_max_mem_pages in src/v8/v8.cc).
const EnvoyMemoryCap = 1 << 30

// Host is a host the kit runs against.
type Host struct {
	// Start puts the guest (a .wasm path) with Config in front of
	// upstream, with clusters mapped to URLs and each VM's linear memory
	// capped at MemoryCap, and returns the URL clients send to. Run calls
	// it once for the cases that keep the VM alive and once more for each
	// case that kills it.
	Start func(t *testing.T, wasm, upstream string, clusters map[string]string) (front string)
	// Wasm is the guest to load; empty builds it (BuildGuest).
	Wasm string
	// MemoryCap is each VM's linear-memory cap in bytes: EnvoyMemoryCap in
	// Envoy, less where the host can lower it, so the cap is reached
	// quickly.
	MemoryCap int64
	// RuntimeOnly, when not empty, says why the host's own behaviour is
	// not Envoy's: only the runtime cases run, the host cases are skipped.
	RuntimeOnly string
}

// Case is one assertion.
type Case struct {
	Name   string
	Source string // the Envoy source the assertion mirrors
	// HostOnly is empty for a runtime case. For a host case, it says why
	// the case tests nothing but the host's own code when the host is not
	// Envoy's twin.
	HostOnly string
	// Fatal cases kill the VM, so each runs on a host of its own.
	Fatal bool
	// Tag, when set, builds the guest with that build tag, for imports not
	// every host provides; the case runs on a host of its own.
	Tag string
	Run func(t *testing.T, k *Kit)
}

// Why host cases are host-only.
const (
	hostMaps      = "header maps and buffers live in the host: their lifetime and write rules are the host's bookkeeping, which a runtime-only host does not model"
	hostCallouts  = "callouts go through the host's HTTP client and Envoy's router and async client, which a runtime-only host does not have"
	hostStreaming = "streaming, resets, 1xx and trailers are the host's HTTP codec and filter manager; a runtime-only host buffers whole messages"
	hostReplies   = "local replies, their details and gRPC mapping, and set_property's answer are the host's own code"
)

// Kit is what a case runs against: the host's front URL and the kit's
// servers.
type Kit struct {
	Front     string
	MemoryCap int64
	*servers
}

// servers is the state of the kit's upstream, shared by every case.
type servers struct {
	client *http.Client
	seq    atomic.Int64

	mu       sync.Mutex
	release  map[string]chan struct{}
	finished sync.Map // slow upstream calls that wrote their end
	flooded  sync.Map // flood upstream calls: key to *atomic.Int64
}

// BuildGuest compiles the conformance guest with the standard Go compiler.
// With patched, it carries the Go toolchain patches the plugin ships with
// (internal/sdkabi/wasmbuild), which let it run on Envoy 1.33. tags are
// build tags.
func BuildGuest(t testing.TB, patched bool, tags ...string) string {
	t.Helper()
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "conformance.wasm")
	args := []string{"build", "-buildmode=c-shared", "-o", out}
	if patched {
		overlay, err := wasmbuild.GoOverlay(filepath.Join(dir, "goroot"))
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "-overlay="+overlay)
	}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./internal/wasmhost/testdata/guests/conformance")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the conformance guest: %v\n%s", err, msg)
	}
	return out
}

// Run starts the kit's servers, the host, and every case.
func Run(t *testing.T, h Host) {
	k := &Kit{MemoryCap: h.MemoryCap, servers: &servers{client: &http.Client{Timeout: 90 * time.Second}, release: map[string]chan struct{}{}}}
	if k.MemoryCap == 0 {
		k.MemoryCap = EnvoyMemoryCap
	}
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
	wasm := h.Wasm
	if wasm == "" {
		wasm = BuildGuest(t, false)
	}
	clusters := map[string]string{ClusterBackend: backend.URL, ClusterRefused: refused}
	if h.RuntimeOnly != "" {
		t.Logf("a runtime-only host: %s", h.RuntimeOnly)
	}
	front := h.Start(t, wasm, upstream.URL, clusters) // for the cases that keep the VM
	for _, c := range Cases() {
		if c.HostOnly != "" && h.RuntimeOnly != "" {
			// Not a skip: nothing is missing, the case does not apply.
			t.Logf("host case, not run here: %s: %s", c.Name, c.HostOnly)
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Logf("mirrors %s", c.Source)
			run := *k
			if c.Tag != "" {
				run.Front = h.Start(t, BuildGuest(t, false, c.Tag), upstream.URL, clusters)
			} else if c.Fatal {
				run.Front = h.Start(t, wasm, upstream.URL, clusters)
			} else {
				run.Front = front
			}
			c.Run(t, &run)
		})
	}
}

// runtimeCases are about the guest on its engine; they run under every host.
func runtimeCases() []Case {
	return []Case{
		{Name: "the Go runtime collects garbage inside a callback",
			Source: "proxy-wasm-cpp-host src/exports.cc wasi_unstable_clock_time_get, wasi_unstable_poll_oneoff (the Go runtime's GC and scheduler)",
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", "gc"); r.code != 200 || r.body != "upstream GET body=" {
					t.Fatalf("got %d %q", r.code, r.body)
				}
			}},
		{Name: "a callback that sleeps idles in poll_oneoff and returns",
			Source: "proxy-wasm-cpp-host src/exports.cc wasi_unstable_poll_oneoff (cpp-host #533; ENOSYS before it, golang/go#78513)",
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", "gc,idle"); r.code != 200 || r.body != "upstream GET body=" {
					t.Fatalf("got %d %q", r.code, r.body)
				}
			}},
		{Name: "linear memory grows below the cap",
			Source: "proxy-wasm-cpp-host include/proxy-wasm/limits.h, src/v8/v8.cc (--wasm_max_mem_pages)",
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", fmt.Sprintf("touch:%d", k.MemoryCap>>22)); r.code != 200 {
					t.Fatalf("growing by a quarter of the cap: %d %q", r.code, r.body)
				}
			}},
		{Name: "guest data crosses linear memory through the ABI",
			Source: "proxy-wasm-cpp-host src/exports.cc get_header_map_pairs, add_header_map_value, get_shared_data, set_shared_data (return slots, one allocation per call)",
			Run: func(t *testing.T, k *Kit) {
				key := k.key()
				for i := 0; i < 3; i++ {
					r := k.do(t, "GET", "echo", "", "x-do", "echo-headers,cas:cas-"+key, "x-kit-"+strings.Repeat("h", 300), strings.Repeat("v", 5000))
					for _, name := range []string{":method", ":path", "x-do", "x-kit-" + strings.Repeat("h", 300)} {
						if !strings.Contains(" "+r.header.Get("X-Guest-Saw")+" ", " "+name+" ") {
							t.Fatalf("the guest did not see %s: %q", name, r.header.Get("X-Guest-Saw"))
						}
					}
				}
				k.expectShared(t, "cas-"+key, "3")
			}},
		{Name: "a guest panic fails its stream and its VM",
			Source: "source/extensions/common/wasm/context.cc Context::failStream (503 wasm_fail_stream); proxy-wasm-cpp-host src/exports.cc wasi_unstable_proc_exit",
			Fatal:  true,
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", "panic"); r.code != 503 {
					t.Fatalf("the panicking request got %d %q", r.code, r.body)
				}
				if r := k.do(t, "GET", "echo", ""); r.code != 503 {
					t.Fatalf("a request after the trap got %d %q, want 503 (fail closed)", r.code, r.body)
				}
			}},
		{Name: "a VM past its memory cap fails",
			Source: "proxy-wasm-cpp-host include/proxy-wasm/limits.h, src/v8/v8.cc (--wasm_max_mem_pages); source/extensions/common/wasm/context.cc Context::failStream",
			Fatal:  true,
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", fmt.Sprintf("grow:%d", k.MemoryCap>>20+64)); r.code != 503 {
					t.Fatalf("growing past the cap: %d %q", r.code, r.body)
				}
				if r := k.do(t, "GET", "echo", ""); r.code != 503 {
					t.Fatalf("a request after the VM died got %d %q, want 503 (fail closed)", r.code, r.body)
				}
			}},
	}
}

// Cases are the kit's assertions: the runtime cases, then the host cases.
func Cases() []Case { return append(runtimeCases(), hostCases()...) }

// hostCases are about the host's own behaviour.
func hostCases() []Case {
	return []Case{
		{Name: "request headers are released when on_request_headers continues",
			Source:   "source/extensions/common/wasm/context.cc Context::decodeHeaders, getMap, getHeaderMapValue, getHeaderMapPairs, getBuffer",
			HostOnly: hostMaps,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "POST", "chunked", "request-body", "x-do", "late")
				// BAD_ARGUMENT (2) for a read or a write, OK (0) with no
				// pairs for the whole map, an empty read-only body.
				k.expectHeader(t, r, "X-Late-Req", "get=2 pairs=0/0 add=2 body=0/0 set-body=2")
			}},
		{Name: "response headers are released when on_response_headers continues",
			Source:   "source/extensions/common/wasm/context.cc Context::encodeHeaders, getMap",
			HostOnly: hostMaps,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "late")
				if !strings.HasSuffix(r.body, "[late-resp get=2 replace=2]") {
					t.Fatalf("body %q", r.body)
				}
			}},
		{Name: "on_log reads the access-log copies, on_done no map",
			Source:   "source/extensions/common/wasm/context.cc Context::log, getConstMap, onDestroy",
			HostOnly: hostMaps,
			Run: func(t *testing.T, k *Kit) {
				key := k.key()
				k.do(t, "GET", "chunked", "", "x-do", "late:"+key)
				k.expectShared(t, "late-log-"+key, "req=late:"+key+"/0 status=200/0 req-trailers=1")
				k.expectShared(t, "late-done-"+key, "req=2 pairs=0/0")
			}},
		{Name: "continue_stream releases the request headers at once",
			Source:   "source/extensions/common/wasm/context.cc Context::continueStream",
			HostOnly: hostMaps,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "callout:"+ClusterBackend+"|/ok|2000,late")
				k.expectHeader(t, r, "X-Callout-Status", "200")
				k.expectHeader(t, r, "X-After-Continue", "2")
			}},
		{Name: "a callout reset before its headers is the router's 503",
			Source:   "source/common/router/router.cc Filter::onUpstreamReset; source/common/http/async_client_impl.cc",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/reset-before|2000")
				k.expectHeader(t, r, "X-Callout-Status", "503")
			}},
		{Name: "a callout reset after its headers calls back with no headers",
			Source:   "source/common/http/async_client_impl.cc AsyncRequestSharedImpl::onReset; context.cc Context::onHttpCallFailure",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/reset-after|2000")
				k.expectHeader(t, r, "X-Callout-Status", "none")
			}},
		{Name: "a refused callout is the router's 503",
			Source:   "source/common/router/router.cc Filter::onUpstreamReset (connection failure)",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterRefused+"|/x|2000")
				k.expectHeader(t, r, "X-Callout-Status", "503")
			}},
		{Name: "a callout past its timeout is the router's 504",
			Source:   "source/common/http/async_client_impl.cc AsyncStreamImpl (the router's timeout); source/common/router/router.cc Filter::onResponseTimeout",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/slow|200")
				k.expectHeader(t, r, "X-Callout-Status", "504")
			}},
		{Name: "a callout body over 32 MiB calls back with no headers",
			Source:   "source/common/http/async_client_impl.cc AsyncRequestSharedImpl (kBufferLimitForResponse); context.cc Context::onHttpCallFailure",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/big|10000")
				k.expectHeader(t, r, "X-Callout-Status", "none")
				r = k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/at-limit|10000")
				k.expectHeader(t, r, "X-Callout-Status", "200")
			}},
		{Name: "callout response maps are read-only",
			Source:   "source/extensions/common/wasm/context.cc Context::getMap (no HttpCallResponse case)",
			HostOnly: hostCallouts,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "echo", "", "x-do", "callout:"+ClusterBackend+"|/ok|2000,callout-write")
				k.expectHeader(t, r, "X-Callout-Write", "add=2 replace=2 remove=2")
			}},
		{Name: "the response streams while the upstream writes",
			Source:   "source/common/http/http1/codec_impl.cc ClientConnectionImpl::onHeadersComplete, onBody",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
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
		{Name: "a held response holds the upstream back at the buffer limit",
			Source:   "envoy/http/filter.h StopAllIterationAndWatermark; source/common/http/filter_manager.cc (encoder buffer watermarks, onEncoderFilterAboveWriteBufferHighWatermark)",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
				key := k.key()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, "GET", k.Front+"/flood/"+key, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("x-do", "pause-resp")
				go func() {
					if resp, err := k.client.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
				// Wait until the upstream has stopped writing for half a
				// second: held back, or done.
				n, last, still := k.flood(key), int64(-1), 0
				for deadline := time.Now().Add(10 * time.Second); still < 5 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if cur := n.Load(); cur > 0 && cur == last {
						still++
					} else {
						last, still = cur, 0
					}
				}
				// Envoy's buffer limit is 1 MiB; socket buffers hold a few more.
				t.Logf("the upstream wrote %d bytes", last)
				if last <= 0 || last >= floodBytes/4 {
					t.Fatalf("the upstream wrote %d of %d bytes while the filter held the response", last, floodBytes)
				}
			}},
		{Name: "an upstream that stops mid-body resets the stream",
			Source:   "source/common/router/router.cc Filter::onUpstreamReset after the response started",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
				resp := k.send(t, "GET", "short", "")
				defer resp.Body.Close()
				if _, err := io.ReadAll(resp.Body); err == nil {
					t.Fatal("the client read a whole body from a broken upstream")
				}
			}},
		{Name: "1xx responses never reach the plugin",
			Source:   "source/extensions/common/wasm/context.cc Context::encode1xxHeaders",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "early-hints", "")
				if r.code != 200 || r.body != "final" {
					t.Fatalf("got %d %q", r.code, r.body)
				}
				k.expectHeader(t, r, "X-Plugin-Saw-Status", "200")
			}},
		{Name: "the buffered body is readable in the trailers callback",
			Source:   "source/extensions/common/wasm/context.cc Context::getBuffer (buffering_response_body_)",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "trailers", "", "x-do", "pause-resp-body,body-in-trailers")
				if r.body != "hello[trailers saw 5/0]" || r.trailer.Get("X-Checksum") != "abc" {
					t.Fatalf("got %d %q trailers %v", r.code, r.body, r.trailer)
				}
			}},
		{Name: "trailers can be added in the last body callback",
			Source:   "source/extensions/common/wasm/context.cc Context::getMap (addEncodedTrailers)",
			HostOnly: hostStreaming,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "chunked", "", "x-do", "add-trailers")
				if !strings.HasSuffix(r.body, "[resp-trailer 0]") || r.trailer.Get("X-Resp-Added") != "1" {
					t.Fatalf("got %q trailers %v", r.body, r.trailer)
				}
			}},
		{Name: "set_buffer_bytes writes only at 0 or at the end",
			Source:   "source/extensions/common/wasm/context.cc Buffer::copyFrom",
			HostOnly: hostMaps,
			Run: func(t *testing.T, k *Kit) {
				r := k.do(t, "GET", "hello", "", "x-do", "splice")
				if r.body != "Jllo![splice 2 0 0]" {
					t.Fatalf("body %q", r.body)
				}
			}},
		{Name: "send_local_response keeps the status code",
			Source:   "source/extensions/common/wasm/context.cc Context::sendLocalResponse (static_cast<Http::Code>(response_code))",
			HostOnly: hostReplies,
			Run: func(t *testing.T, k *Kit) {
				if r := k.do(t, "GET", "echo", "", "x-do", "send-local:600|teapot|-1"); r.code != 600 {
					t.Fatalf("got %d", r.code)
				}
			}},
		{Name: "send_local_response replaces whitespace in its details",
			Source:   "source/extensions/common/wasm/context.cc Context::sendLocalResponse (StringUtil::replaceAllEmptySpace); response.code_details",
			HostOnly: hostReplies,
			Run: func(t *testing.T, k *Kit) {
				key := k.key()
				if r := k.do(t, "GET", "echo", "", "x-do", "send-local:403|bad\ttoken here|-1,log-details:"+key); r.code != 403 {
					t.Fatalf("got %d", r.code)
				}
				k.expectShared(t, "details-"+key, "bad_token_here/0")
			}},
		{Name: "send_local_response's grpc_status: given, or mapped from the status when -1",
			Source:   "source/extensions/common/wasm/context.cc Context::sendLocalResponse; source/common/http/utility.cc Utility::sendLocalReply, httpToGrpcStatus",
			HostOnly: hostReplies,
			Run: func(t *testing.T, k *Kit) {
				for do, want := range map[string]string{"deny-grpc:429/8": "8", "deny-grpc:403/-1": "7", "deny-grpc:401/-1": "16"} {
					r := k.do(t, "POST", "pkg.Service/Method", "", "content-type", "application/grpc", "x-do", do)
					if r.code != 200 || r.header.Get("Grpc-Status") != want {
						t.Errorf("%s: got %d grpc-status %q, want 200 and %s", do, r.code, r.header.Get("Grpc-Status"), want)
					}
				}
			}},
		{Name: "path_link and path_symlink link with cpp-host's signatures and answer ENOTSUP",
			Source:   "proxy-wasm-cpp-host src/exports.cc wasi_unstable_path_link (6 parameters), wasi_unstable_path_symlink (4)",
			HostOnly: "a runtime-only host's WASI functions are untyped JS: it links any signature",
			Tag:      "pathlink",
			Run: func(t *testing.T, k *Kit) {
				k.expectHeader(t, k.do(t, "GET", "echo", "", "x-do", "pathlink"), "X-Pathlink", "58 58")
			}},
		{Name: "set_property in a root context is NOT_FOUND",
			Source:   "source/extensions/common/wasm/context.cc Context::setProperty",
			HostOnly: hostReplies,
			Run:      func(t *testing.T, k *Kit) { k.expectShared(t, "root-setprop", "1") }},
	}
}

// upstream serves the cases' upstream behaviours, by path.
func (k *servers) upstream(w http.ResponseWriter, r *http.Request) {
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
	case strings.HasPrefix(p, "flood/"):
		w.Header().Set("Content-Length", fmt.Sprint(floodBytes))
		chunk := make([]byte, 64<<10)
		n := k.flood(strings.TrimPrefix(p, "flood/"))
		for n.Load() < floodBytes {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			n.Add(int64(len(chunk)))
		}
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
			if strings.HasPrefix(name, "X-Callout-") || strings.HasPrefix(name, "X-Guest-") {
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
	case "/slow":
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	case "/big", "/at-limit": // over and at Envoy's kBufferLimitForResponse
		n := 32 << 20
		if r.URL.Path == "/big" {
			n++
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		chunk := make([]byte, 1<<20)
		for ; n > 0; n -= len(chunk) {
			if n < len(chunk) {
				chunk = chunk[:n]
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	default:
		w.Write([]byte("ok"))
	}
}

// floodBytes is what a flood upstream call writes unless held back.
const floodBytes = 64 << 20

// flood returns the bytes one flood upstream call wrote.
func (k *servers) flood(key string) *atomic.Int64 {
	n, _ := k.flooded.LoadOrStore(key, new(atomic.Int64))
	return n.(*atomic.Int64)
}

// gate returns the release channel of one slow upstream call.
func (k *servers) gate(key string) chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.release[key]
	if !ok {
		c = make(chan struct{})
		k.release[key] = c
	}
	return c
}

func (k *servers) key() string { return fmt.Sprintf("k%d-%d", time.Now().UnixNano(), k.seq.Add(1)) }

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
