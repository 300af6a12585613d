package v8

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// scenario is the input of host.mjs (see its header comment).
type scenario struct {
	Wasm         string    `json:"wasm"`
	PluginConfig string    `json:"plugin_config"`
	PluginName   string    `json:"plugin_name"`
	RootID       string    `json:"root_id"`
	VMID         string    `json:"vm_id"`
	Clusters     []string  `json:"clusters,omitempty"`
	Requests     []request `json:"requests"`
	// BenchIterations > 0 makes host.mjs time the first request's lifecycle.
	BenchIterations int `json:"bench_iterations,omitempty"`
	// Envoy is the host profile: "main" (default, cpp-host #533) or "1.33"
	// (cpp-host #427: its WASI set, its allow-lists, poll_oneoff ENOSYS).
	Envoy string `json:"envoy,omitempty"`
	// Env is the VM's environment (Envoy VmConfig.environment_variables).
	Env map[string]string `json:"env,omitempty"`
}

type request struct {
	Name     string      `json:"name"`
	Headers  [][2]string `json:"headers"`
	Body     string      `json:"body,omitempty"`
	Response *response   `json:"response,omitempty"`
}

type response struct {
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// report is the output of host.mjs.
type report struct {
	Node    string `json:"node"`
	Imports struct {
		Env  []string `json:"env"`
		WASI []string `json:"wasi"`
	} `json:"imports"`
	NotInEnvoy []string `json:"not_in_envoy"`
	ABIVersion string   `json:"abi_version"`
	VMStart    bool     `json:"vm_start"`
	Configure  bool     `json:"configure"`
	Trap       string   `json:"trap"`
	Logs       []struct {
		Level   int    `json:"level"`
		Message string `json:"message"`
	} `json:"logs"`
	Metrics map[string]struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"metrics"`
	HTTPCalls []struct {
		Cluster string `json:"cluster"`
	} `json:"http_calls"`
	Requests []streamReport `json:"requests"`
	Bench    *struct {
		Iterations   int     `json:"iterations"`
		NsPerRequest float64 `json:"ns_per_request"`
	} `json:"bench"`
}

type streamReport struct {
	Name                  string      `json:"name"`
	RequestHeadersAction  int         `json:"request_headers_action"`
	RequestHeadersAfter   [][2]string `json:"request_headers_after"`
	LocalResponse         *localReply `json:"local_response"`
	ResponseHeadersAction *int        `json:"response_headers_action"`
	ResponseHeadersAfter  [][2]string `json:"response_headers_after"`
	ResponseBodyAfter     *string     `json:"response_body_after"`
	Done                  bool        `json:"done"`
}

type localReply struct {
	Status  int         `json:"status"`
	Details string      `json:"details"`
	Body    string      `json:"body"`
	Headers [][2]string `json:"headers"`
}

func header(h [][2]string, name string) (string, bool) {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// nodeCommand finds node and the flags its version needs for WASI, or skips.
func nodeCommand(t testing.TB) (string, []string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the V8 smoke test needs Node.js 18+ (.ci/run installs it)")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	major, err := nodeMajor(string(out))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case major < 18:
		t.Skipf("node %s is too old for WASI preview1 (need 18+)", strings.TrimSpace(string(out)))
	case major < 20:
		// Node 18 (Debian's) keeps node:wasi behind a flag.
		return node, []string{"--experimental-wasi-unstable-preview1", "--no-warnings"}
	}
	return node, []string{"--no-warnings"}
}

var nodeVersion = regexp.MustCompile(`^v(\d+)\.`)

func nodeMajor(version string) (int, error) {
	m := nodeVersion.FindStringSubmatch(strings.TrimSpace(version))
	if m == nil {
		return 0, errors.New("cannot parse node version " + strconv.Quote(version))
	}
	return strconv.Atoi(m[1])
}

func TestNodeMajor(t *testing.T) {
	for in, want := range map[string]int{"v18.19.0\n": 18, "v20.20.2": 20, "v22.1.0": 22} {
		if got, err := nodeMajor(in); err != nil || got != want {
			t.Errorf("nodeMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := nodeMajor("20.1"); err == nil {
		t.Error("accepted a version without the v prefix")
	}
}

// runHost runs host.mjs on a scenario and decodes its report. A trap is
// reported, not fatal: callers assert on it.
func runHost(t testing.TB, sc scenario) report {
	t.Helper()
	node, flags := nodeCommand(t)
	dir := t.TempDir()
	scPath := filepath.Join(dir, "scenario.json")
	data, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(flags, filepath.Join(repoRoot(t), "e2e", "v8", "host.mjs"), scPath)
	cmd := exec.Command(node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("host.mjs printed no report (%v): %v\nstdout: %s\nstderr: %s", runErr, err, stdout.String(), stderr.String())
	}
	if runErr != nil && rep.Trap == "" {
		t.Fatalf("host.mjs failed without a trap: %v\nstderr: %s", runErr, stderr.String())
	}
	if rep.Trap != "" {
		t.Logf("host.mjs stderr:\n%s", stderr.String())
	}
	return rep
}

// buildGuest compiles testdata/guest with the standard Go compiler, as
// apiguard itself is built.
func buildGuest(t testing.TB, tags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "guest.wasm")
	args := []string{"build", "-buildmode=c-shared", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	args = append(args, "./testdata/guest")
	cmd := exec.Command("go", // go test puts its GOROOT/bin first on PATH
		args...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test guest: %v\n%s", err, b)
	}
	return out
}

func assertLoadsLikeEnvoy(t testing.TB, rep report) {
	t.Helper()
	if len(rep.NotInEnvoy) > 0 {
		t.Errorf("the module imports functions Envoy does not provide, so Envoy would refuse to load it: %v", rep.NotInEnvoy)
	}
	if rep.ABIVersion != "0_2_1" && rep.ABIVersion != "0_2_0" {
		t.Errorf("ABI version %q", rep.ABIVersion)
	}
	if rep.Trap != "" {
		t.Fatalf("the module trapped under V8: %s", rep.Trap)
	}
	if !rep.VMStart || !rep.Configure {
		t.Fatalf("vm_start=%v configure=%v, want both true; logs: %+v", rep.VMStart, rep.Configure, rep.Logs)
	}
}

// TestReferenceGuestUnderV8 checks the host itself against a known guest, so
// a failure with apiguard points at apiguard, not at host.mjs.
func TestReferenceGuestUnderV8(t *testing.T) {
	nodeCommand(t)
	rep := runHost(t, scenario{
		Wasm:         buildGuest(t),
		PluginConfig: `{"deny_path": "/admin"}`,
		PluginName:   "guest", RootID: "guest", VMID: "guest",
		Requests: []request{
			{Name: "allowed", Headers: [][2]string{{":method", "GET"}, {":path", "/users"}, {":authority", "demo"}},
				Response: &response{Headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}, Body: `{"id":1}`}},
			{Name: "denied", Headers: [][2]string{{":method", "GET"}, {":path", "/admin"}, {":authority", "demo"}}},
		},
	})
	assertLoadsLikeEnvoy(t, rep)
	if len(rep.Requests) != 2 {
		t.Fatalf("want 2 stream reports, got %d", len(rep.Requests))
	}
	allowed, denied := rep.Requests[0], rep.Requests[1]
	if allowed.RequestHeadersAction != 0 || allowed.LocalResponse != nil {
		t.Errorf("allowed request: action %d, local reply %+v; want CONTINUE and none", allowed.RequestHeadersAction, allowed.LocalResponse)
	}
	if v, _ := header(allowed.RequestHeadersAfter, "x-guard"); v != "seen" {
		t.Errorf("allowed request: x-guard = %q, want the header the guest added", v)
	}
	if allowed.ResponseBodyAfter == nil || *allowed.ResponseBodyAfter != `{"id":1}` {
		t.Errorf("allowed request: response body = %v", allowed.ResponseBodyAfter)
	}
	if denied.LocalResponse == nil || denied.LocalResponse.Status != 403 || denied.LocalResponse.Details != "v8guest_denied" {
		t.Fatalf("denied request: local reply %+v, want 403 v8guest_denied", denied.LocalResponse)
	}
	if v, _ := header(denied.LocalResponse.Headers, "x-guard"); v != "v8guest" {
		t.Errorf("denied request: local reply headers %v", denied.LocalResponse.Headers)
	}
	// Envoy passes a local reply through the plugin's own response callbacks.
	if v, _ := header(denied.ResponseHeadersAfter, "x-own-reply"); v != "1" {
		t.Errorf("the local reply did not pass through the guest's response callbacks: %v", denied.ResponseHeadersAfter)
	}
	if m := rep.Metrics["v8guest.requests"]; m.Type != "counter" || m.Value != "2" {
		t.Errorf("metric v8guest.requests = %+v, want counter 2", m)
	}
}

// TestRestrictedCallDuringInitializeTraps shows the host enforces Envoy's
// allow-list while `_initialize` runs (cpp-host src/wasm.cc startVm).
func TestRestrictedCallDuringInitializeTraps(t *testing.T) {
	nodeCommand(t)
	rep := runHost(t, scenario{Wasm: buildGuest(t, "initcall"), PluginConfig: "{}"})
	if !strings.Contains(rep.Trap, "restricted_callback") || !strings.Contains(rep.Trap, "env.proxy_define_metric") {
		t.Fatalf("trap = %q, want restricted_callback naming env.proxy_define_metric", rep.Trap)
	}
	if rep.VMStart {
		t.Error("vm_start ran after a trap in _initialize")
	}
}

// apiguardWasm returns the compiled plugin: $APIGUARD_WASM, or a fresh build
// of ./plugin (build/apiguard.wasm).
func apiguardWasm(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("APIGUARD_WASM"); path != "" {
		return path
	}
	return wasmbuild.ForTest(t, "./plugin")
}

// TestApiguardUnderV8 runs the real plugin under V8 with the demo config:
// it must load with only Envoy's imports, start, accept the demo config and
// answer a request without trapping.
//
// It runs twice: on the newest host (cpp-host #533) with the demo config, and
// on Envoy 1.33's (cpp-host #427: fewer WASI functions, poll_oneoff answering
// ENOSYS and forbidden during _initialize and allocation) in streamed header
// mode, with GOGC=1 so the Go runtime collects all along.
func TestApiguardUnderV8(t *testing.T) {
	nodeCommand(t)
	wasm := apiguardWasm(t)
	demo, err := os.ReadFile(filepath.Join(repoRoot(t), "envoy", "demo-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("main", func(t *testing.T) { apiguardUnderV8(t, wasm, demo, "main", nil) })
	streamed := []byte(strings.Replace(string(demo), `"headers_mode": "held"`, `"headers_mode": "streamed"`, 1))
	t.Run("1.33", func(t *testing.T) { apiguardUnderV8(t, wasm, streamed, "1.33", map[string]string{"GOGC": "1"}) })
}

func apiguardUnderV8(t *testing.T, wasm string, cfg []byte, envoy string, env map[string]string) {
	userJSON := `{"id":1,"name":"Ada","email":"ada@example.com","password_hash":"$2b$12$abc","card_number":"4111111111111111"}`
	rep := runHost(t, scenario{
		Wasm:         wasm,
		PluginConfig: string(cfg),
		PluginName:   "apiguard", RootID: "apiguard", VMID: "apiguard",
		Clusters: []string{"demo_upstream", "idp", "ratelimit", "otel"},
		Envoy:    envoy, Env: env,
		Requests: []request{
			{Name: "healthz", Headers: [][2]string{{":method", "GET"}, {":path", "/healthz"}, {":authority", "demo"}, {":scheme", "http"}, {"x-request-id", "v8-1"}},
				Response: &response{Headers: [][2]string{{":status", "200"}, {"content-type", "text/plain"}}, Body: "ok\n"}},
			{Name: "users", Headers: [][2]string{{":method", "GET"}, {":path", "/users/1"}, {":authority", "demo"}, {":scheme", "http"}, {"x-request-id", "v8-2"}},
				Response: &response{Headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}, Body: userJSON}},
		},
	})
	assertLoadsLikeEnvoy(t, rep)
	t.Logf("node %s; imports: env %v, wasi %v", rep.Node, rep.Imports.Env, rep.Imports.WASI)
	if len(rep.Requests) != 2 {
		t.Fatalf("want 2 stream reports, got %d", len(rep.Requests))
	}
	for _, s := range rep.Requests {
		t.Logf("%s: request action %d, local reply %+v, response headers %v", s.Name, s.RequestHeadersAction, s.LocalResponse, s.ResponseHeadersAfter)
		if !s.Done {
			t.Errorf("%s: proxy_on_done returned false", s.Name)
		}
		if s.LocalResponse != nil {
			// apiguard answers only with its own decisions, never a 5xx for a
			// plain request.
			switch s.LocalResponse.Status {
			case 400, 401, 403, 429:
			default:
				t.Errorf("%s: unexpected local reply %d %q", s.Name, s.LocalResponse.Status, s.LocalResponse.Details)
			}
		}
	}
	// The demo config leaves /healthz public.
	if h := rep.Requests[0]; h.LocalResponse != nil || h.RequestHeadersAction != 0 {
		t.Errorf("/healthz: action %d, local reply %+v; want CONTINUE", h.RequestHeadersAction, h.LocalResponse)
	}
	// Whatever reaches the client must not carry the demo user's secrets.
	if u := rep.Requests[1]; u.ResponseBodyAfter != nil && u.LocalResponse == nil {
		for _, secret := range []string{"password_hash", "4111111111111111"} {
			if strings.Contains(*u.ResponseBodyAfter, secret) && strings.Contains(string(cfg), "response_filter") {
				t.Errorf("/users/1: response still contains %q with response_filter configured", secret)
			}
		}
	}
}

// benchV8 reports the in-VM cost of one request lifecycle under V8, measured
// inside Node with process.hrtime (node start-up excluded), as ns/op.
// Allocations happen in the guest's linear memory, out of Go's sight, so
// this benchmark reports no allocs/op.
func benchV8(b *testing.B, sc scenario) {
	sc.BenchIterations = 10000
	rep := runHost(b, sc)
	if rep.Trap != "" || rep.Bench == nil {
		b.Fatalf("no benchmark result (trap %q)", rep.Trap)
	}
	b.ReportMetric(rep.Bench.NsPerRequest, "ns/op")
}

// BenchmarkV8RequestLifecycle: context_create, request headers, response
// headers and body, log, done, delete, for a public GET, under V8.
func BenchmarkV8RequestLifecycle(b *testing.B) {
	nodeCommand(b)
	healthz := request{Name: "healthz", Headers: [][2]string{{":method", "GET"}, {":path", "/healthz"}, {":authority", "demo"}, {":scheme", "http"}},
		Response: &response{Headers: [][2]string{{":status", "200"}, {"content-type", "text/plain"}}, Body: "ok\n"}}
	b.Run("reference-guest", func(b *testing.B) {
		benchV8(b, scenario{Wasm: buildGuest(b), PluginConfig: "{}", Requests: []request{healthz}})
	})
	b.Run("apiguard-demo-config", func(b *testing.B) {
		cfg, err := os.ReadFile(filepath.Join(repoRoot(b), "envoy", "demo-config.json"))
		if err != nil {
			b.Fatal(err)
		}
		benchV8(b, scenario{Wasm: apiguardWasm(b), PluginConfig: string(cfg), PluginName: "apiguard", RootID: "apiguard", VMID: "apiguard",
			Clusters: []string{"demo_upstream", "idp", "ratelimit", "otel"}, Requests: []request{healthz}})
	})
}
