package envoyconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	metricsv3 "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"sigs.k8s.io/yaml"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

var update = flag.Bool("update", false, "rewrite the copies in envoy/*.yaml: the demo config from envoy/demo-config.json, stats_tags from envoy/stats_tags.yaml")

const (
	envoyYAML       = "envoy/envoy.yaml"
	demoConfigJSON  = "envoy/demo-config.json"
	statsTagsYAML   = "envoy/stats_tags.yaml"
	wasmPluginYAML  = "envoy/istio/wasmplugin.yaml"
	envoyFilterYAML = "envoy/istio/envoyfilter-stop-iteration.yaml"
)

// repoFile reads a file relative to the repository root.
func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadEnvoyYAML(t *testing.T) *bootstrapv3.Bootstrap {
	t.Helper()
	b, err := LoadBootstrap(repoFile(t, envoyYAML))
	if err != nil {
		t.Fatalf("%s is not a valid Envoy bootstrap:\n%v", envoyYAML, err)
	}
	return b
}

// wasmFilters returns the Wasm HTTP filters of the bootstrap.
func wasmFilters(t *testing.T, b *bootstrapv3.Bootstrap) []*wasmfilterv3.Wasm {
	t.Helper()
	filters, err := HTTPFilters(b)
	if err != nil {
		t.Fatal(err)
	}
	var out []*wasmfilterv3.Wasm
	for _, f := range filters {
		if !f.GetTypedConfig().MessageIs(&wasmfilterv3.Wasm{}) {
			continue
		}
		w := &wasmfilterv3.Wasm{}
		if err := f.GetTypedConfig().UnmarshalTo(w); err != nil {
			t.Fatal(err)
		}
		out = append(out, w)
	}
	return out
}

// pluginConfiguration returns the plugin JSON a Wasm PluginConfig carries as a StringValue.
func pluginConfiguration(t *testing.T, pc *wasmv3.PluginConfig) []byte {
	t.Helper()
	sv := &wrapperspb.StringValue{}
	if err := pc.GetConfiguration().UnmarshalTo(sv); err != nil {
		t.Fatalf("plugin configuration must be a google.protobuf.StringValue: %v", err)
	}
	return []byte(sv.GetValue())
}

func decodeJSON(t *testing.T, what string, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: not JSON: %v", what, err)
	}
	if d.More() {
		t.Fatalf("%s: trailing data after the JSON value", what)
	}
	return v
}

