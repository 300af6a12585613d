package wasmhost

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Options.ProfileHook sees every host call and every guest callback of a
// request, with the guest flag telling which is which.
func TestProfileHookReportsHostCallsAndCallbacks(t *testing.T) {
	var (
		mu    sync.Mutex
		host  = map[string]int{}
		guest = map[string]int{}
	)
	hook := func(name string, isGuest bool, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d < 0 {
			t.Errorf("%s: negative duration %v", name, d)
		}
		if isGuest {
			guest[name]++
		} else {
			host[name]++
		}
	}
	m := compileGuest(t, "conformance", Options{ProfileHook: hook})
	p, err := m.Start(context.Background(), conformanceConfig("plain"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if res := do(t, p, echoUpstream, "GET", "/", ""); res.code != 200 {
		t.Fatalf("got %d", res.code)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, cb := range []string{"proxy_on_configure", "proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_log", "proxy_on_delete"} {
		if guest[cb] == 0 {
			t.Errorf("callback %s not reported; got %v", cb, guest)
		}
	}
	for _, fn := range []string{"proxy_get_header_map_value", "proxy_increment_metric", "proxy_log"} {
		if host[fn] == 0 {
			t.Errorf("host call %s not reported; got %v", fn, host)
		}
	}
	if guest["proxy_get_header_map_value"] != 0 || host["proxy_on_request_headers"] != 0 {
		t.Errorf("host calls and callbacks mixed up: host %v guest %v", host, guest)
	}
}
