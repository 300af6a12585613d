package wasmhost

import (
	"encoding/binary"
	"net/http"
	"strings"
)

// Header maps. Mirrors Envoy context.cc Context::getMap / getHeaderMapValue /
// addHeaderMapValue / replaceHeaderMapValue / removeHeaderMapValue /
// getHeaderMapPairs / setHeaderMapPairs, and cpp-host
// include/proxy-wasm/pairs_util.h for the serialisation.

const (
	fnGetHeaderMapValue     = "proxy_get_header_map_value"
	fnAddHeaderMapValue     = "proxy_add_header_map_value"
	fnReplaceHeaderMapValue = "proxy_replace_header_map_value"
	fnRemoveHeaderMapValue  = "proxy_remove_header_map_value"
	fnGetHeaderMapPairs     = "proxy_get_header_map_pairs"
	fnSetHeaderMapPairs     = "proxy_set_header_map_pairs"
	fnGetHeaderMapSize      = "proxy_get_header_map_size"
)

// Limits of cpp-host include/proxy-wasm/limits.h.
const (
	pairsMaxBytes = 1024 * 1024
	pairsMaxCount = 1024
)

// headerMap is an ordered multimap with lower-case keys, as Envoy's
// HeaderMap. Keys taken from net/http are lower-cased into the owning
// stream's arena, so building a map allocates nothing per header.
type headerMap struct {
	kv      []headerKV
	present bool // the map exists
	live    bool // Envoy still points at it: the guest may read and change it
	dirty   bool // changed by the guest
}

type headerKV struct{ k, v string }

func (h *headerMap) reset() {
	clear(h.kv)
	h.kv = h.kv[:0]
	h.present, h.live, h.dirty = false, false, false
}

func (h *headerMap) add(k, v string) { h.kv = append(h.kv, headerKV{k, v}) }

// get returns the first value of key. key must be lower case.
func (h *headerMap) get(key string) (string, bool) {
	for i := range h.kv {
		if h.kv[i].k == key {
			return h.kv[i].v, true
		}
	}
	return "", false
}

// getBytes is get for a key in guest memory; the comparison does not allocate.
func (h *headerMap) getBytes(key []byte) (string, bool) {
	for i := range h.kv {
		if h.kv[i].k == string(key) {
			return h.kv[i].v, true
		}
	}
	return "", false
}

func (h *headerMap) remove(key string) {
	out := h.kv[:0]
	for _, e := range h.kv {
		if e.k != key {
			out = append(out, e)
		}
	}
	clear(h.kv[len(out):])
	h.kv = out
}

// replace sets key to a single value, keeping the position of the first one.
func (h *headerMap) replace(key, val string) {
	for i := range h.kv {
		if h.kv[i].k == key {
			h.kv[i].v = val
			rest := h.kv[i+1:]
			out := rest[:0]
			for _, e := range rest {
				if e.k != key {
					out = append(out, e)
				}
			}
			clear(rest[len(out):])
			h.kv = h.kv[:i+1+len(out)]
			return
		}
	}
	h.add(key, val)
}

// serializedSize is the size of the pairs encoding: u32 count, then
// count x (u32 keyLen, u32 valLen), then each key and value NUL-terminated.
func (h *headerMap) serializedSize() int {
	n := 4 + 8*len(h.kv)
	for _, e := range h.kv {
		n += len(e.k) + len(e.v) + 2
	}
	return n
}

func (h *headerMap) serializeTo(dst []byte) {
	binary.LittleEndian.PutUint32(dst, uint32(len(h.kv)))
	off := 4
	for _, e := range h.kv {
		binary.LittleEndian.PutUint32(dst[off:], uint32(len(e.k)))
		binary.LittleEndian.PutUint32(dst[off+4:], uint32(len(e.v)))
		off += 8
	}
	for _, e := range h.kv {
		off += copy(dst[off:], e.k)
		dst[off] = 0
		off++
		off += copy(dst[off:], e.v)
		dst[off] = 0
		off++
	}
}

