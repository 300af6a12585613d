// Package envoy runs envoy/envoy.yaml with a real Envoy binary when one is on
// PATH: the strongest check that the compiled plugin loads and serves in the
// proxy it is built for. Without Envoy the tests skip.
package envoy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/envoyconfig"
	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// envoyBinary returns the envoy on PATH (or $ENVOY), or skips.
func envoyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ENVOY"); p != "" {
		return p
	}
	p, err := exec.LookPath("envoy")
	if err != nil {
		t.Skip("envoy is not on PATH (or $ENVOY): skipping the real-Envoy test. " +
			"Install an Envoy whose proxy-wasm-cpp-host includes PR #533 (see the README, section Which Envoy can run it) to run it.")
	}
	return p
}

// apiguardWasm returns the compiled plugin: $APIGUARD_WASM, or a fresh build
// of ./plugin (build/apiguard.wasm), as an absolute path.
func apiguardWasm(t *testing.T) string {
	t.Helper()
	path := os.Getenv("APIGUARD_WASM")
	if path == "" {
		path = wasmbuild.ForTest(t, "./plugin")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ports of one test Envoy.
type ports struct{ listener, admin, upstream int }

// rewriteConfig returns envoy.yaml with the test's ports and wasm path, after
// checking the result against Envoy's protos.
func rewriteConfig(t *testing.T, src []byte, wasm string, p ports) []byte {
	t.Helper()
	js, err := envoyconfig.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatal(err)
	}
	set := func(v any, port int) {
		v.(map[string]any)["port_value"] = port
	}
	admin := cfg["admin"].(map[string]any)
	set(dig(t, admin, "address", "socket_address"), p.admin)
	sr := cfg["static_resources"].(map[string]any)
	for _, l := range sr["listeners"].([]any) {
		set(dig(t, l, "address", "socket_address"), p.listener)
		// Point the Wasm filter at the built module.
		for _, fc := range l.(map[string]any)["filter_chains"].([]any) {
			for _, f := range fc.(map[string]any)["filters"].([]any) {
				hcm := f.(map[string]any)["typed_config"].(map[string]any)
				for _, hf := range hcm["http_filters"].([]any) {
					tc := hf.(map[string]any)["typed_config"].(map[string]any)
					if !strings.HasSuffix(tc["@type"].(string), "wasm.v3.Wasm") {
						continue
					}
					local := dig(t, tc, "config", "vm_config", "code", "local").(map[string]any)
					local["filename"] = wasm
				}
			}
		}
	}
	for _, c := range sr["clusters"].([]any) {
		if c.(map[string]any)["name"] != "demo_upstream" {
			continue
		}
		eps := dig(t, c, "load_assignment", "endpoints").([]any)
		lbs := eps[0].(map[string]any)["lb_endpoints"].([]any)
		set(dig(t, lbs[0], "endpoint", "address", "socket_address"), p.upstream)
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envoyconfig.LoadBootstrap(out); err != nil {
		t.Fatalf("rewritten config is invalid: %v", err)
	}
	return out
}

func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("envoy.yaml: %q is not under a mapping", k)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("envoy.yaml: missing %q", k)
		}
	}
	return v
}

func TestRewriteConfig(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "envoy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := rewriteConfig(t, src, "/abs/apiguard.wasm", ports{listener: 20000, admin: 20001, upstream: 20002})
	for _, want := range []string{`"filename": "/abs/apiguard.wasm"`, `"port_value": 20000`, `"port_value": 20001`, `"port_value": 20002`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("rewritten config lacks %s", want)
		}
	}
}

// logBuffer collects Envoy's output for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// explain adds what a known Envoy failure means.
func explain(log string) string {
	switch {
	case strings.Contains(log, "poll_oneoff failed"):
		return "\nThis Envoy's proxy-wasm-cpp-host predates PR #533: poll_oneoff returns ENOSYS and Go modules die at their first GC. Use a newer Envoy."
	case strings.Contains(log, "Failed to load Wasm module") || strings.Contains(log, "missing import"):
		return "\nThis Envoy lacks WASI functions standard-Go modules import (cpp-host PR #427/#533). Use a newer Envoy."
	case strings.Contains(log, "allow_on_headers_stop_iteration"):
		return "\nThis Envoy predates PluginConfig.allow_on_headers_stop_iteration (Envoy 1.35)."
	}
	return ""
}

