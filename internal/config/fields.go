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
	// renamedFrom lists the keys this one replaced (`config:"renamed_from=a|b"`)
	// and renamedValues the enum values it replaced, old to new
	// (`config:"renamed_values=old>new|old2>new2"`). Before 1.0 both are
	// refused with the new spelling; the README's compatibility policy says
	// how they are handled from 1.0 on.
	renamedFrom   []string
	renamedValues map[string]string
}

// parseConfigTag reads a `config` struct tag into f: comma-separated
// options "required", "enum=a|b|c", "renamed_from=old|older" and
// "renamed_values=old>new|older>new".
func parseConfigTag(tag string, f *field) {
	for _, opt := range strings.Split(tag, ",") {
		switch {
		case opt == "required":
			f.required = true
		case strings.HasPrefix(opt, "enum="):
			f.enum = strings.Split(strings.TrimPrefix(opt, "enum="), "|")
		case strings.HasPrefix(opt, "renamed_from="):
			f.renamedFrom = strings.Split(strings.TrimPrefix(opt, "renamed_from="), "|")
		case strings.HasPrefix(opt, "renamed_values="):
			f.renamedValues = map[string]string{}
			for _, pair := range strings.Split(strings.TrimPrefix(opt, "renamed_values="), "|") {
				old, repl, _ := strings.Cut(pair, ">")
				f.renamedValues[old] = repl
			}
		}
	}
}

type structFields struct {
	byName   map[string]field
	names    []string          // for "did you mean" suggestions, in declaration order
	required []string          // keys that must be present, in declaration order
	renamed  map[string]string // old key -> its new spelling
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
			f := field{name: name, index: idx, depth: depth}
			parseConfigTag(sf.Tag.Get("config"), &f)
			all = append(all, f)
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
			for _, old := range f.renamedFrom {
				if sf.renamed == nil {
					sf.renamed = map[string]string{}
				}
				sf.renamed[old] = f.name
			}
			ambiguous[f.name] = true // listed once
		}
	}
	return sf
}
