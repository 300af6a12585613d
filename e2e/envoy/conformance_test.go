package envoy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	// The kit's clusters enable HTTP/1 trailers upstream.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	"github.com/apiguard/apiguard/e2e/conformance"
	"github.com/apiguard/apiguard/e2e/envoyconfig"
)

// TestConformanceKitThroughRealEnvoy runs the host conformance kit
// (e2e/conformance) against a real Envoy: the same assertions wasmhost
// passes in make test, each naming the Envoy source it mirrors.
func TestConformanceKitThroughRealEnvoy(t *testing.T) {
	envoy := envoyBinary(t)
	conformance.Run(t, conformance.Host{MemoryCap: conformance.EnvoyMemoryCap, Start: func(t *testing.T, wasm, upstream string, clusters map[string]string) string {
		p := ports{listener: freePort(t), admin: freePort(t)}
		cfg := conformanceConfig(t, wasm, p, map[string]string{"upstream": upstream,
			conformance.ClusterBackend: clusters[conformance.ClusterBackend], conformance.ClusterRefused: clusters[conformance.ClusterRefused]})
		cfgPath := filepath.Join(t.TempDir(), "envoy.json")
		if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
			t.Fatal(err)
		}
		log := runEnvoy(t, envoy, cfgPath, p, "--concurrency", "1", "--log-level", "warn")
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("envoy log:\n%s%s", lastLines(log.String(), 60), explain(log.String()))
			}
		})
		return fmt.Sprintf("http://127.0.0.1:%d", p.listener)
	}})
}

// TestConformanceConfigIsValid checks the kit's Envoy configuration against
// Envoy's protos, with or without an Envoy binary.
func TestConformanceConfigIsValid(t *testing.T) {
	conformanceConfig(t, "/abs/conformance.wasm", ports{listener: 20000, admin: 20001},
		map[string]string{"upstream": "http://127.0.0.1:20002", conformance.ClusterBackend: "http://127.0.0.1:20003",
			conformance.ClusterRefused: "http://127.0.0.1:20004"})
}

// conformanceConfig is an Envoy bootstrap with the conformance guest in
// front of the kit's upstream, HTTP/1 trailers enabled both ways, and the
// kit's clusters; it is checked against Envoy's protos.
func conformanceConfig(t *testing.T, wasm string, p ports, clusters map[string]string) []byte {
	t.Helper()
	addr := func(port int) map[string]any {
		return map[string]any{"socket_address": map[string]any{"address": "127.0.0.1", "port_value": port}}
	}
	var cs []any
	for name, raw := range clusters {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(u.Port())
		cs = append(cs, map[string]any{
			"name": name, "type": "STATIC", "connect_timeout": "1s",
			"load_assignment": map[string]any{"cluster_name": name, "endpoints": []any{map[string]any{
				"lb_endpoints": []any{map[string]any{"endpoint": map[string]any{"address": addr(port)}}}}}},
			"typed_extension_protocol_options": map[string]any{"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": map[string]any{
				"@type":                "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
				"explicit_http_config": map[string]any{"http_protocol_options": map[string]any{"enable_trailers": true}}}},
		})
	}
	hcm := map[string]any{
		"@type":                 "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
		"stat_prefix":           "conformance",
		"http_protocol_options": map[string]any{"enable_trailers": true},
		"route_config": map[string]any{"virtual_hosts": []any{map[string]any{"name": "all", "domains": []any{"*"},
			"routes": []any{map[string]any{"match": map[string]any{"prefix": "/"}, "route": map[string]any{"cluster": "upstream", "timeout": "10s"}}}}}},
		"http_filters": []any{
			map[string]any{"name": "envoy.filters.http.wasm", "typed_config": map[string]any{
				"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
				"config": map[string]any{"name": "conformance", "root_id": "conformance",
					"configuration": map[string]any{"@type": "type.googleapis.com/google.protobuf.StringValue", "value": conformance.Config},
					"vm_config": map[string]any{"vm_id": "conformance", "runtime": "envoy.wasm.runtime.v8",
						"code": map[string]any{"local": map[string]any{"filename": wasm}}}}}},
			map[string]any{"name": "envoy.filters.http.router", "typed_config": map[string]any{
				"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
		},
	}
	cfg := map[string]any{
		"admin": map[string]any{"address": addr(p.admin)},
		"static_resources": map[string]any{
			"listeners": []any{map[string]any{"name": "conformance", "address": addr(p.listener),
				"filter_chains": []any{map[string]any{"filters": []any{map[string]any{
					"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}}}}}},
			"clusters": cs,
		},
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envoyconfig.LoadBootstrap(out); err != nil {
		t.Fatalf("the conformance config is invalid: %v\n%s", err, out)
	}
	return out
}