func TestEnvoyYAMLIsAValidBootstrap(t *testing.T) {
	b := loadEnvoyYAML(t)

	if got := b.GetAdmin().GetAddress().GetSocketAddress(); got.GetAddress() != "127.0.0.1" || got.GetPortValue() != 9901 {
		t.Errorf("admin listens on %s:%d, want 127.0.0.1:9901", got.GetAddress(), got.GetPortValue())
	}
	listeners := b.GetStaticResources().GetListeners()
	if len(listeners) != 1 {
		t.Fatalf("want one listener, got %d", len(listeners))
	}
	if got := listeners[0].GetAddress().GetSocketAddress(); got.GetAddress() != "127.0.0.1" || got.GetPortValue() != 10000 {
		t.Errorf("listener on %s:%d, want 127.0.0.1:10000", got.GetAddress(), got.GetPortValue())
	}

	filters, err := HTTPFilters(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(filters) < 2 || filters[len(filters)-1].GetName() != "envoy.filters.http.router" {
		t.Fatalf("the router must be the last HTTP filter: %v", filterNames(filters))
	}
	// apiguard comes first (it authenticates), after only Envoy's CORS
	// filter, which answers preflights itself (docs/requests.md).
	first := 0
	if filters[0].GetName() == "envoy.filters.http.cors" {
		first = 1
	}
	if !filters[first].GetTypedConfig().MessageIs(&wasmfilterv3.Wasm{}) {
		t.Errorf("apiguard must be the first HTTP filter but Envoy's CORS filter (it authenticates): %v", filterNames(filters))
	}

	ws := wasmFilters(t, b)
	if len(ws) != 1 {
		t.Fatalf("want one Wasm filter, got %d", len(ws))
	}
	pc := ws[0].GetConfig()
	vm := pc.GetVmConfig()
	if vm.GetVmId() == "" {
		t.Error("vm_config.vm_id must be set: shared data (rate limits, JWKS) is keyed by it")
	}
	if vm.GetRuntime() != "envoy.wasm.runtime.v8" {
		t.Errorf("runtime = %q, want envoy.wasm.runtime.v8", vm.GetRuntime())
	}
	if got := vm.GetCode().GetLocal().GetFilename(); got != "build/apiguard.wasm" {
		t.Errorf("code.local.filename = %q, want build/apiguard.wasm", got)
	}
	if !pc.GetAllowOnHeadersStopIteration().GetValue() {
		t.Error("allow_on_headers_stop_iteration must be true: response_filter needs the whole body before the status leaves")
	}
	if pc.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED {
		t.Errorf("failure_policy = %v, want FAIL_CLOSED (an authentication filter must not fail open)", pc.GetFailurePolicy())
	}
	if pc.GetRootId() == "" || pc.GetName() == "" {
		t.Error("name and root_id must be set")
	}

	clusters := map[string]bool{}
	for _, c := range b.GetStaticResources().GetClusters() {
		clusters[c.GetName()] = true
	}
	for _, want := range []string{"demo_upstream", "idp", "ratelimit", "otel"} {
		if !clusters[want] {
			t.Errorf("cluster %q missing", want)
		}
	}
	// Every cluster the plugin config calls out to must exist, or
	// proxy_http_call answers BAD_ARGUMENT at request time.
	for _, name := range referencedClusters(decodeJSON(t, "embedded plugin config", pluginConfiguration(t, pc))) {
		if !clusters[name] {
			t.Errorf("the plugin config calls out to cluster %q, which envoy.yaml does not define", name)
		}
	}
}

func filterNames(fs []*hcmv3.HttpFilter) []string {
	var names []string
	for _, f := range fs {
		names = append(names, f.GetName())
	}
	return names
}

// referencedClusters collects the string values of every "cluster" key in a
// decoded plugin config (remote_jwks.cluster, global.cluster, ...).
func referencedClusters(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "cluster" {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	sort.Strings(out)
	return out
}

// TestMistakesAreRejected feeds mutated copies of envoy.yaml to the checker:
// each mistake is one Envoy would refuse at startup.
func TestMistakesAreRejected(t *testing.T) {
	orig := string(repoFile(t, envoyYAML))
	cases := []struct {
		name, from, to, wantErr string
	}{
		{"typo in a Wasm PluginConfig field", "allow_on_headers_stop_iteration:", "allow_on_header_stop_iteration:", "allow_on_header_stop_iteration"},
		{"typo in a VmConfig field", "vm_id:", "vmid:", "vmid"},
		{"typo in a top-level field", "static_resources:", "static_resource:", "static_resource"},
		{"bad enum value", "failure_policy: FAIL_CLOSED", "failure_policy: FAIL_CLOSE", "FAIL_CLOSE"},
		{"unknown typed_config type", "filters.http.wasm.v3.Wasm", "filters.http.wasm.v3.Wasmm", "Wasmm"},
		{"rule violation inside an Any", "stat_prefix: ingress_http", `stat_prefix: ""`, "StatPrefix"},
		{"rule violation outside an Any", "port_value: 10000", "port_value: 70000", "PortValue"},
		{"deprecated field", "failure_policy: FAIL_CLOSED", "fail_open: true", "fail_open: field is deprecated"},
		{"duplicate key", "root_id: apiguard", "root_id: apiguard\n                root_id: other", "already set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Count(orig, tc.from) != 1 {
				t.Fatalf("envoy.yaml must contain %q exactly once for this test", tc.from)
			}
			mutated := strings.Replace(orig, tc.from, tc.to, 1)
			_, err := LoadBootstrap([]byte(mutated))
			if err == nil {
				t.Fatalf("accepted envoy.yaml with %s (%q -> %q)", tc.name, tc.from, tc.to)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error does not mention %q:\n%v", tc.wantErr, err)
			}
		})
	}
}

