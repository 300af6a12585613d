package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// The request lifecycles of issue 12, under wazero here and under V8
// (BenchmarkV8Lifecycle); plugin's BenchmarkNativeLifecycle runs the demo
// ones natively. scripts/bench-table.sh turns the three into one table of
// ratios.

// demoInputs reads the demo configuration (rate limits out of reach) and
// mints a demo token.
func demoInputs(tb testing.TB) (config []byte, token string) {
	tb.Helper()
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	read := func(p string) []byte {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			tb.Fatal(err)
		}
		return data
	}
	if config, err = perfscenario.DemoConfig(read(perfscenario.DemoConfigPath)); err != nil {
		tb.Fatal(err)
	}
	if token, err = perfscenario.Token(read(perfscenario.DemoKeyPath), time.Now()); err != nil {
		tb.Fatal(err)
	}
	return config, token
}

// jsonUpstream answers every request with body as application/json.
func jsonUpstream(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}

func demoRequest(token string) *http.Request {
	req := httptest.NewRequest("GET", "https://api.example.com"+perfscenario.Path, nil)
	for _, h := range perfscenario.RequestHeaders(token) {
		if !strings.HasPrefix(h[0], ":") {
			req.Header.Set(h[0], h[1])
		}
	}
	return req
}

// BenchmarkLifecycle runs the lifecycles through the wazero host in
// rotating blocks of 20 requests (one block per iteration), so all of them
// see the same machine load, and times them in process CPU time:
// the floor guest and apiguard with `{}` on a pass-through request,
// apiguard with the demo config on the demo request with a 400-byte record
// (demo) and a 10 KiB one (chain10k), and the Go floor guests (package
// gofloor: floor.wat's calls from Go, with the SDK and bare) on the
// pass-through request. It reports each one's ns per request, x-floor (the
// pass-through's ratio to the floor) and gofloor-x-floor and bare-x-floor
// (the Go floors' ratios to it). ns/op is a block's wall time.
func BenchmarkLifecycle(b *testing.B) {
	floor := startPlugin(b, compileFloor(b), "floor", nil)
	gofloor := startPlugin(b, compileGoFloor(b, "gofloor"), "gofloor", nil)
	bare := startPlugin(b, compileGoFloor(b, "bare"), "bare", nil)
	pass := startPlugin(b, e2eutil.Compile, "apiguard", []byte(`{}`))
	config, token := demoInputs(b)
	// The demo config holds response headers (headers_mode "held"), as
	// Envoy 1.35+ allows with allow_on_headers_stop_iteration.
	m := compiled(b, e2eutil.Compile, "apiguard", wasmhost.Options{LogLevel: logLevel})
	demo, err := m.Start(context.Background(), wasmhost.PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: config, Workers: 1, AllowOnHeadersStopIteration: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { demo.Close() })
	type lifecycle struct {
		name string
		h    http.Handler
		req  *http.Request
		d    time.Duration
	}
	lcs := []*lifecycle{
		{name: "floor", h: floor.Middleware(upstream), req: passThroughRequest()},
		{name: "pass", h: pass.Middleware(upstream), req: passThroughRequest()},
		{name: "demo", h: demo.Middleware(jsonUpstream(perfscenario.Record(perfscenario.SmallRecord))), req: demoRequest(token)},
		{name: "chain10k", h: demo.Middleware(jsonUpstream(perfscenario.Record(perfscenario.LargeRecord))), req: demoRequest(token)},
		{name: "gofloor", h: gofloor.Middleware(upstream), req: passThroughRequest()},
		{name: "bare", h: bare.Middleware(upstream), req: passThroughRequest()},
	}
	w := &discardWriter{h: http.Header{}}
	for _, lc := range lcs {
		serveOnce(b, lc.h, w, lc.req) // warm; the demo token is verified once
	}
	// Blocks of requests of one lifecycle, rotating, each timed in process
	// CPU time: on a shared machine wall time also counts the time other
	// processes hold the CPU, CPU time much less.
	const block = 20
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		lc := lcs[n%len(lcs)]
		n++
		t0 := cpuTime()
		for range block {
			serveOnce(b, lc.h, w, lc.req)
		}
		lc.d += cpuTime() - t0
	}
	rounds := float64(n/len(lcs)) * block
	for _, lc := range lcs {
		b.ReportMetric(float64(lc.d.Nanoseconds())/rounds, lc.name+"-ns")
	}
	b.ReportMetric(float64(lcs[1].d)/float64(lcs[0].d), "x-floor")
	b.ReportMetric(float64(lcs[4].d)/float64(lcs[0].d), "gofloor-x-floor")
	b.ReportMetric(float64(lcs[5].d)/float64(lcs[0].d), "bare-x-floor")
}

