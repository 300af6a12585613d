// Package bench measures what the plugin costs a pass-through request in the
// wazero host (issue 2 acceptance): the host alone, the host with floor.wat
// (a guest with no language runtime making the same host calls as the
// plugin: the floor any guest pays), and the host with the compiled plugin
// and the empty configuration. The ratios to the host alone are reported as
// the x-no-plugin metric, the plugin's ratio to the floor as x-floor.
//
//	go test -run '^$' -bench . -benchmem ./e2e/bench/
//
// The floor needs wat2wasm (Debian's wabt); without it that sub-benchmark is
// skipped with a message.
package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// logLevel is Envoy's default: guest lines at info and above are emitted.
const logLevel = wasmhost.LogInfo

// upstream answers at once, so the measurements are the host and the guest.
var upstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"ok":true}`))
})

// passThroughRequest is a typical API call that no policy of the empty
// configuration acts on. The host adds x-request-id and x-forwarded-proto,
// as Envoy's connection manager does before the filters run.
func passThroughRequest() *http.Request {
	req := httptest.NewRequest("GET", "/api/orders/42?expand=items", nil)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "bench/1.0")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	return req
}

// discardWriter is a reusable ResponseWriter, so the benchmark measures the
// host and the guest, not a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header  { return d.h }
func (d *discardWriter) WriteHeader(code int) { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	return len(b), nil
}

func serveOnce(tb testing.TB, h http.Handler, w *discardWriter, req *http.Request) {
	clear(w.h)
	w.code = 0
	h.ServeHTTP(w, req)
	if w.code != http.StatusOK {
		tb.Fatalf("pass-through request answered %d", w.code)
	}
}

// nsPerOp remembers each sub-benchmark's last result, for the ratios.
var (
	nsMu    sync.Mutex
	nsPerOp = map[string]float64{}
)

// measure runs h in a b.Loop, records ns/op under name and reports the
// ratios to the benchmarks named in against that have run. Metrics are
// reported after it: b.ResetTimer drops those reported before.
func measure(b *testing.B, name string, h http.Handler, against ...string) {
	req := passThroughRequest()
	w := &discardWriter{h: http.Header{}}
	serveOnce(b, h, w, req) // warm: first-request allocations stay out
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		serveOnce(b, h, w, req)
		n++
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(n)
	nsMu.Lock()
	defer nsMu.Unlock()
	nsPerOp[name] = ns
	for _, base := range against {
		if ref, ok := nsPerOp[base]; ok && ref > 0 {
			b.ReportMetric(ns/ref, "x-"+base)
		}
	}
}

// BenchmarkPassThrough is the acceptance figure of issue 2: one GET through
// the host with no plugin, through the floor guest, and through apiguard
// with the empty configuration. hostcalls/op counts the guest's host calls
// per request (measured on a separate, instrumented module).
func BenchmarkPassThrough(b *testing.B) {
	b.Run("no-plugin", func(b *testing.B) { measure(b, "no-plugin", upstream) })
	b.Run("floor", func(b *testing.B) {
		wasm := floorWasm(b)
		p := startPlugin(b, func(o wasmhost.Options) (*wasmhost.Module, error) {
			return wasmhost.Compile(context.Background(), wasm, o)
		}, "floor", nil)
		calls := hostCalls(b, "floor")
		measure(b, "floor", p.Middleware(upstream), "no-plugin")
		b.ReportMetric(float64(calls.total()), "hostcalls/op")
	})
	b.Run("apiguard", func(b *testing.B) {
		p := startPlugin(b, e2eutil.Compile, "apiguard", []byte(`{}`))
		calls := hostCalls(b, "apiguard")
		modMu.Lock()
		floor, ok := countedCalls["floor"]
		modMu.Unlock()
		if ok && floor.signature() != calls.signature() {
			b.Logf("floor.wat no longer makes the plugin's host calls: update it\nfloor:    %s\napiguard: %s",
				floor.signature(), calls.signature())
		}
		measure(b, "apiguard", p.Middleware(upstream), "no-plugin", "floor")
		b.ReportMetric(float64(calls.total()), "hostcalls/op")
	})
}

// BenchmarkStartVM is the cost of starting the plugin's VMs, compile
// excluded: Start with one worker runs two VMs (Envoy's configuration
// canary, then the worker), each instantiating the module and running
// _initialize, context_create, vm_start and configure with `{}`. ns/vm is
// the cost of one of them.
func BenchmarkStartVM(b *testing.B) {
	m := compiled(b, e2eutil.Compile, "apiguard", wasmhost.Options{LogLevel: logLevel})
	cfg := wasmhost.PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(`{}`), Workers: 1}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p, err := m.Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/2, "ns/vm")
}

// TestPassThroughHostCalls lists, per guest, the host calls of one
// pass-through request with the time spent in the host, and the time in each
// guest callback (run with -v); it checks the request passes through.
func TestPassThroughHostCalls(t *testing.T) {
	guests := []string{"apiguard"}
	if _, err := exec.LookPath("wat2wasm"); err == nil {
		guests = append(guests, "floor")
	}
	for _, g := range guests {
		c := hostCalls(t, g)
		t.Logf("%s: %d host calls per pass-through request\n%s", g, c.total(), c.table())
	}
}

// TestGoFloorMakesFloorCalls: the Go floor guests make exactly floor.wat's
// host calls on a pass-through request, so their ratio to it is what Go
// costs and nothing else.
func TestGoFloorMakesFloorCalls(t *testing.T) {
	floor := hostCalls(t, "floor")
	for _, g := range []string{"gofloor", "bare"} {
		c := hostCalls(t, g)
		if c.signature() != floor.signature() {
			t.Errorf("%s makes other host calls than floor.wat:\n%s: %s\nfloor:   %s", g, g, c.signature(), floor.signature())
		}
		t.Logf("%s: %d host calls per pass-through request\n%s", g, c.total(), c.table())
	}
}

type compileFunc func(wasmhost.Options) (*wasmhost.Module, error)

// modules caches compiled modules by name and instrumentation, for the
// whole test binary.
var (
	modMu   sync.Mutex
	modules = map[string]*wasmhost.Module{}
	// memCache shares machine code between the plain and the instrumented
	// floor module.
	memCache = wazero.NewCompilationCache()
)

func compiled(tb testing.TB, compile compileFunc, key string, opts wasmhost.Options) *wasmhost.Module {
	tb.Helper()
	modMu.Lock()
	defer modMu.Unlock()
	if opts.ProfileHook != nil {
		key += "+hook"
	}
	if m, ok := modules[key]; ok {
		return m
	}
	if opts.CompilationCache == nil && !strings.HasPrefix(key, "apiguard") {
		opts.CompilationCache = memCache
	}
	m, err := compile(opts)
	if err != nil {
		tb.Fatal(err)
	}
	modules[key] = m
	return m
}

func startPlugin(tb testing.TB, compile compileFunc, name string, config []byte) *wasmhost.Plugin {
	tb.Helper()
	m := compiled(tb, compile, name, wasmhost.Options{LogLevel: logLevel})
	p, err := m.Start(context.Background(), wasmhost.PluginConfig{Name: name, RootID: name, VMID: name,
		Configuration: config, Workers: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// goFloorPackages are the Go floor guests (package gofloor): with the SDK,
// as the plugin is built, and bare, with no SDK.
var goFloorPackages = map[string]string{"gofloor": "./e2e/bench/gofloor", "bare": "./e2e/bench/gofloor/bare"}

// goFloorWasm builds a Go floor guest ("gofloor" or "bare") as the plugin is
// built, once per test binary, and returns its path.
func goFloorWasm(tb testing.TB, guest string) string {
	tb.Helper()
	return wasmbuild.ForTest(tb, goFloorPackages[guest])
}

// compileGoFloor returns a compile function for a Go floor guest.
func compileGoFloor(tb testing.TB, guest string) compileFunc {
	wasm, err := os.ReadFile(goFloorWasm(tb, guest))
	if err != nil {
		tb.Fatal(err)
	}
	return func(o wasmhost.Options) (*wasmhost.Module, error) {
		return wasmhost.Compile(context.Background(), wasm, o)
	}
}

// floorWasm assembles floor.wat once per test binary.
var floorWasm = func() func(testing.TB) []byte {
	var (
		once sync.Once
		code []byte
		err  error
	)
	return func(tb testing.TB) []byte {
		tb.Helper()
		if _, lookErr := exec.LookPath("wat2wasm"); lookErr != nil {
			tb.Skip("wat2wasm is not installed (Debian package wabt; `make bench` installs it)")
		}
		once.Do(func() {
			out := filepath.Join(tb.TempDir(), "floor.wasm")
			msg, runErr := exec.Command("wat2wasm", "floor.wat", "-o", out).CombinedOutput()
			if runErr != nil {
				err = fmt.Errorf("wat2wasm floor.wat: %v\n%s", runErr, msg)
				return
			}
			code, err = os.ReadFile(out)
		})
		if err != nil {
			tb.Fatal(err)
		}
		return code
	}
}()

// callCount is the calls of one request across the boundary: host calls
// (count and host time per name) and guest callbacks (time per name).
type callCount struct {
	n     map[string]int
	d     map[string]time.Duration
	guest map[string]time.Duration
}

func (c callCount) total() int {
	t := 0
	for _, n := range c.n {
		t += n
	}
	return t
}

func (c callCount) names() []string {
	names := make([]string, 0, len(c.n))
	for k := range c.n {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// signature is the multiset of calls, "name x count" sorted by name.
func (c callCount) signature() string {
	var parts []string
	for _, k := range c.names() {
		parts = append(parts, fmt.Sprintf("%s x%d", k, c.n[k]))
	}
	return strings.Join(parts, ", ")
}

func (c callCount) table() string {
	var sb strings.Builder
	perRequest := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / requestsCounted }
	var hostTotal, guestTotal time.Duration
	for _, k := range c.names() {
		fmt.Fprintf(&sb, "  host call  %-36s %3d  %8.2f µs\n", k, c.n[k], perRequest(c.d[k]))
		hostTotal += c.d[k]
	}
	var callbacks []string
	for k, d := range c.guest {
		callbacks = append(callbacks, k)
		guestTotal += d
	}
	sort.Strings(callbacks)
	for _, k := range callbacks {
		fmt.Fprintf(&sb, "  callback   %-36s      %8.2f µs\n", k, perRequest(c.guest[k]))
	}
	fmt.Fprintf(&sb, "  in the guest, host calls excluded: %.2f µs; in host calls: %.2f µs\n",
		perRequest(guestTotal-hostTotal), perRequest(hostTotal))
	return sb.String()
}

// callRecorder collects what Options.ProfileHook reports while it is on.
// The instrumented modules are cached for the test binary, so their hook
// is this one recorder.
type callRecorder struct {
	mu sync.Mutex
	on bool
	c  callCount
}

var recorder callRecorder

func (r *callRecorder) hook(name string, guest bool, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !r.on:
	case guest:
		r.c.guest[name] += d
	default:
		r.c.n[name]++
		r.c.d[name] += d
	}
}

func (r *callRecorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = true
	r.c = callCount{n: map[string]int{}, d: map[string]time.Duration{}, guest: map[string]time.Duration{}}
}

func (r *callRecorder) stop() callCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.c
}

// requestsCounted is how many requests hostCalls averages over.
const requestsCounted = 20

// countedCalls keeps the last count per guest, for the floor comparison.
var countedCalls = map[string]callCount{}

// hostCalls runs requests through an instrumented copy of the guest and
// returns the average host calls of one pass-through request (counts are
// exact: the same every request; durations are averaged).
func hostCalls(tb testing.TB, guest string) callCount {
	tb.Helper()
	opts := wasmhost.Options{LogLevel: logLevel, ProfileHook: recorder.hook}
	var m *wasmhost.Module
	var config []byte
	switch guest {
	case "floor":
		wasm := floorWasm(tb)
		m = compiled(tb, func(o wasmhost.Options) (*wasmhost.Module, error) {
			return wasmhost.Compile(context.Background(), wasm, o)
		}, guest, opts)
	case "gofloor", "bare":
		m = compiled(tb, compileGoFloor(tb, guest), guest, opts)
	default:
		m = compiled(tb, e2eutil.Compile, guest, opts)
		config = []byte(`{}`)
	}
	c := recordCalls(tb, m, wasmhost.PluginConfig{Name: guest, RootID: guest, VMID: guest,
		Configuration: config, Workers: 1}, upstream, passThroughRequest())
	modMu.Lock()
	countedCalls[guest] = c
	modMu.Unlock()
	return c
}

// recordCalls starts m with pc and returns the average calls of one request
// req answered by up, on a module compiled with recorder.hook.
func recordCalls(tb testing.TB, m *wasmhost.Module, pc wasmhost.PluginConfig, up http.Handler, req *http.Request) callCount {
	tb.Helper()
	p, err := m.Start(context.Background(), pc)
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Close()
	h := p.Middleware(up)
	w := &discardWriter{h: http.Header{}}
	serveOnce(tb, h, w, req)
	recorder.start()
	for range requestsCounted {
		serveOnce(tb, h, w, req)
	}
	c := recorder.stop()
	for k := range c.n {
		c.n[k] /= requestsCounted
	}
	return c
}