// TestValidateDeepLooksInsideAny shows why the deep walk exists: Envoy's
// generated ValidateAll stops at typed_config.
func TestValidateDeepLooksInsideAny(t *testing.T) {
	mutated := strings.Replace(string(repoFile(t, envoyYAML)), "stat_prefix: ingress_http", `stat_prefix: ""`, 1)
	b := &bootstrapv3.Bootstrap{}
	if err := Unmarshal([]byte(mutated), b); err != nil {
		t.Fatal(err)
	}
	if err := b.ValidateAll(); err != nil {
		t.Fatalf("the shallow check was expected to miss the error inside typed_config, got %v", err)
	}
	err := ValidateDeep(b)
	if err == nil {
		t.Fatal("ValidateDeep missed an empty stat_prefix inside the HttpConnectionManager")
	}
	if want := "typed_config<HttpConnectionManager>"; !strings.Contains(err.Error(), want) {
		t.Errorf("error path should name %s: %v", want, err)
	}
}

// TestDemoConfigInSync checks that every manifest carries envoy/demo-config.json
// as its plugin configuration (the WasmPlugin with headers_mode "streamed",
// see wasmPluginDemo). Run with -update to rewrite them from it.
func TestDemoConfigInSync(t *testing.T) {
	demo := repoFile(t, demoConfigJSON)
	want := decodeJSON(t, demoConfigJSON, demo)
	pluginDemo := wasmPluginDemo(t, demo)
	if *update {
		root := repoRoot(t)
		for _, f := range []string{envoyYAML, envoyFilterYAML, wasmPluginYAML} {
			path := filepath.Join(root, f)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			src := demo
			if f == wasmPluginYAML {
				src = pluginDemo
			}
			out, err := rewriteDemoConfig(data, src)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	t.Run("envoy.yaml", func(t *testing.T) {
		ws := wasmFilters(t, loadEnvoyYAML(t))
		if len(ws) == 0 {
			t.Fatal("no Wasm filter")
		}
		got := decodeJSON(t, envoyYAML, pluginConfiguration(t, ws[0].GetConfig()))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the configuration in %s differs from %s; run: go test ./e2e/envoyconfig -run TestDemoConfigInSync -update", envoyYAML, demoConfigJSON)
		}
	})
	t.Run("envoyfilter", func(t *testing.T) {
		w := &wasmfilterv3.Wasm{}
		if err := envoyFilterExtensionConfig(t).GetTypedConfig().UnmarshalTo(w); err != nil {
			t.Fatal(err)
		}
		got := decodeJSON(t, envoyFilterYAML, pluginConfiguration(t, w.GetConfig()))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the configuration in %s differs from %s; run with -update", envoyFilterYAML, demoConfigJSON)
		}
	})
	t.Run("wasmplugin", func(t *testing.T) {
		// pluginConfig is a google.protobuf.Struct: compare it as JSON.
		got := decodeJSON(t, wasmPluginYAML, loadWasmPlugin(t).Spec.PluginConfig)
		if !reflect.DeepEqual(got, decodeJSON(t, demoConfigJSON, pluginDemo)) {
			t.Errorf("pluginConfig in %s differs from %s; run with -update", wasmPluginYAML, demoConfigJSON)
		}
	})
}

// wasmPluginDemo is the demo configuration as the WasmPlugin carries it:
// headers_mode "streamed", since Istio's WasmPlugin cannot set
// allow_on_headers_stop_iteration, and with "held" every filtered response
// would wait for the route timeout (validate reports it).
func wasmPluginDemo(t *testing.T, demo []byte) []byte {
	t.Helper()
	const held, streamed = `"headers_mode": "held"`, `"headers_mode": "streamed"`
	if n := bytes.Count(demo, []byte(held)); n != 1 {
		t.Fatalf("%s has %d %s, want 1", demoConfigJSON, n, held)
	}
	return bytes.Replace(demo, []byte(held), []byte(streamed), 1)
}

