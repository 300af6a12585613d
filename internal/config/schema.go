package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
)

// SchemaDialect is the JSON Schema version Schema writes.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// SchemaProvider is implemented by types whose JSON form is not their Go
// shape (a json.Unmarshaler such as Duration): JSONSchema returns the
// schema of the values the type's decoding accepts.
type SchemaProvider interface {
	JSONSchema() map[string]any
}

var schemaProviderType = reflect.TypeFor[SchemaProvider]()

// Schema derives a JSON Schema (draft 2020-12) from the Go type of v, the
// way Decode reads it: the same keys (typeFields), `config:"required"` keys
// required, `config:"enum=..."` values enumerated, no other keys allowed, null allowed exactly where Decode accepts
// it, integer ranges of the Go type, and SchemaProvider types described by
// themselves. Each named struct type becomes one entry of `$defs`, so
// recursive types are fine. Validate hooks (cross-field rules, value
// ranges) have no counterpart in the schema: the schema is the structure,
// Decode is the whole truth.
func Schema(v any, id, title string) (map[string]any, error) {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil, fmt.Errorf("config: schema of nil")
	}
	var root map[string]any
	var err error
	if t.Kind() == reflect.Struct { // the document itself, inline
		root, err = g.structSchema(t)
	} else {
		root, err = g.schema(t)
	}
	if err != nil {
		return nil, err
	}
	s := map[string]any{"$schema": SchemaDialect, "$id": id, "title": title}
	for k, v := range root {
		s[k] = v
	}
	if len(g.defs) > 0 {
		s["$defs"] = g.defs
	}
	return s, nil
}

type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func nullable(s map[string]any) map[string]any {
	if t, ok := s["type"].(string); ok && len(s) == 1 {
		return map[string]any{"type": []string{t, "null"}}
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

func (g *schemaGen) schema(t reflect.Type) (map[string]any, error) {
	if t.Kind() == reflect.Pointer {
		s, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	}
	if t.Implements(schemaProviderType) {
		return reflect.Zero(t).Interface().(SchemaProvider).JSONSchema(), nil
	}
	if reflect.PointerTo(t).Implements(schemaProviderType) {
		return reflect.New(t).Interface().(SchemaProvider).JSONSchema(), nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil, fmt.Errorf("config: schema: %s decodes itself but does not implement SchemaProvider", t)
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return map[string]any{"type": "string"}, nil
	}
	if t == numberType {
		return map[string]any{"type": "number"}, nil
	}
	switch t.Kind() {
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Struct:
		return g.structRef(t)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("config: schema: map key type %s", t.Key())
		}
		e, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": e}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": []string{"string", "array", "null"}, "contentEncoding": "base64"}, nil
		}
		e, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []string{"array", "null"}, "items": e}, nil
	case reflect.Array:
		e, err := g.schema(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": e, "minItems": t.Len(), "maxItems": t.Len()}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := map[string]any{"type": "integer"}
		if bits := t.Bits(); bits < 64 {
			s["minimum"] = -(int64(1) << (bits - 1))
			s["maximum"] = int64(1)<<(bits-1) - 1
		}
		return s, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s := map[string]any{"type": "integer", "minimum": 0}
		if bits := t.Bits(); bits < 64 {
			s["maximum"] = uint64(1)<<bits - 1
		}
		return s, nil
	case reflect.Float32:
		return map[string]any{"type": "number", "minimum": -math.MaxFloat32, "maximum": math.MaxFloat32}, nil
	case reflect.Float64:
		return map[string]any{"type": "number"}, nil
	}
	return nil, fmt.Errorf("config: schema: unsupported Go type %s", t)
}

// structRef describes a struct once under $defs and refers to it.
func (g *schemaGen) structRef(t reflect.Type) (map[string]any, error) {
	if t.Name() == "" {
		return g.structSchema(t)
	}
	name, ok := g.names[t]
	if !ok {
		name = defName(t, g.names)
		g.names[t] = name
		g.defs[name] = true // placeholder: a recursive type refers to itself
		s, err := g.structSchema(t)
		if err != nil {
			return nil, err
		}
		g.defs[name] = s
	}
	return map[string]any{"$ref": "#/$defs/" + name}, nil
}

// defName is the type's package and name ("jwtauth.Provider"), unique.
func defName(t reflect.Type, taken map[reflect.Type]string) string {
	pkg := t.PkgPath()
	pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
	name := pkg + "." + t.Name()
	for _, n := range taken {
		if n == name {
			return name + "_" + fmt.Sprint(len(taken))
		}
	}
	return name
}

func (g *schemaGen) structSchema(t reflect.Type) (map[string]any, error) {
	fields := cachedFields(t)
	props := make(map[string]any, len(fields.names))
	for _, name := range fields.names {
		f := fields.byName[name]
		ft := t.FieldByIndex(f.index).Type
		s, err := g.schema(ft)
		if err != nil {
			return nil, fmt.Errorf("%w (field %s.%s)", err, t, name)
		}
		if f.enum != nil {
			s = map[string]any{"type": "string", "enum": f.enum}
		}
		props[name] = s
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(fields.required) > 0 {
		s["required"] = fields.required
	}
	return s, nil
}

// JSONSchema describes a duration string: what time.ParseDuration reads,
// without a sign.
func (Duration) JSONSchema() map[string]any {
	return map[string]any{
		"type":        "string",
		"pattern":     `^(0|\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`,
		"description": `a duration such as "1.5s", "300ms" or "1h30m"`,
	}
}

// MarshalSchema renders a schema as indented JSON with a final newline.
func MarshalSchema(s map[string]any) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