// cpuTime is the process's CPU time, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDemoHostCalls lists the host calls and the time in each guest
// callback of the demo request and the 10 KiB chain (run with -v): where
// the time of a full request goes, phase by phase.
func TestDemoHostCalls(t *testing.T) {
	config, token := demoInputs(t)
	m := compiled(t, e2eutil.Compile, "apiguard", wasmhost.Options{LogLevel: logLevel, ProfileHook: recorder.hook})
	for _, size := range []int{perfscenario.SmallRecord, perfscenario.LargeRecord} {
		c := recordCalls(t, m, wasmhost.PluginConfig{Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
			Configuration: config, Workers: 1, AllowOnHeadersStopIteration: true},
			jsonUpstream(perfscenario.Record(size)), demoRequest(token))
		t.Logf("demo request, %d-byte record: %d host calls\n%s", size, c.total(), c.table())
	}
}

// compileFloor returns a compile function for floor.wat.
func compileFloor(b *testing.B) compileFunc {
	wasm := floorWasm(b)
	return func(o wasmhost.Options) (*wasmhost.Module, error) {
		return wasmhost.Compile(context.Background(), wasm, o)
	}
}

// v8Scenario is the input of e2e/v8/host.mjs (see its header).
type v8Scenario struct {
	Wasm            string      `json:"wasm"`
	PluginConfig    string      `json:"plugin_config"`
	PluginName      string      `json:"plugin_name"`
	RootID          string      `json:"root_id"`
	VMID            string      `json:"vm_id"`
	LogLevel        int         `json:"log_level"`
	BenchIterations int         `json:"bench_iterations"`
	Requests        []v8Request `json:"requests"`
}

type v8Request struct {
	Name     string      `json:"name"`
	Headers  [][2]string `json:"headers"`
	Response v8Response  `json:"response"`
}

