package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/apiguard/apiguard/internal/config"
)

// Document is one apiguard configuration found in an input file.
type Document struct {
	// Where locates the configuration inside a manifest or bootstrap, as a
	// path ("spec.pluginConfig"); "" when the file is the configuration.
	Where string
	// Data is the configuration JSON. For a WasmPlugin's pluginConfig, which
	// is YAML, it is that YAML re-encoded, so its line numbers are not the
	// file's.
	Data []byte
	// Reencoded is true when Data was re-encoded from YAML: positions in it
	// are not positions in the file.
	Reencoded bool
	// Name is the Envoy plugin name (PluginConfig.name or the WasmPlugin's
	// pluginName), "" when the input does not say.
	Name string

	// StopIteration says whether Envoy holds the response headers while the
	// plugin reads the body (the Wasm PluginConfig's
	// allow_on_headers_stop_iteration, Envoy 1.35+; an Istio WasmPlugin
	// cannot set it); nil when the input does not say.
	StopIteration *bool

	// yaml and at locate an embedded configuration in its YAML file: the
	// document and the path of the value (a literal block scalar) or of the
	// pluginConfig mapping.
	yaml *yamlDoc
	at   string
}

// FilePosition returns where, in the input file, a finding about path (its
// key when key is true) at line and column of Data is: the same for a configuration file; the file
// line of an Envoy configuration written as a literal block (`value: |`);
// the YAML node of a WasmPlugin's pluginConfig. ok is false when the file
// cannot say (a quoted string value, a position-less finding).
func (d Document) FilePosition(path string, key bool, line, col int) (fileLine, fileCol int, ok bool) {
	switch {
	case d.yaml == nil:
		return line, col, line > 0 && d.Where == ""
	case d.Reencoded:
		full := d.at
		switch {
		case path == "":
		case strings.HasPrefix(path, "["):
			full += path
		default:
			full += "." + path
		}
		fileLine, fileCol = d.yaml.position(d.yaml.node(full, key))
		return fileLine, fileCol, true
	default:
		return d.yaml.blockPosition(d.yaml.node(d.at, false), line, col)
	}
}

// Type URLs of what embeds a configuration.
const (
	wasmFilterType  = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
	stringValueType = "type.googleapis.com/google.protobuf.StringValue"
)

// Extract finds the apiguard configurations in an input file: a
// configuration document itself (JSON), an Envoy bootstrap or an Istio
// EnvoyFilter (every HTTP Wasm filter's configuration, a
// google.protobuf.StringValue), or an Istio WasmPlugin (spec.pluginConfig).
// YAML files may hold several documents separated by "---".
func Extract(data []byte) ([]Document, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &top); err != nil {
			// Broken JSON: report it as a configuration, with its position.
			return []Document{{Data: data}}, nil
		}
		if !isManifest(top) {
			return []Document{{Data: data}}, nil
		}
	}
	var docs []Document
	parts := splitYAML(data)
	firstLine := 0 // file line before the part, for positions
	for i, part := range parts {
		partStart := firstLine
		// A part ends before a "---" line and the next starts on its rest.
		firstLine += bytes.Count(part, []byte("\n"))
		if len(bytes.TrimSpace(stripComments(part))) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(part)
		if err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", i+1, err)
		}
		var v any
		if err := json.Unmarshal(j, &v); err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", i+1, err)
		}
		prefix := ""
		if len(parts) > 1 {
			prefix = fmt.Sprintf("document %d: ", i+1)
		}
		found, err := walk(v, "", prefix)
		if err != nil {
			return nil, err
		}
		yd := parseYAMLDoc(part, partStart)
		for k := range found {
			if yd != nil && found[k].at != "" {
				found[k].yaml = yd
			}
		}
		docs = append(docs, found...)
	}
	if len(docs) == 0 {
		return nil, errors.New("no apiguard configuration found: want a configuration (JSON), an Envoy bootstrap or EnvoyFilter with an envoy.extensions.filters.http.wasm.v3.Wasm filter, or an Istio WasmPlugin")
	}
	return docs, nil
}

func isManifest(top map[string]json.RawMessage) bool {
	for _, k := range []string{"apiVersion", "kind", "static_resources", "dynamic_resources", "admin", "node"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

func splitYAML(data []byte) [][]byte {
	var parts [][]byte
	for _, p := range docSeparator.Split(string(data), -1) {
		parts = append(parts, []byte(p))
	}
	return parts
}

var commentLine = regexp.MustCompile(`(?m)^\s*#.*$`)

func stripComments(b []byte) []byte { return commentLine.ReplaceAll(b, nil) }

// walk finds embedded configurations in a decoded YAML document.
func walk(v any, path, prefix string) ([]Document, error) {
	var docs []Document
	switch n := v.(type) {
	case map[string]any:
		if n["kind"] == "WasmPlugin" {
			spec, _ := n["spec"].(map[string]any)
			name, _ := spec["pluginName"].(string)
			where := prefix + "WasmPlugin " + metadataName(n) + ": spec.pluginConfig"
			held := false // Istio's WasmPlugin has no allow_on_headers_stop_iteration
			cfg, ok := spec["pluginConfig"]
			if !ok {
				return []Document{{Where: where, Data: []byte("{}"), Reencoded: true, Name: name, StopIteration: &held}}, nil
			}
			b, err := json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				return nil, err
			}
			return []Document{{Where: where, Data: b, Reencoded: true, Name: name, StopIteration: &held,
				at: config.KeyPath(config.KeyPath(path, "spec"), "pluginConfig")}}, nil
		}
		if n["@type"] == wasmFilterType {
			doc, err := wasmFilterConfig(n, path, prefix)
			if err != nil {
				return nil, err
			}
			return []Document{doc}, nil
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			d, err := walk(n[k], config.KeyPath(path, k), prefix)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	case []any:
		for i, e := range n {
			d, err := walk(e, config.IndexPath(path, i), prefix)
			if err != nil {
				return nil, err
			}
			docs = append(docs, d...)
		}
	}
	return docs, nil
}

func metadataName(n map[string]any) string {
	md, _ := n["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	return name
}

// wasmFilterConfig reads the configuration of an Envoy Wasm HTTP filter.
func wasmFilterConfig(filter map[string]any, path, prefix string) (Document, error) {
	pc, _ := filter["config"].(map[string]any)
	name, _ := pc["name"].(string)
	held, _ := pc["allow_on_headers_stop_iteration"].(bool)
	where := prefix + path + ".config.configuration"
	c, ok := pc["configuration"].(map[string]any)
	if !ok {
		// No configuration: the plugin starts with the empty document.
		return Document{Where: where, Data: nil, Name: name, StopIteration: &held}, nil
	}
	if t := c["@type"]; t != stringValueType {
		return Document{}, fmt.Errorf("%s: @type %v: apiguard reads its configuration from a %s", where, t, stringValueType)
	}
	value, _ := c["value"].(string)
	return Document{Where: where + ".value", Data: []byte(value), Name: name, StopIteration: &held, at: path + ".config.configuration.value"}, nil
}