// decodePairs parses the pairs encoding, as cpp-host PairsUtil::toPairs: any
// malformed input yields ok=false, never a panic. Keys and values are copied.
func decodePairs(b []byte) (pairs []headerKV, ok bool) {
	if len(b) == 0 {
		return nil, true
	}
	if len(b) < 4 || len(b) > pairsMaxBytes {
		return nil, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n > pairsMaxCount || uint64(n)*8 > uint64(len(b)-4) {
		return nil, false
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	pairs = make([]headerKV, 0, n)
	for i := uint32(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+1 > uint64(len(data)) {
			return nil, false
		}
		k := string(data[:kl])
		if data[kl] != 0 {
			return nil, false
		}
		data = data[kl+1:]
		if vl+1 > uint64(len(data)) {
			return nil, false
		}
		v := string(data[:vl])
		if data[vl] != 0 {
			return nil, false
		}
		data = data[vl+1:]
		pairs = append(pairs, headerKV{k, v})
	}
	return pairs, true
}

// encodePairs is the inverse of decodePairs, for tests and callouts.
func encodePairs(pairs []headerKV) []byte {
	h := headerMap{kv: pairs}
	b := make([]byte, h.serializedSize())
	h.serializeTo(b)
	return b
}

// lowerInto appends the lower-case form of s to arena and returns it as a
// string aliasing the arena, plus the grown arena. When s is already lower
// case it is returned as is.
func lowerInto(arena []byte, s string) (string, []byte) {
	lower := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			lower = false
			break
		}
	}
	if lower {
		return s, arena
	}
	if cap(arena)-len(arena) < len(s) {
		// A new arena: strings handed out earlier keep the old one alive.
		arena = make([]byte, 0, max(2*cap(arena), len(s), 1024))
	}
	start := len(arena)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		arena = append(arena, c)
	}
	return unsafeString(arena[start:]), arena
}

// fillFromHTTP appends every header of h with lower-case keys.
func (m *headerMap) fillFromHTTP(h http.Header, arena []byte) []byte {
	for k, vs := range h {
		var lk string
		lk, arena = lowerInto(arena, k)
		for _, v := range vs {
			m.add(lk, v)
		}
	}
	return arena
}

// toHTTP copies the non-pseudo headers into dst with canonical keys.
func (m *headerMap) toHTTP(dst http.Header) {
	for _, e := range m.kv {
		if strings.HasPrefix(e.k, ":") {
			continue
		}
		ck := http.CanonicalHeaderKey(e.k)
		dst[ck] = append(dst[ck], e.v)
	}
}

func headerFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnGetHeaderMapValue, params: i32s(5), results: resultI32, fn: hostGetHeaderMapValue, doc: spec + fnGetHeaderMapValue},
		{name: fnAddHeaderMapValue, params: i32s(5), results: resultI32, fn: hostAddHeaderMapValue, doc: spec + fnAddHeaderMapValue},
		{name: fnReplaceHeaderMapValue, params: i32s(5), results: resultI32, fn: hostReplaceHeaderMapValue, doc: spec + fnReplaceHeaderMapValue},
		{name: fnRemoveHeaderMapValue, params: i32s(3), results: resultI32, fn: hostRemoveHeaderMapValue, doc: spec + fnRemoveHeaderMapValue},
		{name: fnGetHeaderMapPairs, params: i32s(3), results: resultI32, fn: hostGetHeaderMapPairs, doc: spec + fnGetHeaderMapPairs},
		{name: fnSetHeaderMapPairs, params: i32s(3), results: resultI32, fn: hostSetHeaderMapPairs, doc: spec + fnSetHeaderMapPairs},
		{name: fnGetHeaderMapSize, params: i32s(2), results: resultI32, fn: hostGetHeaderMapSize, doc: spec + fnGetHeaderMapSize},
	}
}

