package inventory

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Export is the inventory as exported (the audit sink's inventory events,
// devproxy's /apiguard/inventory) and as the allowlist suggester reads it.
type Export struct {
	Routes []RouteExport `json:"routes"`
}

// RouteExport is one route's fields.
type RouteExport struct {
	Route  string        `json:"route"`
	Fields []FieldExport `json:"fields"`
}

// FieldExport is one field path with its JSON types and classes.
type FieldExport struct {
	Path    string   `json:"path"`
	Types   []string `json:"types"`
	Classes []string `json:"classes,omitempty"`
}

func newExport(byRoute map[string][]FieldExport) Export {
	var e Export
	for route, fields := range byRoute {
		slices.SortFunc(fields, func(a, b FieldExport) int { return strings.Compare(a.Path, b.Path) })
		e.Routes = append(e.Routes, RouteExport{Route: route, Fields: fields})
	}
	slices.SortFunc(e.Routes, func(a, b RouteExport) int { return strings.Compare(a.Route, b.Route) })
	return e
}

// Parts splits the export into pieces whose JSON is at most maxBytes each
// (a field alone over it is left out and counted): an audit event has a
// size limit. Each piece holds fields of one route.
func (e Export) Parts(maxBytes int) (parts []RouteExport, dropped int) {
	for _, r := range e.Routes {
		cur := RouteExport{Route: r.Route}
		size := len(r.Route) + 32
		for _, f := range r.Fields {
			n := len(f.Path) + 48
			for _, c := range f.Classes {
				n += len(c) + 3
			}
			if n+len(r.Route)+32 > maxBytes {
				dropped++
				continue
			}
			if size+n > maxBytes && len(cur.Fields) > 0 {
				parts = append(parts, cur)
				cur = RouteExport{Route: r.Route}
				size = len(r.Route) + 32
			}
			cur.Fields = append(cur.Fields, f)
			size += n
		}
		if len(cur.Fields) > 0 {
			parts = append(parts, cur)
		}
	}
	return parts, dropped
}

// ReadExport reads an inventory in any of the forms apiguard writes: the
// JSON document of /apiguard/inventory, or audit events, one JSON object a
// line (the log sink; other lines are skipped), whose "inventory" member
// holds a piece of a route. Pieces of one route are merged.
func ReadExport(r io.Reader) (Export, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Export{}, fmt.Errorf("inventory: read: %w", err)
	}
	var whole Export
	if json.Unmarshal(data, &whole) == nil && whole.Routes != nil {
		return merge(whole.Routes), nil
	}
	var pieces []RouteExport
	for _, line := range strings.Split(string(data), "\n") {
		i := strings.IndexByte(line, '{')
		if i < 0 || !strings.Contains(line, `"inventory"`) {
			continue
		}
		var ev struct {
			Inventory *RouteExport `json:"inventory"`
		}
		if json.Unmarshal([]byte(line[i:]), &ev) == nil && ev.Inventory != nil {
			pieces = append(pieces, *ev.Inventory)
		}
	}
	if pieces == nil {
		return Export{}, fmt.Errorf("inventory: no inventory found (an /apiguard/inventory document, or audit events with an \"inventory\" member)")
	}
	return merge(pieces), nil
}

// merge unions pieces by route and path.
func merge(pieces []RouteExport) Export {
	type acc struct {
		types, classes []string
	}
	byRoute := map[string]map[string]*acc{}
	for _, p := range pieces {
		m := byRoute[p.Route]
		if m == nil {
			m = map[string]*acc{}
			byRoute[p.Route] = m
		}
		for _, f := range p.Fields {
			a := m[f.Path]
			if a == nil {
				a = &acc{}
				m[f.Path] = a
			}
			a.types = append(a.types, f.Types...)
			a.classes = append(a.classes, f.Classes...)
		}
	}
	out := map[string][]FieldExport{}
	for route, m := range byRoute {
		for path, a := range m {
			slices.Sort(a.types)
			slices.Sort(a.classes)
			out[route] = append(out[route], FieldExport{Path: path, Types: slices.Compact(a.types), Classes: slices.Compact(a.classes)})
		}
	}
	return newExport(out)
}
