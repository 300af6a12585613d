package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runValidate(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String() + errOut.String(), code
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every shipped configuration, in each form, is valid.
func TestShippedConfigurationsAreValid(t *testing.T) {
	for _, f := range []string{"envoy/demo-config.json", "envoy/envoy.yaml", "envoy/istio/wasmplugin.yaml", "envoy/istio/envoyfilter-stop-iteration.yaml"} {
		out, code := runValidate(t, "../../../../"+f)
		if code != exitOK || !strings.Contains(out, ": valid") {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
	}
}

const threeMistakes = `{
  "jwt": {
    "providers": {"corp": {"issuer": "https://idp", "audience": ["api"], "local_jwks": {"keys": []}}},
    "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]
  },
  "rate_limits": [{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": "100", "per": "1m"}, {"per": "1h"}]}]
}`

func TestEveryErrorWithItsPlace(t *testing.T) {
	f := write(t, "c.json", threeMistakes)
	out, code := runValidate(t, f)
	if code != exitInvalid {
		t.Errorf("exit %d, want %d", code, exitInvalid)
	}
	for _, want := range []string{
		f + `:3:53: error: jwt.providers.corp.audience: unknown key (did you mean "audiences"?)`,
		f + `:6:84: error: rate_limits[0].limits[0].requests: expected integer, got string`,
		f + `:6:105: error: rate_limits[0].limits[1].requests: required`,
		f + `: 3 errors, 0 warnings`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSyntaxErrorWithLineAndColumn(t *testing.T) {
	f := write(t, "c.json", "{\n  \"jwt\": {\n    \"rules\": [],\n  }\n}")
	out, code := runValidate(t, f)
	if code != exitInvalid || !strings.Contains(out, f+":4:3: error: jwt: invalid JSON at line 4, column 3") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestWarningsWithFixAndStrict(t *testing.T) {
	f := write(t, "c.json", `{"jwt": {"providers": {"corp": {"local_jwks": {"keys": []}}}, "rules": [{"match": {"prefix": "/"}}, {"match": {"prefix": "/admin"}, "requires": {"provider": "corp"}}]}}`)
	out, code := runValidate(t, f)
	if code != exitOK {
		t.Errorf("warnings alone: exit %d, want 0", code)
	}
	for _, want := range []string{
		"warning: jwt.providers.corp: neither issuer nor audiences is checked",
		"warning: jwt.rules[1]: never applies: jwt.rules[0] matches every request it matches",
		"    fix: move it above jwt.rules[0], or remove it",
		": valid (2 warnings)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, code := runValidate(t, "--strict", f); code != exitInvalid {
		t.Errorf("--strict with warnings: exit %d, want %d", code, exitInvalid)
	}
}

// The plugin configuration inside an Envoy bootstrap and a WasmPlugin.
func TestEmbeddedConfigurations(t *testing.T) {
	bootstrap := write(t, "envoy.yaml", `static_resources:
  listeners:
  - name: main
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          http_filters:
          - name: apiguard
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: apiguard
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: |
                    {"rate_limits": [{"name": "x", "key": ["client_ip"],
                      "limits": [{"requests": 1, "per": 5}]}]}
`)
	out, code := runValidate(t, bootstrap)
	// The position is the file's: the block scalar's line 2, column 37 is
	// line 19, column 20+37.
	if code != exitInvalid || !strings.Contains(out, bootstrap+`:19:57: error: rate_limits[0].limits[0].per: expected a duration string such as "5s", got number`) {
		t.Errorf("bootstrap: exit %d:\n%s", code, out)
	}
	plugin := write(t, "wasmplugin.yaml", `apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: apiguard
spec:
  url: oci://example/apiguard:0.1.0
  pluginConfig:
    response_filter:
      on_eror: deny
      rules:
      - match: {}
        allow: []
`)
	out, code = runValidate(t, plugin)
	if code != exitInvalid || !strings.Contains(out, plugin+`:9:7: error: response_filter.on_eror: unknown key (did you mean "on_error"?)`) ||
		!strings.Contains(out, `(WasmPlugin apiguard: spec.pluginConfig): 1 error, 0 warnings`) {
		t.Errorf("WasmPlugin: exit %d:\n%s", code, out)
	}
	quoted := write(t, "quoted.yaml", `typed_config:
  "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
  config:
    configuration:
      "@type": type.googleapis.com/google.protobuf.StringValue
      value: "{\"jwt\": 1}"
`)
	if out, code := runValidate(t, quoted); code != exitInvalid || !strings.Contains(out, `(typed_config.config.configuration.value), line 1, column 9 of the embedded configuration: error: jwt: expected object, got number`) {
		t.Errorf("quoted value: exit %d:\n%s", code, out)
	}
	// A second YAML document: positions count from the file's start.
	multi := write(t, "multi.yaml", "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: a}\nspec:\n  pluginConfig:\n    jwt: []\n")
	if out, code := runValidate(t, multi); code != exitInvalid || !strings.Contains(out, multi+`:9:10: error: jwt: expected object, got array`) {
		t.Errorf("second document: exit %d:\n%s", code, out)
	}
	none := write(t, "other.yaml", "apiVersion: v1\nkind: ConfigMap\n")
	if out, code := runValidate(t, none); code != exitInvalid || !strings.Contains(out, "no apiguard configuration found") {
		t.Errorf("no configuration: exit %d:\n%s", code, out)
	}
}

func TestSchemaAndUsage(t *testing.T) {
	out, code := runValidate(t, "--schema")
	if code != exitOK || !strings.Contains(out, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Errorf("--schema: exit %d: %.200s", code, out)
	}
	if _, code := runValidate(t); code != exitUsage {
		t.Errorf("no file: exit %d, want %d", code, exitUsage)
	}
	if _, code := runValidate(t, "--dry-run", "--wasm", "/nonexistent.wasm", "x.json"); code != exitUsage {
		t.Errorf("missing module: exit %d, want %d", code, exitUsage)
	}
}
