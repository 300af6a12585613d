// Package envoycompat runs the shipped module under every Envoy profile of
// internal/wasmhost (envoy.go): the Envoy 1.33 host calls (cpp-host #427),
// 1.35 with allow_on_headers_stop_iteration, and a build with cpp-host #533.
// It backs the README's minimum Envoy versions and compatibility matrix.
package envoycompat

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var cache = wazero.NewCompilationCache()

// compile loads wasm under envoy with GC made frequent: GOGC=1 (an Envoy
// VmConfig environment variable) collects at about every 1% of heap growth,
// so collections land in _initialize and inside proxy_on_memory_allocate.
func compile(t *testing.T, wasm []byte, envoy wasmhost.EnvoyProfile) (*wasmhost.Module, error) {
	t.Helper()
	m, err := wasmhost.Compile(context.Background(), wasm, wasmhost.Options{
		Envoy: &envoy, Env: map[string]string{"GOGC": "1"}, CompilationCache: cache, LogLevel: wasmhost.LogWarn,
	})
	if err == nil {
		t.Cleanup(func() { m.Close(context.Background()) })
	}
	return m, err
}

// demoConfig is envoy/demo-config.json with a forced runtime.GC() after every
// stream (telemetry.gc), so every request also collects inside a callback,
// and the response filter's header mode for envoy: "held" needs
// allow_on_headers_stop_iteration (1.35+), "streamed" runs everywhere.
func demoConfig(t *testing.T, envoy wasmhost.EnvoyProfile) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "envoy", "demo-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), `"telemetry": {`,
		`"telemetry": {"gc": {"mode": "every_requests", "every_requests": 1, "min_interval": "1ms"},`, 1)
	if cfg == string(raw) || !strings.Contains(cfg, `"headers_mode": "held"`) {
		t.Fatal(`demo config has no "telemetry": { to extend or no "headers_mode": "held"`)
	}
	if !envoy.StopIterationKnob {
		cfg = strings.Replace(cfg, `"headers_mode": "held"`, `"headers_mode": "streamed"`, 1)
	}
	return []byte(cfg)
}

func root(t testing.TB) string {
	t.Helper()
	r, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func start(t *testing.T, m *wasmhost.Module, envoy wasmhost.EnvoyProfile, workers int) (*wasmhost.Plugin, error) {
	t.Helper()
	p, err := m.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: demoConfig(t, envoy), Workers: workers,
		AllowOnHeadersStopIteration: envoy.StopIterationKnob,
	})
	if err == nil {
		t.Cleanup(func() { p.Close() })
	}
	return p, err
}

// load compiles wasm under envoy and starts the demo config with workers.
func load(t *testing.T, wasm []byte, envoy wasmhost.EnvoyProfile, workers int) *wasmhost.Plugin {
	t.Helper()
	m, err := compile(t, wasm, envoy)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	p, err := start(t, m, envoy, workers)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return p
}

func userToken(t testing.TB) string {
	t.Helper()
	return userTokenFor(t, "demo-user")
}