func TestEnvoyValidatesConfig(t *testing.T) {
	envoy := envoyBinary(t)
	wasm := apiguardWasm(t)
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "envoy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "envoy.json")
	if err := os.WriteFile(cfgPath, rewriteConfig(t, src, wasm, ports{freePort(t), freePort(t), freePort(t)}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoy, "--mode", "validate", "-c", cfgPath, "--log-level", "warn").CombinedOutput()
	if err != nil {
		t.Fatalf("envoy --mode validate refused the config: %v\n%s%s", err, out, explain(string(out)))
	}
}

// TestThroughRealEnvoy starts Envoy with envoy.yaml, sends traffic through it
// and reads apiguard's metrics from the admin interface.
func TestThroughRealEnvoy(t *testing.T) {
	envoy := envoyBinary(t)
	wasm := apiguardWasm(t)
	upstream := httptest.NewServer(demoapi.New().Handler())
	defer upstream.Close()
	upPort, _ := strconv.Atoi(upstream.URL[strings.LastIndex(upstream.URL, ":")+1:])

	src, err := os.ReadFile(filepath.Join(repoRoot(t), "envoy", "envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := ports{listener: freePort(t), admin: freePort(t), upstream: upPort}
	cfgPath := filepath.Join(t.TempDir(), "envoy.json")
	if err := os.WriteFile(cfgPath, rewriteConfig(t, src, wasm, p), 0o600); err != nil {
		t.Fatal(err)
	}

	log := runEnvoy(t, envoy, cfgPath, p, "--concurrency", "2", "--log-level", "info")
	admin := fmt.Sprintf("http://127.0.0.1:%d", p.admin)
	base := fmt.Sprintf("http://127.0.0.1:%d", p.listener)
	client := &http.Client{Timeout: 5 * time.Second}

	// Public route: the upstream answers through the plugin.
	status, body := get(t, client, base+"/healthz")
	if status != http.StatusOK || !strings.Contains(body, "ok") {
		t.Fatalf("GET /healthz through Envoy: %d %q\nenvoy log:\n%s%s", status, body, log.String(), explain(log.String()))
	}
	// Any other answer must be the plugin's decision, never a failed VM.
	status, body = get(t, client, base+"/users/1")
	if status == http.StatusServiceUnavailable {
		t.Fatalf("GET /users/1: 503 (wasm_fail_stream?) %q\nenvoy log:\n%s", body, log.String())
	}
	t.Logf("GET /users/1 through Envoy: %d %s", status, body)

	// apiguard's metrics live under wasmcustom. in Envoy's stats.
	_, stats := get(t, client, admin+"/stats?filter=%5Ewasmcustom%5C.")
	if !strings.Contains(stats, "wasmcustom.") {
		t.Errorf("no wasmcustom.* stats in Envoy's admin: the plugin defined no metrics?\n%s", stats)
	}
	_, prom := get(t, client, admin+"/stats/prometheus")
	t.Logf("%d bytes of Prometheus stats", len(prom))
	_, wasmStats := get(t, client, admin+"/stats?filter=wasm")
	if vmFailed.MatchString(wasmStats) || strings.Contains(log.String(), "wasm_fail_stream") {
		t.Errorf("a Wasm VM failed:\n%s\nenvoy log:\n%s", wasmStats, log.String())
	}
}

// runEnvoy starts envoy on cfgPath, stops it when the test ends, and waits
// until its admin interface (p.admin) says it is ready.
func runEnvoy(t *testing.T, envoy, cfgPath string, p ports, args ...string) *logBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := &logBuffer{}
	cmd := exec.CommandContext(ctx, envoy, append([]string{"-c", cfgPath, "--disable-hot-restart"}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
	})
	waitReady(t, &http.Client{Timeout: 5 * time.Second}, fmt.Sprintf("http://127.0.0.1:%d", p.admin), exited, log)
	return log
}

// vmFailed matches a non-zero Wasm failure statistic.
var vmFailed = regexp.MustCompile(`(?m)failed: [1-9]`)

func waitReady(t *testing.T, client *http.Client, admin string, exited <-chan error, log *logBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("envoy exited before it was ready: %v\n%s%s", err, log.String(), explain(log.String()))
		default:
		}
		if resp, err := client.Get(admin + "/ready"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) == "LIVE" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("envoy not ready after 60 s\n%s", lastLines(log.String(), 40))
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
