package config

import (
	"reflect"
	"strings"
	"sync"
)

// field is a JSON-visible struct field, possibly promoted from an embedded
// struct.
type field struct {
	name     string
	index    []int
	depth    int
	required bool     // tagged `config:"required"`: the key must be present
	enum     []string // tagged `config:"enum=a|b"`: the string values allowed
}

// parseConfigTag reads a `config` struct tag: comma-separated options,
// "required" and "enum=a|b|c".
func parseConfigTag(tag string) (required bool, enum []string) {
	for _, opt := range strings.Split(tag, ",") {
		switch {
		case opt == "required":
			required = true
		case strings.HasPrefix(opt, "enum="):
			enum = strings.Split(strings.TrimPrefix(opt, "enum="), "|")
		}
	}
	return required, enum
}

type structFields struct {
	byName   map[string]field
	names    []string // for "did you mean" suggestions, in declaration order
	required []string // keys that must be present, in declaration order
}

var fieldCache sync.Map // reflect.Type -> *structFields

func cachedFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

// typeFields lists the fields encoding/json would use: exported fields named
// by their `json` tag (or Go name), skipping `json:"-"`, with the fields of
// untagged embedded structs promoted. A field tagged `config:"required"`
// must be present in the document; a string field tagged
// `config:"enum=a|b"` must hold one of those values. A shallower field hides a deeper one of
// the same name; two at the same depth hide each other, as in encoding/json.
func typeFields(t reflect.Type) *structFields {
	var all []field
	var walk func(t reflect.Type, index []int, depth int, visited map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, depth int, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		defer delete(visited, t)
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx, depth+1, visited)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			required, enum := parseConfigTag(sf.Tag.Get("config"))
			all = append(all, field{name: name, index: idx, depth: depth, required: required, enum: enum})
		}
	}
	walk(t, nil, 0, map[reflect.Type]bool{})

	sf := &structFields{byName: make(map[string]field, len(all))}
	ambiguous := map[string]bool{}
	for _, f := range all {
		prev, ok := sf.byName[f.name]
		switch {
		case !ok && !ambiguous[f.name]:
			sf.byName[f.name] = f
		case ok && f.depth < prev.depth:
			sf.byName[f.name] = f
		case ok && f.depth == prev.depth:
			delete(sf.byName, f.name)
			ambiguous[f.name] = true
		}
	}
	for _, f := range all {
		if g, ok := sf.byName[f.name]; ok && g.depth == f.depth && !ambiguous[f.name] {
			sf.names = append(sf.names, f.name)
			if f.required {
				sf.required = append(sf.required, f.name)
			}
			ambiguous[f.name] = true // listed once
		}
	}
	return sf
}
