package wasmhost

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// Test guests are built once per test binary with the standard Go
// compiler, exactly as the plugin is.

var (
	guestDir   string
	guestMu    sync.Mutex
	guestBuilt = map[string][]byte{}
	guestErr   = map[string]error{}
	cache      wazero.CompilationCache
)

// newCompilationCache keeps compiled machine code on disk across test runs
// (keyed by module hash and wazero version), in memory if that fails.
func newCompilationCache() wazero.CompilationCache {
	if c, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "wasmhost-wazero-cache")); err == nil {
		return c
	}
	return wazero.NewCompilationCache()
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-guests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestDir = dir
	cache = newCompilationCache()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guest returns the bytes of testdata/guests/<name>, building it if needed
// with the stock Go runtime.
func guest(tb testing.TB, name string) []byte {
	tb.Helper()
	return buildGuest(tb, name, false)
}

// patchedGuest is guest built with the Go runtime patches the plugin ships
// with (internal/sdkabi/wasmbuild), which let it run on Envoy 1.33+.
func patchedGuest(tb testing.TB, name string) []byte {
	tb.Helper()
	return buildGuest(tb, name, true)
}

func buildGuest(tb testing.TB, name string, patched bool) []byte {
	tb.Helper()
	guestMu.Lock()
	defer guestMu.Unlock()
	key := name
	args := []string{"build", "-buildmode=c-shared"}
	if patched {
		key += "-patched"
		overlay, err := wasmbuild.GoOverlay(filepath.Join(guestDir, "goroot"))
		if err != nil {
			tb.Fatal(err)
		}
		args = append(args, "-overlay="+overlay)
	}
	if b, ok := guestBuilt[key]; ok {
		return b
	}
	if err, ok := guestErr[key]; ok {
		tb.Fatal(err)
	}
	out := filepath.Join(guestDir, key+".wasm")
	cmd := exec.Command("go", append(args, "-o", out, "./testdata/guests/"+name)...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		guestErr[key] = fmt.Errorf("build guest %s: %v\n%s", key, err, msg)
		tb.Fatal(guestErr[key])
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	guestBuilt[key] = b
	return b
}

func compileGuest(tb testing.TB, name string, opts Options) *Module {
	tb.Helper()
	return compileBytes(tb, guest(tb, name), opts)
}

func compileBytes(tb testing.TB, wasm []byte, opts Options) *Module {
	tb.Helper()
	opts.CompilationCache = cache
	m, err := Compile(context.Background(), wasm, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func conformanceConfig(config string) PluginConfig {
	return PluginConfig{Name: "conformance", RootID: "conformance", VMID: "conformance",
		Configuration: []byte(config), Workers: 1}
}

// startConformance starts the conformance guest with cfg.
func startConformance(tb testing.TB, opts Options, cfg PluginConfig) *Plugin {
	tb.Helper()
	m := compileGuest(tb, "conformance", opts)
	p, err := m.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// echoUpstream answers 200 with a body naming the request, and echoes the
// x-callout-* and x-guest-* request headers back as response headers.
var echoUpstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	for k, vs := range r.Header {
		if strings.HasPrefix(k, "X-Callout-") || strings.HasPrefix(k, "X-Guest-") {
			w.Header()[k] = vs
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "upstream %s %s body=%s", r.Method, r.URL.Path, body)
})

type result struct {
	code   int
	header http.Header
	body   string
}

// do sends one request through the plugin in front of upstream.
func do(tb testing.TB, p *Plugin, upstream http.Handler, method, path, body string, hdr ...string) result {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	p.Middleware(upstream).ServeHTTP(rec, req)
	return result{rec.Code, rec.Header(), rec.Body.String()}
}

// callbackTrace returns the guest's "cb <name>" lines for one context id.
func callbackTrace(p *Plugin, id string) []string {
	var out []string
	for _, m := range p.LogsAt(LogDebug) {
		if name, ok := strings.CutPrefix(m, "cb "); ok && strings.HasSuffix(name, " "+id) {
			out = append(out, strings.TrimSuffix(name, " "+id))
		}
	}
	return out
}

func hasLog(p *Plugin, level LogLevel, substr string) bool {
	for _, m := range p.LogsAt(level) {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// eventually polls cond for up to 5 s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
		runtime.Gosched()
	}
	tb.Fatalf("timed out waiting for %s", what)
}
