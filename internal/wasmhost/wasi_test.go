package wasmhost

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Envoy before proxy-wasm-cpp-host #533 answers poll_oneoff with ENOSYS. A
// module built with the stock Go runtime dies at its first GC
// (golang/go#78513, envoyproxy/envoy#44526); the same module built with the
// runtime patch the plugin ships with (internal/sdkabi/wasmbuild) does not.
func TestPollOneoffENOSYSReproducesOldEnvoyCrash(t *testing.T) {
	old := Options{Envoy: &Envoy133}
	t.Run("stock runtime crashes", func(t *testing.T) {
		p := startConformance(t, old, conformanceConfig("plain"))
		res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "gc,idle")
		if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
			t.Fatalf("got %d %q, want 503 wasm_fail_stream", res.code, res.header.Get(DetailsHeader))
		}
		traps := p.Traps()
		if len(traps) != 1 || !strings.Contains(traps[0], "fatal error: poll_oneoff failed") {
			t.Fatalf("trap message does not keep the guest's crash: %q", traps)
		}
		if !strings.Contains(strings.Join(p.LogsAt(LogError), ""), "fatal error: poll_oneoff failed") {
			t.Fatal("the guest's stderr is not in the error log")
		}
	})
	t.Run("patched runtime survives", func(t *testing.T) {
		m := compileBytes(t, patchedGuest(t, "conformance"), old)
		p, err := m.Start(context.Background(), conformanceConfig("plain"))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := 0; i < 3; i++ {
			if res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "gc,idle"); res.code != 200 {
				t.Fatalf("request %d: %d %q; traps %q", i, res.code, res.body, p.Traps())
			}
		}
		if calls := p.PollOneoffCalls(); len(calls) != 0 {
			t.Fatalf("the patched runtime called poll_oneoff: %v", calls)
		}
	})
}

func TestStdoutAndStderrGoToTheLogs(t *testing.T) {
	var out bytes.Buffer
	p := startConformance(t, Options{LogWriter: &out}, conformanceConfig("plain"))
	do(t, p, echoUpstream, "GET", "/", "", "x-do", "panic")
	if !strings.Contains(strings.Join(p.LogsAt(LogError), ""), "panic: guest panic on purpose") {
		t.Fatalf("stderr not captured at error level: %q", p.LogsAt(LogError))
	}
	if !strings.Contains(out.String(), "[wasm error]") {
		t.Fatalf("LogWriter got %q", out.String())
	}
}

func TestEnvironmentVariables(t *testing.T) {
	m := compileGuest(t, "conformance", Options{Env: map[string]string{"A": "1"}})
	if got := strings.Join(m.envs, ","); got != "A=1" {
		t.Fatalf("envs %q", got)
	}
}