// rewriteDemoConfig replaces what lies between the "# BEGIN apiguard demo
// config" and "# END apiguard demo config" markers (after the BEGIN marker's
// comment lines): a `value: |` block scalar holding the JSON as written, or a
// `pluginConfig:` YAML mapping.
func rewriteDemoConfig(doc, demoJSON []byte) ([]byte, error) {
	lines := strings.Split(string(doc), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		out = append(out, lines[i])
		if !strings.Contains(lines[i], "# BEGIN apiguard demo config") {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "#") {
			i++
			out = append(out, lines[i])
		}
		end := i + 1
		for end < len(lines) && !strings.Contains(lines[end], "# END apiguard demo config") {
			end++
		}
		if end == len(lines) {
			return nil, errors.New("envoyconfig: BEGIN apiguard demo config without END marker")
		}
		key := strings.TrimSpace(lines[i+1])
		switch {
		case strings.HasPrefix(key, "value:"):
			out = append(out, indent+"value: |")
			for _, l := range strings.Split(strings.TrimRight(string(demoJSON), "\n"), "\n") {
				out = append(out, strings.TrimRight(indent+"  "+l, " "))
			}
		case strings.HasPrefix(key, "pluginConfig:"):
			y, err := yaml.JSONToYAML(demoJSON)
			if err != nil {
				return nil, fmt.Errorf("envoyconfig: demo config: %w", err)
			}
			out = append(out, indent+"pluginConfig:")
			for _, l := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
				out = append(out, indent+"  "+l)
			}
		default:
			return nil, fmt.Errorf("envoyconfig: expected value: or pluginConfig: after the BEGIN marker, got %q", key)
		}
		i = end - 1
	}
	return []byte(strings.Join(out, "\n")), nil
}

func TestRewriteDemoConfigRoundTrip(t *testing.T) {
	demo := []byte("{\n  \"jwt\": {\"providers\": {}},\n  \"rate_limits\": []\n}\n")
	want := decodeJSON(t, "demo", demo)
	for _, f := range []string{envoyYAML, envoyFilterYAML, wasmPluginYAML} {
		out, err := rewriteDemoConfig(repoFile(t, f), demo)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		js, err := YAMLToJSON(out)
		if err != nil {
			t.Fatalf("%s: rewritten file is not YAML: %v", f, err)
		}
		if !bytes.Contains(js, []byte(`rate_limits`)) {
			t.Errorf("%s: rewritten file lacks the new config", f)
		}
		if f == wasmPluginYAML {
			var wp wasmPlugin
			if err := json.Unmarshal(js, &wp); err != nil {
				t.Fatal(err)
			}
			if got := decodeJSON(t, f, wp.Spec.PluginConfig); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: pluginConfig = %v, want %v", f, got, want)
			}
		}
	}
}

// TestStatsTagsInSync checks that envoy.yaml's stats_config.stats_tags equals
// envoy/stats_tags.yaml, which the telemetry package's tests own.
func TestStatsTagsInSync(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), statsTagsYAML))
	if os.IsNotExist(err) {
		t.Skipf("%s does not exist yet", statsTagsYAML)
	}
	if err != nil {
		t.Fatal(err)
	}
	tags, err := parseStatsTags(data)
	if err != nil {
		t.Fatalf("%s: %v", statsTagsYAML, err)
	}
	if *update {
		path := filepath.Join(repoRoot(t), envoyYAML)
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out, err := rewriteStatsConfig(doc, tags)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := loadEnvoyYAML(t).GetStatsConfig()
	if !proto.Equal(&metricsv3.StatsConfig{StatsTags: got.GetStatsTags()}, tags) {
		t.Errorf("stats_config.stats_tags in %s differs from %s; run: go test ./e2e/envoyconfig -run TestStatsTagsInSync -update", envoyYAML, statsTagsYAML)
	}
}

// rewriteStatsConfig replaces the stats_config section between the
// "# BEGIN stats_config" and "# END stats_config" markers (after the BEGIN
// marker's comment lines) with sc.
func rewriteStatsConfig(doc []byte, sc *metricsv3.StatsConfig) ([]byte, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&metricsv3.StatsConfig{StatsTags: sc.GetStatsTags()})
	if err != nil {
		return nil, err
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(doc), "\n")
	begin, end := -1, -1
	for i, l := range lines {
		if strings.HasPrefix(l, "# BEGIN stats_config") {
			begin = i
		}
		if strings.HasPrefix(l, "# END stats_config") {
			end = i
		}
	}
	if begin < 0 || end < begin {
		return nil, errors.New("envoyconfig: stats_config markers not found in envoy.yaml")
	}
	keep := begin + 1
	for keep < end && strings.HasPrefix(lines[keep], "#") {
		keep++
	}
	section := []string{"stats_config:"}
	for _, l := range strings.Split(strings.TrimRight(string(y), "\n"), "\n") {
		section = append(section, "  "+l)
	}
	out := append(append(append([]string{}, lines[:keep]...), section...), lines[end:]...)
	return []byte(strings.Join(out, "\n")), nil
}

