package settings_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/settings"
)

const schemaFile = "../../docs/apiguard.schema.json"

// The committed schema is what the types generate: regenerate it with
// `make schema` after changing a settings type.
func TestCommittedSchemaIsGenerated(t *testing.T) {
	s, err := settings.Schema()
	if err != nil {
		t.Fatal(err)
	}
	want, err := config.MarshalSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run `make schema`", schemaFile)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := settings.Schema()
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.MarshalSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(settings.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(settings.SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// schemaPointers validates data and returns the JSON Pointer of every
// leaf error. This is the mapping to the decoder's paths: a missing
// required key or an unknown key is reported by the validator at its parent
// object, so the key is appended, which is where the decoder reports it;
// and a value that may also be null (an optional section) fails both
// branches of its anyOf, so the "want null" branch is dropped.
func schemaPointers(t *testing.T, sch *jsonschema.Schema, data []byte) []string {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	var out []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		base := pointer(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				out = append(out, base+"/"+escape(m))
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				out = append(out, base+"/"+escape(p))
			}
		case *kind.Type:
			if !slices.Equal(k.Want, []string{"null"}) {
				out = append(out, base)
			}
		default:
			out = append(out, base)
		}
	}
	walk(ve)
	slices.Sort(out)
	return slices.Compact(out)
}

func escape(tok string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok) }

func pointer(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		b.WriteString("/" + escape(tok))
	}
	return b.String()
}