// constMap mirrors Envoy Context::getConstMap, what reads see: a stream's
// maps only while Envoy still holds its pointer to them (headerMap.live), the
// access-log copies during on_log, and the callout response of the root
// context. nil means Envoy's nullptr; logPhase tells get_header_map_value to
// answer NOT_FOUND rather than BAD_ARGUMENT, as Envoy does in on_log.
func (v *vm) constMap(t mapType) (h *headerMap, logPhase bool) {
	c := v.context()
	if c == nil {
		return nil, false
	}
	switch t {
	case mapHTTPCallResponseHeaders, mapHTTPCallResponseTrailer:
		// Envoy Context::getConstMap reads rootContext()->http_call_response_:
		// the response stays on the root context, so it is readable after the
		// guest switched the effective context to a stream (the Go SDK does
		// that before running a callout's callback).
		root := v.contexts[c.rootID]
		if root == nil || root.callResp == nil {
			return nil, false
		}
		if t == mapHTTPCallResponseHeaders {
			return &root.callResp.headers, false
		}
		return &root.callResp.trailers, false
	}
	s := c.s
	if s == nil {
		return nil, false
	}
	if s.logPhase {
		// Context::log points access_log_request_headers_ and the response
		// maps at the stream's final headers; request trailers have no
		// access-log copy.
		switch t {
		case mapRequestHeaders:
			return presentOrNil(&s.reqHeaders), true
		case mapResponseHeaders:
			return presentOrNil(&s.respHeaders), true
		case mapResponseTrailers:
			return presentOrNil(&s.respTrailers), true
		}
		return nil, true
	}
	return s.liveMap(t), false
}

// mutableMap mirrors Envoy Context::getMap, what writes and
// get_header_map_size use: only a stream's live maps. Callout response maps
// have no case there, so they are read-only (BAD_ARGUMENT).
func (v *vm) mutableMap(t mapType) *headerMap {
	c := v.context()
	if c == nil || c.s == nil {
		return nil
	}
	s := c.s
	// In the last body callback of a direction without trailers, Envoy's
	// getMap adds them (addDecodedTrailers / addEncodedTrailers), so the
	// plugin can send trailers the client or upstream did not.
	switch {
	case t == mapRequestTrailers && s.reqBodyVisible && s.bodyEOS && !s.reqTrailers.present:
		s.reqTrailers.present, s.reqTrailers.live = true, true
	case t == mapResponseTrailers && s.respBodyVisible && s.bodyEOS && !s.respTrailers.present:
		s.respTrailers.present, s.respTrailers.live = true, true
	}
	return s.liveMap(t)
}

// liveMap returns a stream map Envoy still points at (request_headers_,
// request_trailers_, response_headers_, response_trailers_), or nil once
// the pointer was reset: after the callback that received the map returned
// Continue, or for request maps after proxy_continue_stream.
func (s *stream) liveMap(t mapType) *headerMap {
	var h *headerMap
	switch t {
	case mapRequestHeaders:
		h = &s.reqHeaders
	case mapRequestTrailers:
		h = &s.reqTrailers
	case mapResponseHeaders:
		h = &s.respHeaders
	case mapResponseTrailers:
		h = &s.respTrailers
	default:
		return nil
	}
	if !h.present || !h.live {
		return nil
	}
	return h
}

func presentOrNil(h *headerMap) *headerMap {
	if !h.present {
		return nil
	}
	return h
}