// userTokenFor signs a demo token (scope "read") for sub with the DEMO ONLY key.
func userTokenFor(t testing.TB, sub string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "envoy", "demo", "demo-rsa-private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://demo.apiguard.local", "aud": "demo-api", "sub": sub, "scope": "read",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "demo-2026"
	s, err := tok.SignedString(key.(*rsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// demoRequests are the README's demo requests and their answers. The demo
// config allows a user 5 requests to /users in 10 s: send at most 4 rounds.
func demoRequests(t testing.TB, h http.Handler, token string) error {
	for _, c := range []struct {
		path, auth string
		code       int
	}{
		{"/healthz", "", 200},
		{"/users/1", "", 401},
		{"/users/1", "Bearer " + token, 200},
		{"/admin/stats", "Bearer " + token, 403},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.auth != "" {
			req.Header.Set("authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.code {
			return fmt.Errorf("GET %s: %d %q, want %d", c.path, rec.Code, rec.Body.String(), c.code)
		}
		if c.code == 200 && c.path == "/users/1" && strings.Contains(rec.Body.String(), "password_hash") {
			return fmt.Errorf("GET %s: the response filter did not run: %s", c.path, rec.Body)
		}
	}
	return nil
}

func readWasm(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The shipped module loads under every profile and serves the demo requests
// through 4 workers, with a GC after every request and GOGC=1, without a
// trap and without calling poll_oneoff. Backs "Envoy 1.33 (streamed mode)"
// and "Envoy 1.35 (held mode)": the 1.33 profile runs without
// allow_on_headers_stop_iteration, the others with it.
func TestModuleRunsUnderEveryEnvoyProfile(t *testing.T) {
	wasm := readWasm(t, wasmbuild.ForTest(t, "./plugin"))
	tok := userToken(t)
	for _, envoy := range wasmhost.EnvoyProfiles() {
		t.Run(envoy.Name, func(t *testing.T) {
			p := load(t, wasm, envoy, 4)
			h := p.Middleware(demoapi.New().Handler())
			for i := 0; i < 4; i++ {
				if err := demoRequests(t, h, tok); err != nil {
					t.Fatalf("round %d: %v; traps %q", i, err, p.Traps())
				}
			}
			if traps := p.Traps(); len(traps) > 0 {
				t.Fatalf("traps: %q", traps)
			}
			if calls := p.PollOneoffCalls(); len(calls) != 0 {
				t.Fatalf("poll_oneoff called: %v", calls)
			}
		})
	}
}

// The module as built before the runtime patch: Envoy 1.33 refuses to load
// it (path_filestat_get), and a 1.33 host that only had the two filestat
// functions would kill it at its first GC.
func TestStockBuildFailsOnEnvoy133(t *testing.T) {
	stock := readWasm(t, wasmbuild.ForTestStockRuntime(t, "./plugin"))
	if _, err := compile(t, stock, wasmhost.Envoy133); err == nil || !strings.Contains(err.Error(), "path_filestat_get") {
		t.Fatalf("the stock build loaded under Envoy 1.33: %v", err)
	}
	withFilestat := wasmhost.Envoy133
	withFilestat.WASI = append(slices.Clone(withFilestat.WASI), "fd_filestat_get", "path_filestat_get")
	p := load(t, stock, withFilestat, 1)
	h := p.Middleware(demoapi.New().Handler())
	tok := userToken(t)
	for i := 0; i < 4 && len(p.Traps()) == 0; i++ {
		_ = demoRequests(t, h, tok)
	}
	if traps := p.Traps(); len(traps) == 0 || !strings.Contains(traps[0], "fatal error: poll_oneoff failed") {
		t.Fatalf("traps %q, want the poll_oneoff crash", traps)
	}
}

// No apiguard callback waits on a timer: Envoy never sleeps in poll_oneoff,
// so a wait would spin. The stock build shows waits as poll_oneoff calls
// with a timed clock subscription (its GCs poll with timeout 0); the
// shipped build never calls poll_oneoff at all.
func TestNoCallbackWaitsOnATimer(t *testing.T) {
	stock := readWasm(t, wasmbuild.ForTestStockRuntime(t, "./plugin"))
	p := load(t, stock, wasmhost.EnvoyMain, 2)
	h := p.Middleware(demoapi.New().Handler())
	tok := userToken(t)
	for i := 0; i < 4; i++ {
		if err := demoRequests(t, h, tok); err != nil {
			t.Fatal(err)
		}
	}
	calls := p.PollOneoffCalls()
	total := 0
	for phase, c := range calls {
		total += c.Clock
		if c.ClockWaits != 0 {
			t.Errorf("%s waited on a timer %d times", phase, c.ClockWaits)
		}
	}
	if total == 0 {
		t.Fatal("the stock build never polled: the forced GCs did not run, so this test shows nothing")
	}
	t.Logf("stock build, poll_oneoff by phase: %+v", calls)
}
