package wasmhost

import (
	"bytes"
	"strings"
	"testing"
)

// Envoy before proxy-wasm-cpp-host #533 answered poll_oneoff with ENOSYS; a
// standard-Go module then died at its first GC (golang/go#78513,
// envoyproxy/envoy#44526).
func TestPollOneoffENOSYSReproducesOldEnvoyCrash(t *testing.T) {
	p := startConformance(t, Options{PollOneoffENOSYS: true}, conformanceConfig("plain"))
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
}

func TestPollOneoffFixedEnvoySurvivesGC(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	for i := 0; i < 3; i++ {
		if res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "gc,idle"); res.code != 200 {
			t.Fatalf("request %d: %d %q; traps %q", i, res.code, res.body, p.Traps())
		}
	}
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