// decoderPointers decodes data and maps every error's path to a pointer.
func decoderPointers(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for _, e := range config.DecodeAll(data, &settings.Settings{}) {
		p, err := config.PathToPointer(e.Path)
		if err != nil {
			t.Fatalf("error path %q: %v", e.Path, err)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// exampleConfigs returns every configuration document shipped in the
// repository: the JSON files, and the snippets of docs/*.md (a ```json
// block holding one section, wrapped into a document).
func exampleConfigs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var files []string
	for _, g := range []string{"../../envoy/*.json", "../../e2e/*/*.json", "../../e2e/*/testdata/*.json"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, f := range files {
		if strings.Contains(f, "grafana") || strings.HasPrefix(filepath.Base(f), "package") {
			continue // a dashboard, npm's package files
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "demo-response-filter.json") { // the section alone
			b = append(append([]byte(`{"response_filter":`), b...), '}')
		}
		out[f] = b
	}
	docs, _ := filepath.Glob("../../docs/*.md")
	block := regexp.MustCompile("(?s)```json\n(.*?)```")
	for _, f := range docs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllSubmatch(b, -1) {
			snippet := bytes.TrimSpace(m[1])
			if bytes.HasPrefix(snippet, []byte(`"`)) {
				snippet = append(append([]byte("{"), snippet...), '}')
			}
			out[f+"#"+string(rune('1'+i))] = snippet
		}
	}
	if len(out) < 5 {
		t.Fatalf("found only %d example configurations", len(out))
	}
	return out
}

func TestEveryExampleValidatesWithSchemaAndDecoder(t *testing.T) {
	sch := compileSchema(t)
	for name, data := range exampleConfigs(t) {
		if errs := config.DecodeAll(data, &settings.Settings{}); len(errs) > 0 {
			t.Errorf("%s: decoder: %v", name, errs)
		}
		if ptrs := schemaPointers(t, sch, data); len(ptrs) > 0 {
			t.Errorf("%s: schema refuses it at %v", name, ptrs)
		}
	}
}

// Invalid structures are refused by both, at the same places.
func TestSchemaAndDecoderRefuseTheSameStructures(t *testing.T) {
	sch := compileSchema(t)
	for _, tc := range []struct{ name, doc string }{
		{"unknown top-level key", `{"jwts": {}}`},
		{"unknown provider key", `{"jwt": {"providers": {"corp": {"issuer": "i", "audience": ["a"], "local_jwks": {"keys": []}}}, "rules": []}}`},
		{"unknown key in a quoted map key", `{"jwt": {"providers": {"a.b": {"isuer": "i"}}}}`},
		{"unknown match key", `{"response_filter": {"rules": [{"match": {"prefx": "/"}, "allow": []}]}}`},
		{"unknown keys in two places", `{"rate_limits": [{"name": "a", "key": ["path"], "limits": [{"requests": 1, "per": "1s", "brust": 1}], "shadw": true}]}`},
		{"section of the wrong type", `{"jwt": []}`},
		{"list of the wrong type", `{"rate_limits": {"name": "a"}}`},
		{"string for integer", `{"rate_limits": [{"name": "a", "key": ["path"], "limits": [{"requests": "10", "per": "1s"}]}]}`},
		{"fraction for integer", `{"response_filter": {"max_body_bytes": 1.5}}`},
		{"number for duration", `{"rate_limits": [{"name": "a", "key": ["path"], "limits": [{"requests": 10, "per": 60}]}]}`},
		{"duration without unit", `{"jwt": {"providers": {"p": {"secret": "s", "clock_skew": "60"}}}}`},
		{"string for boolean", `{"jwt": {"providers": {}, "rules": [], "bypass_cors_preflight": "yes"}}`},
		{"number for string list element", `{"telemetry": {"audit": {"mask": ["password", 7]}}}`},
		{"object for claim path", `{"jwt": {"providers": {"p": {"secret": "s", "claim_to_headers": [{"claim": {}, "header": "x"}]}}}}`},
		{"status out of range", `{"response_filter": {"rules": [{"match": {}, "statuses": [700]}]}}`},
		{"missing required key", `{"rate_limits": [{"key": ["path"], "limits": [{"requests": 1, "per": "1s"}]}]}`},
		{"missing required keys in a window", `{"rate_limits": [{"name": "a", "key": ["path"], "limits": [{"burst": 1}]}]}`},
		{"missing remote_jwks uri", `{"jwt": {"providers": {"p": {"remote_jwks": {"cluster": "idp"}}}}}`},
		{"missing claim in a condition", `{"response_filter": {"rules": [{"match": {}, "allow_for_claims": [{"claims": [{"equals": "x"}], "allow": ["a"]}]}]}}`},
		{"missing header name", `{"rate_limits": [{"name": "a", "key": ["path"], "match": {"headers": [{"exact": "x"}]}, "limits": [{"requests": 1, "per": "1s"}]}]}`},
		{"value outside an enumeration", `{"response_filter": {"on_error": "drop"}}`},
		{"empty string for an enumeration", `{"telemetry": {"audit": {"sink": ""}}}`},
		{"enumerations in a list", `{"rate_limits": [{"name": "a", "key": ["path"], "limits": [{"requests": 1, "per": "1s"}], "failure_mode": "open", "headers": "all"}]}`},
		{"key part spelled before 1.0", `{"rate_limits": [{"name": "a", "key": ["path", "source.ip"], "limits": [{"requests": 1, "per": "1s"}]}]}`},
		{"descriptor source spelled before 1.0", `{"rate_limits": [{"name": "a", "key": ["path"], "global": {"cluster": "c", "domain": "d", "descriptors": [[{"key": "u", "from": "jwt.sub"}]]}}]}`},
		{"value spelled before 1.0", `{"headers_with_underscores": "reject"}`},
		{"key spelled before 1.0", `{"response_filter": {"rules": [{"match": {}, "allow_for_claims": [{"when": [{"claim": "a", "equals": "x"}], "allow": ["a"]}]}]}}`},
		{"errors in several sections", `{"client_ip": {"trusted_hops": "1"}, "telemetry": {"otlp": {}}, "response_filter": {"on_eror": "deny"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.doc)
			dec := decoderPointers(t, data)
			sch := schemaPointers(t, sch, data)
			if len(dec) == 0 || len(sch) == 0 {
				t.Fatalf("decoder %v, schema %v: both must refuse", dec, sch)
			}
			if !slices.Equal(dec, sch) {
				t.Errorf("refused at different places:\ndecoder %v\nschema  %v", dec, sch)
			}
			// The way back: every pointer names the decoder's path.
			for _, e := range config.DecodeAll(data, &settings.Settings{}) {
				p, _ := config.PathToPointer(e.Path)
				back, err := config.PointerToPath(data, p)
				if err != nil || back != e.Path {
					t.Errorf("PointerToPath(%q) = %q, %v; want %q", p, back, err, e.Path)
				}
			}
		})
	}
}
