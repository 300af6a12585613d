package wasmhost

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A guest trap fails its stream with 503 wasm_fail_stream and keeps the
// guest's message; the failure policy then decides later requests.
func TestTrapThenFailurePolicy(t *testing.T) {
	tests := []struct {
		policy   FailurePolicy
		wantCode int
		wantVia  string // "plugin", "bypass" or "failed"
	}{
		{FailClosed, 503, "failed"},
		{FailOpen, 200, "bypass"},
		{FailReload, 200, "plugin"},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			cfg := conformanceConfig("plain")
			cfg.FailurePolicy = tt.policy
			cfg.ReloadBackoff = time.Millisecond
			p := startConformance(t, Options{}, cfg)
			res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "panic")
			time.Sleep(5 * time.Millisecond) // past the reload backoff
			if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
				t.Fatalf("trap: got %d %q", res.code, res.header.Get(DetailsHeader))
			}
			if res.header.Get("X-Plugin-Saw-Status") != "" {
				t.Fatal("after a trap the plugin's response callbacks must not run")
			}
			traps := p.Traps()
			if len(traps) != 1 || !strings.Contains(traps[0], "panic: guest panic on purpose") {
				t.Fatalf("trap message lost: %q", traps)
			}
			if p.FailedWorkers() != 1 {
				t.Fatalf("failed workers %d", p.FailedWorkers())
			}
			res = do(t, p, echoUpstream, "GET", "/", "")
			if res.code != tt.wantCode {
				t.Fatalf("next request: %d %q", res.code, res.body)
			}
			saw := res.header.Get("X-Plugin-Saw-Status") != ""
			switch tt.wantVia {
			case "failed":
				if res.header.Get(DetailsHeader) != "wasm_fail_stream" {
					t.Fatalf("details %q", res.header.Get(DetailsHeader))
				}
			case "bypass":
				if saw || res.body != "upstream GET / body=" {
					t.Fatalf("fail open should skip the plugin: %v %q", res.header, res.body)
				}
			case "plugin":
				if !saw || p.Reloads() != 1 || p.FailedWorkers() != 0 {
					t.Fatalf("reload: saw=%v reloads=%d failed=%d", saw, p.Reloads(), p.FailedWorkers())
				}
			}
		})
	}
}

func TestTrapInResponseCallbackFailsStream(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "panic-resp")
	if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
		t.Fatalf("got %d", res.code)
	}
}

func TestReloadBacksOffBetweenAttempts(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.FailurePolicy = FailReload
	cfg.ReloadBackoff = 100 * time.Millisecond
	p := startConformance(t, Options{}, cfg)
	do(t, p, echoUpstream, "GET", "/", "", "x-do", "panic")
	p.mu.Lock()
	p.config = []byte("reject") // every new VM's configure now fails
	p.mu.Unlock()
	attempts := func() int {
		n := 0
		for _, m := range p.LogsAt(LogError) {
			if strings.HasPrefix(m, "invalid configuration: reject") {
				n++
			}
		}
		return n
	}
	// Within the backoff since the initial load: no attempt, fail closed.
	if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != http.StatusServiceUnavailable || attempts() != 0 {
		t.Fatalf("got %d after %d attempts", res.code, attempts())
	}
	time.Sleep(160 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != http.StatusServiceUnavailable {
			t.Fatalf("got %d", res.code)
		}
	}
	if attempts() != 1 || p.Reloads() != 0 {
		t.Fatalf("%d reload attempts, %d reloads; want one failed attempt per backoff", attempts(), p.Reloads())
	}
}

// A trap fails the streams paused on the same VM at once, instead of
// leaving them to time out.
func TestTrapFailsPausedStreamsOfTheVM(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.StreamTimeout = 10 * time.Second
	p := startConformance(t, Options{}, cfg)
	done := make(chan result, 1)
	go func() { done <- do(t, p, echoUpstream, "GET", "/", "", "x-do", "pause-req") }()
	eventually(t, "the first stream to pause", func() bool { return len(callbackTrace(p, "2")) >= 2 })
	start := time.Now()
	do(t, p, echoUpstream, "GET", "/", "", "x-do", "panic")
	res := <-done
	if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" || time.Since(start) > 5*time.Second {
		t.Fatalf("paused stream got %d %q after %v", res.code, res.header.Get(DetailsHeader), time.Since(start))
	}
}

// cpp-host caps a VM's linear memory (include/proxy-wasm/limits.h, 1 GiB):
// past the cap memory.grow fails, the Go runtime aborts, and the VM dies
// like any trapped VM.
func TestMemoryPastTheCapKillsTheVM(t *testing.T) {
	p := startConformance(t, Options{MemoryLimitBytes: 48 << 20}, conformanceConfig("plain"))
	if res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "grow:8"); res.code != 200 {
		t.Fatalf("under the cap: %d", res.code)
	}
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "grow:64")
	if res.code != 503 || res.header.Get(DetailsHeader) != "wasm_fail_stream" {
		t.Fatalf("past the cap: %d %q", res.code, res.header.Get(DetailsHeader))
	}
	if len(p.Traps()) == 0 || !strings.Contains(strings.Join(p.Traps(), "\n"), "out of memory") {
		t.Fatalf("traps %q", p.Traps())
	}
}