func hasUpper(b []byte) bool {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// lowerKey copies a guest key into a lower-case Go string.
func lowerKey(b []byte) string { return strings.ToLower(string(b)) }

// hostGetHeaderMapValue implements proxy_get_header_map_value.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_header_map_value
func hostGetHeaderMapValue(v *vm, s []uint64) {
	key, ok := v.read(uint32(s[1]), uint32(s[2]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	t := mapType(s[0])
	if t > mapMax {
		s[0] = uint64(statusBadArgument)
		return
	}
	h, logPhase := v.constMap(t)
	if h == nil {
		// Envoy Context::getHeaderMapValue: a map that is not available is
		// BAD_ARGUMENT, except in on_log, where it is NOT_FOUND.
		if logPhase {
			s[0] = uint64(statusNotFound)
		} else {
			s[0] = uint64(statusBadArgument)
		}
		return
	}
	val, found := h.getBytes(key)
	if !found && hasUpper(key) {
		val, found = h.get(lowerKey(key))
	}
	if !found {
		s[0] = uint64(statusNotFound)
		return
	}
	s[0] = uint64(v.copyOutString(uint32(s[3]), uint32(s[4]), val))
}

func (v *vm) keyValue(s []uint64) (h *headerMap, k, val string, st status) {
	t := mapType(s[0])
	if t > mapMax {
		return nil, "", "", statusBadArgument
	}
	key, ok1 := v.read(uint32(s[1]), uint32(s[2]))
	value, ok2 := v.read(uint32(s[3]), uint32(s[4]))
	if !ok1 || !ok2 {
		return nil, "", "", statusInvalidMemoryAccess
	}
	if h = v.mutableMap(t); h == nil {
		return nil, "", "", statusBadArgument
	}
	return h, lowerKey(key), string(value), statusOK
}

// hostAddHeaderMapValue implements proxy_add_header_map_value.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_add_header_map_value
func hostAddHeaderMapValue(v *vm, s []uint64) {
	h, k, val, st := v.keyValue(s)
	if st == statusOK {
		h.add(k, val)
		h.dirty = true
	}
	s[0] = uint64(st)
}

// hostReplaceHeaderMapValue implements proxy_replace_header_map_value.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_replace_header_map_value
func hostReplaceHeaderMapValue(v *vm, s []uint64) {
	h, k, val, st := v.keyValue(s)
	if st == statusOK {
		h.replace(k, val)
		h.dirty = true
	}
	s[0] = uint64(st)
}

// hostRemoveHeaderMapValue implements proxy_remove_header_map_value.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_remove_header_map_value
func hostRemoveHeaderMapValue(v *vm, s []uint64) {
	key, ok := v.read(uint32(s[1]), uint32(s[2]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	h, st := v.mapArg(s[0])
	if st != statusOK {
		s[0] = uint64(st)
		return
	}
	h.remove(lowerKey(key))
	h.dirty = true
	s[0] = uint64(statusOK)
}

// hostGetHeaderMapPairs implements proxy_get_header_map_pairs. The pairs are
// serialised straight into one guest allocation; an empty map is 0/0.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_header_map_pairs
func hostGetHeaderMapPairs(v *vm, s []uint64) {
	t := mapType(s[0])
	if t > mapMax {
		s[0] = uint64(statusBadArgument)
		return
	}
	// Envoy Context::getHeaderMapPairs: a map that is not available reads
	// as an empty list, with OK.
	h, _ := v.constMap(t)
	if h == nil || len(h.kv) == 0 {
		s[0] = uint64(v.copyOutFn(uint32(s[1]), uint32(s[2]), 0, nil))
		return
	}
	s[0] = uint64(v.copyOutFn(uint32(s[1]), uint32(s[2]), uint32(h.serializedSize()), h.serializeTo))
}

// hostSetHeaderMapPairs implements proxy_set_header_map_pairs: the map is
// replaced by the given pairs.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_header_map_pairs
func hostSetHeaderMapPairs(v *vm, s []uint64) {
	data, ok := v.read(uint32(s[1]), uint32(s[2]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	h, st := v.mapArg(s[0])
	if st != statusOK {
		s[0] = uint64(st)
		return
	}
	pairs, _ := decodePairs(data) // malformed input clears the map, as toPairs returns {}
	clear(h.kv)
	h.kv = h.kv[:0]
	for _, p := range pairs {
		h.add(strings.ToLower(p.k), p.v)
	}
	h.dirty = true
	s[0] = uint64(statusOK)
}

// hostGetHeaderMapSize implements proxy_get_header_map_size (the byte size
// of the serialised map).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_header_map_size
func hostGetHeaderMapSize(v *vm, s []uint64) {
	h, st := v.mapArg(s[0])
	if st != statusOK {
		s[0] = uint64(st)
		return
	}
	if !v.writeU32(uint32(s[1]), uint32(h.serializedSize())) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// mapArg resolves the map-type argument of a header-map host call that
// changes the map or reads its size, as Envoy Context::getMap does:
// BAD_ARGUMENT for an unknown type and for a map the context cannot change
// (not live any more, not a stream, a callout response).
func (v *vm) mapArg(arg uint64) (*headerMap, status) {
	t := mapType(arg)
	if t > mapMax {
		return nil, statusBadArgument
	}
	h := v.mutableMap(t)
	if h == nil {
		return nil, statusBadArgument
	}
	return h, statusOK
}
