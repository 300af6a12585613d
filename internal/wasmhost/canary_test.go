package wasmhost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCanaryRejectsConfigurationAtStart(t *testing.T) {
	m := compileGuest(t, "conformance", Options{})
	_, err := m.Start(context.Background(), conformanceConfig("reject-me"))
	if err == nil || !strings.Contains(err.Error(), "configuration canary") ||
		!strings.Contains(err.Error(), "invalid configuration: reject-me") {
		t.Fatalf("got %v", err)
	}
}

// The canary is a real VM: _initialize, vm_start and configure run in a
// throw-away instance, whose side effects (here a shared-data write) stay.
func TestCanaryRunsConfigureInAThrowAwayVM(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("configure-writes"))
	var canary, worker int
	for _, e := range p.Logs() {
		if strings.HasPrefix(e.Message, "cb on_configure") {
			if e.Worker == -1 {
				canary++
			} else {
				worker++
			}
		}
	}
	if canary != 1 || worker != 1 {
		t.Fatalf("configure ran %d times in the canary, %d in workers", canary, worker)
	}
	if v, _, ok := p.SharedData().Get("configured-by"); !ok || string(v) != "configure-writes" {
		t.Fatalf("shared data %q %v", v, ok)
	}
}

func TestReconfigure(t *testing.T) {
	cfg := conformanceConfig("first")
	cfg.Workers = 2
	p := startConformance(t, Options{}, cfg)
	err := p.Reconfigure(context.Background(), []byte("reject-second"))
	if err == nil || !strings.Contains(err.Error(), "invalid configuration: reject-second") {
		t.Fatalf("got %v", err)
	}
	if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != 200 {
		t.Fatalf("old configuration should stay: %d", res.code)
	}
	if err := p.Reconfigure(context.Background(), []byte("third")); err != nil {
		t.Fatal(err)
	}
	if !hasLog(p, LogInfo, `configure config="third"`) {
		t.Fatal("new configuration not applied")
	}
	// Each worker: new root context (id 3 after root 1 and one stream or so),
	// and the old root got on_done and on_delete.
	trace := strings.Join(callbackTrace(p, "1"), ",")
	if !strings.HasSuffix(trace, "on_done,on_delete") {
		t.Fatalf("old root trace %s", trace)
	}
	if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != 200 {
		t.Fatalf("got %d", res.code)
	}
}

// A stream started under the old configuration keeps its root context
// until it ends; only then does the old root get on_done and on_delete.
func TestReconfigureKeepsTheOldRootForItsStreams(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
	}))
	defer backend.Close()
	cfg := conformanceConfig("first")
	cfg.Clusters = map[string]string{"backend": backend.URL}
	p := startConformance(t, Options{}, cfg)
	done := make(chan result, 1)
	go func() { done <- do(t, p, echoUpstream, "GET", "/", "", "x-do", "callout:backend|/|2000") }()
	eventually(t, "the stream to pause", func() bool { return len(callbackTrace(p, "2")) >= 2 })
	if err := p.Reconfigure(context.Background(), []byte("second")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(callbackTrace(p, "1"), ","), "on_done") {
		t.Fatal("the old root was shut down under a running stream")
	}
	if res := <-done; res.code != 200 || res.header.Get("X-Callout-Status") != "200" {
		t.Fatalf("got %d %v", res.code, res.header)
	}
	eventually(t, "the old root's shutdown", func() bool {
		return strings.HasSuffix(strings.Join(callbackTrace(p, "1"), ","), "on_done,on_delete")
	})
}
