// Package headerview is a request's header map as the upstream would get it
// now: read from the host once per request and kept up to date in place as
// the plugin changes headers, so no stage reads them all again and every
// stage sees the values the upstream will (a claim header set by the JWT
// stage, never the client's forged copy).
package headerview

import (
	"strings"

	"github.com/apiguard/apiguard/internal/canon"
)

// View is one request's header view. Names are lower case; repeated headers
// are joined as canon.JoinHeaders joins them. The zero View holds nothing.
type View struct {
	m map[string]string
	// pairs are headers as read, turned into m on first use: most requests
	// of most configurations never need the map.
	pairs [][2]string
}

// Keep starts the view from headers read (and changed) elsewhere.
func (v *View) Keep(pairs [][2]string) { v.m, v.pairs = nil, pairs }

// Drop forgets the view, so the next Map reads the headers from the host:
// after a change the host refused, the view can no longer tell what the
// upstream will get.
func (v *View) Drop() { v.m, v.pairs = nil, nil }

// Map is the view, read with read when nothing is held. A failed read is
// not kept: it must not pass for a request without headers.
func (v *View) Map(read func() ([][2]string, error)) map[string]string {
	if m := v.Held(); m != nil {
		return m
	}
	all, err := read()
	if err != nil {
		return map[string]string{}
	}
	v.m = canon.JoinHeaders(all)
	return v.m
}

// Held is the view if one is held, nil otherwise; it never reads.
func (v *View) Held() map[string]string {
	if v.m == nil && v.pairs != nil {
		v.m, v.pairs = canon.JoinHeaders(v.pairs), nil
	}
	return v.m
}

// Every change the host accepted to the request headers is made to the view
// too, as Envoy makes it to its header map. Without a view there is nothing
// to update: the next Map reads the headers from the host.

// Remove records proxy_remove_header_map_value: every value of name goes.
func (v *View) Remove(name string) {
	if m := v.Held(); m != nil {
		delete(m, strings.ToLower(name))
	}
}

// Replace records proxy_replace_header_map_value: name has one value.
func (v *View) Replace(name, value string) {
	if m := v.Held(); m != nil {
		m[strings.ToLower(name)] = value
	}
}

// Add records proxy_add_header_map_value: one more value of name, joined
// after those already there as canon.JoinHeaders joins repeats.
func (v *View) Add(name, value string) {
	m := v.Held()
	if m == nil {
		return
	}
	name = strings.ToLower(name)
	prev, ok := m[name]
	if !ok {
		m[name] = value
		return
	}
	sep := ","
	if name == "cookie" {
		sep = "; "
	}
	m[name] = prev + sep + value
}