func TestRewriteStatsConfig(t *testing.T) {
	sc, err := parseStatsTags([]byte("- tag_name: decision\n  regex: '^wasmcustom\\.x(\\.decision\\.([a-z_]+))\\.'\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := rewriteStatsConfig(repoFile(t, envoyYAML), sc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadBootstrap(out)
	if err != nil {
		t.Fatalf("rewritten envoy.yaml is invalid: %v\n%s", err, out)
	}
	if !proto.Equal(&metricsv3.StatsConfig{StatsTags: b.GetStatsConfig().GetStatsTags()}, sc) {
		t.Errorf("rewritten stats_config = %v, want %v", b.GetStatsConfig(), sc)
	}
}

// parseStatsTags accepts a bare list of TagSpecifiers, {stats_tags: [...]} or
// {stats_config: {stats_tags: [...]}}, and validates it against Envoy's protos.
func parseStatsTags(data []byte) (*metricsv3.StatsConfig, error) {
	js, err := YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, err
	}
	if m, ok := raw.(map[string]any); ok {
		if sc, ok := m["stats_config"]; ok {
			raw = sc
		}
	}
	if m, ok := raw.(map[string]any); ok {
		raw = m["stats_tags"]
	}
	list, err := json.Marshal(map[string]any{"stats_tags": raw})
	if err != nil {
		return nil, err
	}
	sc := &metricsv3.StatsConfig{}
	if err := Unmarshal(list, sc); err != nil {
		return nil, err
	}
	if err := ValidateDeep(sc); err != nil {
		return nil, err
	}
	return sc, nil
}

func TestParseStatsTagsForms(t *testing.T) {
	for _, doc := range []string{
		"- tag_name: decision\n  regex: '^wasmcustom\\.apiguard\\.(?:[a-z0-9_]+\\.)*decision\\.(([a-z_]+)\\.)'\n",
		"stats_tags:\n- tag_name: decision\n  regex: 'x(y)'\n",
		"stats_config:\n  stats_tags:\n  - tag_name: decision\n    regex: 'x(y)'\n",
	} {
		sc, err := parseStatsTags([]byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if len(sc.GetStatsTags()) != 1 || sc.GetStatsTags()[0].GetTagName() != "decision" {
			t.Errorf("%q: got %v", doc, sc)
		}
	}
	if _, err := parseStatsTags([]byte("- tag_nam: decision\n")); err == nil {
		t.Error("a typo in a TagSpecifier was accepted")
	}
}

// Istio manifests.

type wasmPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		URL          string          `json:"url"`
		PluginName   string          `json:"pluginName"`
		Phase        string          `json:"phase"`
		FailStrategy string          `json:"failStrategy"`
		Type         string          `json:"type"`
		PluginConfig json.RawMessage `json:"pluginConfig"`
	} `json:"spec"`
}

func loadWasmPlugin(t *testing.T) wasmPlugin {
	t.Helper()
	js, err := YAMLToJSON(repoFile(t, wasmPluginYAML))
	if err != nil {
		t.Fatal(err)
	}
	var wp wasmPlugin
	if err := json.Unmarshal(js, &wp); err != nil {
		t.Fatal(err)
	}
	return wp
}

func TestIstioWasmPlugin(t *testing.T) {
	wp := loadWasmPlugin(t)
	if wp.APIVersion != "extensions.istio.io/v1alpha1" || wp.Kind != "WasmPlugin" {
		t.Errorf("got %s %s, want extensions.istio.io/v1alpha1 WasmPlugin", wp.APIVersion, wp.Kind)
	}
	if wp.Spec.Phase != "AUTHN" {
		t.Errorf("phase = %q, want AUTHN (apiguard authenticates)", wp.Spec.Phase)
	}
	if wp.Spec.FailStrategy != "FAIL_CLOSE" {
		t.Errorf("failStrategy = %q, want FAIL_CLOSE", wp.Spec.FailStrategy)
	}
	if wp.Spec.URL == "" || wp.Spec.PluginName == "" {
		t.Error("url and pluginName must be set")
	}
}

