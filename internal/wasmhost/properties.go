package wasmhost

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Properties. Mirrors Envoy context.cc Context::getProperty /
// setProperty and the attribute encoding of
// source/extensions/filters/common/expr: the path is segments joined by
// NUL; strings come back raw, ints as 8-byte little-endian, bools as one
// byte, timestamps as int64 nanoseconds; maps as header pairs.

const (
	fnGetProperty = "proxy_get_property"
	fnSetProperty = "proxy_set_property"
)

func propertyFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnGetProperty, params: i32s(4), results: resultI32, fn: hostGetProperty, doc: spec + fnGetProperty},
		{name: fnSetProperty, params: i32s(4), results: resultI32, fn: hostSetProperty, doc: spec + fnSetProperty},
	}
}

// hostGetProperty implements proxy_get_property(path, value_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_property
func hostGetProperty(v *vm, s []uint64) {
	path, ok := v.read(uint32(s[0]), uint32(s[1]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	// The path aliases guest memory: property only reads it, before the
	// copy-out below can run the guest allocator.
	val, found := v.property(unsafeString(path))
	if !found {
		s[0] = uint64(statusNotFound)
		return
	}
	s[0] = uint64(v.copyOutString(uint32(s[2]), uint32(s[3]), val))
}

// hostSetProperty implements proxy_set_property(path, value); the value is
// readable back through proxy_get_property in the same stream. In a root
// context it is NOT_FOUND, as in Envoy.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_property
func hostSetProperty(v *vm, s []uint64) {
	path, ok1 := v.readString(uint32(s[0]), uint32(s[1]))
	val, ok2 := v.read(uint32(s[2]), uint32(s[3]))
	if !ok1 || !ok2 {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	c := v.context()
	if c == nil || c.s == nil {
		// Envoy Context::setProperty: a context without a stream has no
		// filter state to write to.
		s[0] = uint64(statusNotFound)
		return
	}
	if c.props == nil {
		c.props = map[string][]byte{}
	}
	c.props[path] = append([]byte(nil), val...)
	s[0] = uint64(statusOK)
}

func i64prop(n int64) string { return string(le64(uint64(n))) }

func boolProp(b bool) string {
	if b {
		return "\x01"
	}
	return "\x00"
}

// property resolves a NUL-joined path in the current context.
func (v *vm) property(path string) (string, bool) {
	c := v.context()
	if c != nil {
		if val, ok := c.props[path]; ok {
			return string(val), true
		}
	}
	cfg := &v.p.cfg
	if path == "xds\x00route_name" && cfg.RouteName != nil && c != nil && c.s != nil {
		// Envoy's xds.route_name: the name of the route picked for the
		// stream (source/extensions/filters/common/expr/context.cc
		// XDSWrapper), "" for a route without one.
		return cfg.RouteName(c.s.r), true
	}
	if val, ok := v.p.props[path]; ok {
		return string(val), true
	}
	switch path {
	case "plugin_name":
		return cfg.Name, true
	case "plugin_root_id":
		return cfg.RootID, true
	case "plugin_vm_id":
		return cfg.VMID, true
	}
	if c == nil || c.s == nil {
		return "", false
	}
	st := c.s
	r := st.r
	first, rest, _ := strings.Cut(path, "\x00")
	switch first {
	case "source":
		return addrProperty(r.RemoteAddr, rest)
	case "destination":
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			return addrProperty(a.String(), rest)
		}
		return "", false
	case "connection":
		if rest == "mtls" {
			return boolProp(r.TLS != nil && len(r.TLS.PeerCertificates) > 0), true
		}
		return "", false
	case "request":
		return st.requestProperty(rest)
	case "response":
		return st.responseProperty(rest)
	}
	return "", false
}

func addrProperty(addr, field string) (string, bool) {
	switch field {
	case "address":
		return addr, true
	case "port":
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return "", false
		}
		n, err := strconv.ParseInt(port, 10, 64)
		if err != nil {
			return "", false
		}
		return i64prop(n), true
	}
	return "", false
}

func (s *stream) requestProperty(field string) (string, bool) {
	h := &s.reqHeaders
	switch field {
	case "path":
		return h.get(":path")
	case "url_path":
		p, ok := h.get(":path")
		if i := strings.IndexAny(p, "?#"); i >= 0 {
			p = p[:i]
		}
		return p, ok
	case "host":
		return h.get(":authority")
	case "scheme":
		return h.get(":scheme")
	case "method":
		return h.get(":method")
	case "id":
		return h.get("x-request-id")
	case "referer":
		return h.get("referer")
	case "useragent":
		return h.get("user-agent")
	case "protocol":
		return s.r.Proto, true
	case "time":
		return i64prop(s.start.UnixNano()), true
	case "headers":
		return string(encodePairs(h.kv)), true
	}
	if name, ok := strings.CutPrefix(field, "headers\x00"); ok {
		return h.get(strings.ToLower(name))
	}
	return "", false
}

func (s *stream) responseProperty(field string) (string, bool) {
	h := &s.respHeaders
	switch field {
	case "code":
		if st, ok := h.get(":status"); ok {
			if n, err := strconv.Atoi(st); err == nil {
				return i64prop(int64(n)), true
			}
		}
		return "", false
	case "code_details":
		if s.details != "" {
			return s.details, true
		}
		if h.present {
			return "via_upstream", true
		}
		return "", false
	case "headers":
		if !h.present {
			return "", false
		}
		return string(encodePairs(h.kv)), true
	}
	if name, ok := strings.CutPrefix(field, "headers\x00"); ok && h.present {
		return h.get(strings.ToLower(name))
	}
	return "", false
}
