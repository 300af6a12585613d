package wasmhost

import (
	"context"
	"strings"
	"testing"
)

// gcEverywhere forces a GC in _initialize, in proxy_on_memory_allocate and
// in the request callbacks of the gcphases guest.
var gcEverywhere = map[string]string{"GC_AT": "init,malloc,request"}

func gcConfig() PluginConfig {
	return PluginConfig{Name: "gc", RootID: "gc", VMID: "gc", Workers: 2}
}

// A module built with the plugin's runtime patch survives a GC in every
// restricted phase under every Envoy profile: the canary and two workers
// each collect in _initialize, and each request collects inside the
// allocator and in both header callbacks.
func TestGCInEveryPhaseUnderEveryEnvoyProfile(t *testing.T) {
	wasm := patchedGuest(t, "gcphases")
	for _, envoy := range EnvoyProfiles() {
		t.Run(envoy.Name, func(t *testing.T) {
			m := compileBytes(t, wasm, Options{Envoy: &envoy, Env: gcEverywhere})
			p, err := m.Start(context.Background(), gcConfig())
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer p.Close()
			for i := 0; i < 4; i++ {
				if res := do(t, p, echoUpstream, "GET", "/x", ""); res.code != 200 {
					t.Fatalf("request %d: %d %q; traps %q", i, res.code, res.body, p.Traps())
				}
			}
			if n := countLogs(p, "gc in init: cycles "); n != 3 {
				t.Errorf("%d VMs collected in _initialize, want 3 (canary and two workers)", n)
			}
			if n := countLogs(p, "gc in request: cycles 0"); n != 0 {
				t.Errorf("%d requests ran no GC", n)
			}
			if calls := p.PollOneoffCalls(); len(calls) != 0 {
				t.Errorf("the patched runtime called poll_oneoff: %v", calls)
			}
		})
	}
}

// The same guest with the stock Go runtime, as every build was before the
// patch, dies under the oldest profile wherever it collects, and runs under
// a host with cpp-host #533.
func TestStockRuntimeGCFailsOnEnvoy133(t *testing.T) {
	wasm := guest(t, "gcphases")
	for _, tc := range []struct{ at, want string }{
		{"init", "wasi_snapshot_preview1.poll_oneoff is not allowed during _initialize"},
		{"malloc", "wasi_snapshot_preview1.poll_oneoff is not allowed during proxy_on_memory_allocate"},
		{"request", "fatal error: poll_oneoff failed"},
	} {
		t.Run(tc.at, func(t *testing.T) {
			m := compileBytes(t, wasm, Options{Envoy: &Envoy133, Env: map[string]string{"GC_AT": tc.at}})
			p, err := m.Start(context.Background(), gcConfig())
			if tc.at == "init" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					p.Close()
					t.Fatalf("start: got %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			defer p.Close()
			res := do(t, p, echoUpstream, "GET", "/x", "")
			if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
				t.Fatalf("got %d %q, want 503 wasm_fail_stream", res.code, res.header.Get(DetailsHeader))
			}
			if traps := p.Traps(); len(traps) != 1 || !strings.Contains(traps[0], tc.want) {
				t.Fatalf("traps %q, want %q", traps, tc.want)
			}
		})
	}
	t.Run("main", func(t *testing.T) {
		m := compileBytes(t, wasm, Options{Envoy: &EnvoyMain, Env: gcEverywhere})
		p, err := m.Start(context.Background(), gcConfig())
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		defer p.Close()
		if res := do(t, p, echoUpstream, "GET", "/x", ""); res.code != 200 {
			t.Fatalf("got %d; traps %q", res.code, p.Traps())
		}
		calls := p.PollOneoffCalls()
		for _, phase := range []string{"_initialize", "proxy_on_memory_allocate", "proxy_on_request_headers"} {
			if calls[phase].Clock == 0 {
				t.Errorf("no poll_oneoff with a clock subscription during %s: %v", phase, calls)
			}
		}
	})
}

// A timer wait inside a callback shows up as a poll_oneoff with a clock
// subscription and a timeout (stock runtime); the patched runtime spins
// instead and never calls poll_oneoff, which is why the plugin must never
// wait on a timer in a callback.
func TestPollOneoffClockWaitsAreCounted(t *testing.T) {
	wait := map[string]string{"WAIT_MS": "2"}
	p := startGuest(t, guest(t, "gcphases"), Options{Env: wait})
	if res := do(t, p, echoUpstream, "GET", "/x", ""); res.code != 200 {
		t.Fatalf("got %d; traps %q", res.code, p.Traps())
	}
	if got := p.PollOneoffCalls()["proxy_on_request_headers"]; got.ClockWaits == 0 {
		t.Fatalf("time.Sleep in proxy_on_request_headers not counted as a clock wait: %+v", got)
	}
	p = startGuest(t, patchedGuest(t, "gcphases"), Options{Envoy: &Envoy133, Env: wait})
	if res := do(t, p, echoUpstream, "GET", "/x", ""); res.code != 200 {
		t.Fatalf("patched: got %d; traps %q", res.code, p.Traps())
	}
	if calls := p.PollOneoffCalls(); len(calls) != 0 {
		t.Fatalf("patched: poll_oneoff called: %v", calls)
	}
}

// Envoy 1.33 and 1.34 refuse allow_on_headers_stop_iteration: their
// PluginConfig has no field 9.
func TestStopIterationKnobNeedsEnvoy135(t *testing.T) {
	cfg := gcConfig()
	cfg.AllowOnHeadersStopIteration = true
	for _, envoy := range EnvoyProfiles() {
		m := compileBytes(t, patchedGuest(t, "gcphases"), Options{Envoy: &envoy})
		p, err := m.Start(context.Background(), cfg)
		if envoy.StopIterationKnob != (err == nil) {
			t.Errorf("%s: start: %v", envoy.Name, err)
		}
		if err == nil {
			p.Close()
		} else if !strings.Contains(err.Error(), "allow_on_headers_stop_iteration") {
			t.Errorf("%s: error does not name the field: %v", envoy.Name, err)
		}
	}
}

// Each profile's WASI set decides what loads: a module importing a function
// of cpp-host #533 does not load on 1.33 or 1.35.
func TestEnvoyProfileWASISetDecidesWhatLoads(t *testing.T) {
	stock := guest(t, "conformance")
	for _, envoy := range EnvoyProfiles() {
		_, err := Compile(context.Background(), stock, Options{Envoy: &envoy, CompilationCache: cache})
		if err != nil && !strings.Contains(err.Error(), envoy.Releases) {
			t.Errorf("%s: the error does not name the Envoy releases: %v", envoy.Name, err)
		}
		if envoy.Name == "main" && err != nil {
			t.Errorf("main: %v", err)
		}
	}
	for _, v := range []string{"1.33", "1.34", "1.35", "1.38", "main"} {
		if _, err := EnvoyProfileFor(v); err != nil {
			t.Errorf("EnvoyProfileFor(%q): %v", v, err)
		}
	}
	if _, err := EnvoyProfileFor("1.32"); err == nil {
		t.Error("EnvoyProfileFor(1.32) accepted")
	}
}

func startGuest(tb testing.TB, wasm []byte, opts Options) *Plugin {
	tb.Helper()
	m := compileBytes(tb, wasm, opts)
	p, err := m.Start(context.Background(), gcConfig())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

func countLogs(p *Plugin, prefix string) int {
	n := 0
	for _, e := range p.Logs() {
		if strings.HasPrefix(e.Message, prefix) {
			n++
		}
	}
	return n
}
