package inventory

import (
	"bytes"

	"github.com/apiguard/apiguard/internal/respfilter"
)

var _ respfilter.Inspector = (*Response)(nil)

// Kept records a value the response filter keeps (respfilter.Inspector),
// so a filtered route is inventoried and classified in the filter's own
// pass, and answers the policy of its classes: mask or deny.
func (r *Response) Kept(path []byte, key string, kind byte, content []byte) respfilter.Verdict {
	p := r.collapsedPath(path)
	if kind == '"' && bytes.IndexByte(content, '\\') >= 0 {
		content = unescape(make([]byte, 0, len(content)), content)
	}
	if len(content) > maxValueBytes {
		content = content[:maxValueBytes] // classified by its prefix, as Observer does
	}
	switch r.value(p, key, kind, content) {
	case Mask:
		return respfilter.InspectMask
	case Deny:
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}

// collapsedPath maps a path of the filter (keys as they are) to the
// inventory's (data-like keys as "*"), through a cache: the elements of an
// array repeat the same paths.
func (r *Response) collapsedPath(raw []byte) []byte {
	if c, ok := r.collapsed[unsafeString(raw)]; ok {
		return c
	}
	p, _ := collapse(nil, string(raw))
	if r.collapsed == nil {
		r.collapsed = make(map[string][]byte, 16)
	}
	if len(r.collapsed) < MaxResponseFields*4 {
		r.collapsed[string(raw)] = p
	}
	return p
}