type v8Response struct {
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// BenchmarkV8Lifecycle runs BenchmarkLifecycle's requests under V8 through
// e2e/v8/host.mjs (Node), one node process per lifecycle, each timing its
// requests inside the VM in process CPU time after a second of warm-up,
// with Liftoff off as in Envoy. The host answers
// without an upstream, so the figures are the guest plus a JavaScript
// host's calls. It reports each one's ns per request, x-floor and the Go floors'
// gofloor-x-floor and bare-x-floor.
func BenchmarkV8Lifecycle(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not on PATH (.ci/run installs it)")
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	floorPath := filepath.Join(dir, "floor.wasm")
	if err := os.WriteFile(floorPath, floorWasm(b), 0o600); err != nil {
		b.Fatal(err)
	}
	apiguard := wasmbuild.ForTest(b, "./plugin")
	config, token := demoInputs(b)
	pass := v8PassRequest()
	demo := func(size int) v8Request { return v8DemoRequest(token, size) }
	lcs := []struct {
		name  string
		sc    v8Scenario
		iters int
	}{
		{"floor", v8Scenario{Wasm: floorPath, PluginConfig: "", Requests: []v8Request{pass}}, 200000},
		{"pass", v8Scenario{Wasm: apiguard, PluginConfig: "{}", Requests: []v8Request{pass}}, 50000},
		{"gofloor", v8Scenario{Wasm: goFloorWasm(b, "gofloor"), PluginConfig: "", Requests: []v8Request{pass}}, 100000},
		{"bare", v8Scenario{Wasm: goFloorWasm(b, "bare"), PluginConfig: "", Requests: []v8Request{pass}}, 100000},
		{"demo", v8Scenario{Wasm: apiguard, PluginConfig: string(config), Requests: []v8Request{demo(perfscenario.SmallRecord)}}, 5000},
		{"chain10k", v8Scenario{Wasm: apiguard, PluginConfig: string(config), Requests: []v8Request{demo(perfscenario.LargeRecord)}}, 2000},
	}
	ns := map[string]float64{}
	for i := 0; i < b.N; i++ {
		for _, lc := range lcs {
			sc := lc.sc
			sc.PluginName, sc.RootID, sc.VMID = "apiguard", "apiguard", "apiguard"
			sc.LogLevel, sc.BenchIterations = 2, lc.iters
			ns[lc.name] += runV8(b, node, filepath.Join(root, "e2e", "v8", "host.mjs"), dir, sc)
		}
	}
	for _, lc := range lcs {
		b.ReportMetric(ns[lc.name]/float64(b.N), lc.name+"-ns")
	}
	b.ReportMetric(ns["pass"]/ns["floor"], "x-floor")
	b.ReportMetric(ns["gofloor"]/ns["floor"], "gofloor-x-floor")
	b.ReportMetric(ns["bare"]/ns["floor"], "bare-x-floor")
	b.ReportMetric(0, "ns/op") // each lifecycle has its own figure
}

// v8PassRequest is passThroughRequest as host.mjs takes it, answered with
// upstream's body.
func v8PassRequest() v8Request {
	return v8Request{Name: "pass", Headers: [][2]string{{":method", "GET"}, {":path", "/api/orders/42?expand=items"},
		{":authority", "example.com"}, {":scheme", "http"}, {"accept", "application/json"}, {"user-agent", "bench/1.0"},
		{"accept-encoding", "gzip"}, {"x-forwarded-for", "203.0.113.7"}},
		Response: v8Response{Headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}, Body: `{"ok":true}`}}
}

// v8DemoRequest is the demo request answered with a record of about size
// bytes.
func v8DemoRequest(token string, size int) v8Request {
	return v8Request{Name: "demo", Headers: perfscenario.RequestHeaders(token),
		Response: v8Response{Headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}},
			Body: string(perfscenario.Record(size))}}
}

// runV8 runs host.mjs on sc and returns its CPU ns per request.
func runV8(b *testing.B, node, host, dir string, sc v8Scenario) float64 {
	b.Helper()
	data, err := json.Marshal(sc)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	// Envoy's V8 compiles every function with TurboFan up front: Liftoff is
	// off (proxy-wasm-cpp-host src/v8/v8.cc, engine()).
	cmd := exec.Command(node, "--no-warnings", "--no-liftoff", host, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep struct {
		Trap     string `json:"trap"`
		Requests []struct {
			LocalResponse *struct {
				Status int `json:"status"`
			} `json:"local_response"`
		} `json:"requests"`
		Bench *struct {
			CPUNsPerRequest float64 `json:"cpu_ns_per_request"`
		} `json:"bench"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Trap != "" || rep.Bench == nil {
		b.Fatalf("host.mjs: %v %v trap %q\nstderr: %s", runErr, err, rep.Trap, stderr.String())
	}
	if len(rep.Requests) > 0 && rep.Requests[0].LocalResponse != nil {
		b.Fatalf("the plugin answered %d itself: not the lifecycle to measure", rep.Requests[0].LocalResponse.Status)
	}
	return rep.Bench.CPUNsPerRequest
}