type envoyFilter struct {
	Kind string `json:"kind"`
	Spec struct {
		ConfigPatches []struct {
			ApplyTo string `json:"applyTo"`
			Patch   struct {
				Operation   string          `json:"operation"`
				FilterClass string          `json:"filterClass"`
				Value       json.RawMessage `json:"value"`
			} `json:"patch"`
		} `json:"configPatches"`
	} `json:"spec"`
}

func loadEnvoyFilter(t *testing.T) envoyFilter {
	t.Helper()
	js, err := YAMLToJSON(repoFile(t, envoyFilterYAML))
	if err != nil {
		t.Fatal(err)
	}
	var ef envoyFilter
	if err := json.Unmarshal(js, &ef); err != nil {
		t.Fatal(err)
	}
	if ef.Kind != "EnvoyFilter" {
		t.Fatalf("kind = %q, want EnvoyFilter", ef.Kind)
	}
	return ef
}

func envoyFilterExtensionConfig(t *testing.T) *corev3.TypedExtensionConfig {
	t.Helper()
	for _, p := range loadEnvoyFilter(t).Spec.ConfigPatches {
		if p.ApplyTo != "EXTENSION_CONFIG" {
			continue
		}
		ec := &corev3.TypedExtensionConfig{}
		if err := Unmarshal(p.Patch.Value, ec); err != nil {
			t.Fatal(err)
		}
		return ec
	}
	t.Fatal("no EXTENSION_CONFIG patch")
	return nil
}

// TestIstioEnvoyFilter checks each patch value against Envoy's protos, and
// that the filter it defines sets allow_on_headers_stop_iteration.
func TestIstioEnvoyFilter(t *testing.T) {
	ef := loadEnvoyFilter(t)
	var extName, filterName string
	for i, p := range ef.Spec.ConfigPatches {
		switch p.ApplyTo {
		case "EXTENSION_CONFIG":
			// Istio applies only ADD to EXTENSION_CONFIG.
			if p.Patch.Operation != "ADD" {
				t.Errorf("patch %d: EXTENSION_CONFIG supports only ADD, got %s", i, p.Patch.Operation)
			}
			ec := &corev3.TypedExtensionConfig{}
			if err := Unmarshal(p.Patch.Value, ec); err != nil {
				t.Fatalf("patch %d: %v", i, err)
			}
			if err := ValidateDeep(ec); err != nil {
				t.Fatalf("patch %d: %v", i, err)
			}
			w := &wasmfilterv3.Wasm{}
			if err := ec.GetTypedConfig().UnmarshalTo(w); err != nil {
				t.Fatalf("patch %d: typed_config is not a Wasm HTTP filter: %v", i, err)
			}
			pc := w.GetConfig()
			if !pc.GetAllowOnHeadersStopIteration().GetValue() {
				t.Error("the EnvoyFilter exists to set allow_on_headers_stop_iteration: true")
			}
			if pc.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED {
				t.Errorf("failure_policy = %v, want FAIL_CLOSED", pc.GetFailurePolicy())
			}
			if pc.GetVmConfig().GetVmId() == "" {
				t.Error("vm_id must be set")
			}
			extName = ec.GetName()
		case "HTTP_FILTER":
			f := &hcmv3.HttpFilter{}
			if err := Unmarshal(p.Patch.Value, f); err != nil {
				t.Fatalf("patch %d: %v", i, err)
			}
			if err := ValidateDeep(f); err != nil {
				t.Fatalf("patch %d: %v", i, err)
			}
			if f.GetConfigDiscovery() == nil {
				t.Errorf("patch %d: the HTTP filter must use config_discovery (ECDS)", i)
			}
			if p.Patch.FilterClass != "AUTHN" {
				t.Errorf("patch %d: filterClass = %q, want AUTHN", i, p.Patch.FilterClass)
			}
			filterName = f.GetName()
		default:
			t.Errorf("patch %d: unexpected applyTo %s", i, p.ApplyTo)
		}
	}
	if extName == "" || extName != filterName {
		t.Errorf("the HTTP filter (%q) must name the extension config (%q)", filterName, extName)
	}
}
