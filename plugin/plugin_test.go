package main

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// These tests run the plugin natively through the SDK's proxytest emulator.
// Host semantics (StopAll, deferred replies, the canary) are exercised on the
// compiled module in e2e/, through internal/wasmhost.

func newHost(t *testing.T, config string) (proxytest.HostEmulator, types.OnPluginStartStatus) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	return host, host.StartPlugin()
}

func TestConfigWithUnknownKeyIsRefusedNamingThePath(t *testing.T) {
	host, status := newHost(t, `{"client_ip": {"trusted_hop": 1}}`)
	if status != types.OnPluginStartStatusFailed {
		t.Fatalf("plugin start = %v, want failed", status)
	}
	logs := strings.Join(host.GetCriticalLogs(), "\n")
	if !strings.Contains(logs, "client_ip.trusted_hop") {
		t.Errorf("critical logs %q do not name the JSON path client_ip.trusted_hop", logs)
	}
}

func TestEmptyConfigPassesRequestsThrough(t *testing.T) {
	host, status := newHost(t, ``)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	id := host.InitializeHttpContext()
	action := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/users?id=1"}, {":authority", "api"}}, true)
	if action != types.ActionContinue {
		t.Fatalf("request headers action = %v, want continue", action)
	}
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("unexpected local reply %d", r.StatusCode)
	}
}

func TestUnnormalisablePathIsRefusedAndTheReplyIsNotJudgedAgain(t *testing.T) {
	host, _ := newHost(t, `{}`)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/admin%2f..%2fsecret"}, {":authority", "api"}}, true)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 400 {
		t.Fatalf("local reply = %+v, want 400", r)
	}
	// Envoy passes the local reply back through this filter's response
	// callbacks; the plugin must let it through untouched.
	if a := host.CallOnResponseHeaders(id, [][2]string{{":status", "400"}}, false); a != types.ActionContinue {
		t.Errorf("own reply response headers action = %v, want continue", a)
	}
	if a := host.CallOnResponseBody(id, r.Data, true); a != types.ActionContinue {
		t.Errorf("own reply response body action = %v, want continue", a)
	}
}

// TestPluginIsDoneAtOnce: the module does not export proxy_on_done
// (internal/sdkabi/callbacks.go), so Envoy takes a plugin context as done the
// moment it asks; that is right only while a configured plugin has nothing
// to finish first (the SDK's OnPluginDone answering true).
func TestPluginIsDoneAtOnce(t *testing.T) {
	host, status := newHost(t, `{}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	if !host.FinishVM() {
		t.Fatal("the plugin context is not done when asked: export proxy_on_done again (internal/sdkabi/callbacks.go)")
	}
}
