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
	if kind == '"' && bytes.IndexByte(content, '\\') >= 0 {
		r.unesc = unescape(r.unesc[:0], content)
		content = r.unesc
	}
	if len(content) > maxValueBytes {
		content = content[:maxValueBytes] // classified by its prefix, as Observer does
	}
	var p Policy
	if n := r.predicted(path); n >= 0 {
		p = r.update(n, key, kind, content)
	} else if i, ok := r.byRaw[unsafeString(path)]; ok {
		// A path seen before in this response (array elements repeat
		// theirs): one lookup.
		r.fields[i].raw = r.rawOf(i, path)
		p = r.update(i, key, kind, content)
	} else {
		c, ok := r.collapsed[unsafeString(path)]
		if !ok {
			b, _ := collapse(nil, string(path))
			c = string(b)
			if r.collapsed == nil || len(r.collapsed) >= maxInterned {
				r.collapsed = make(map[string]string, 64)
			}
			r.collapsed[string(path)] = c
		}
		p = r.value(unsafeBytes(c), key, kind, content)
		if i, ok := r.index[c]; ok {
			r.fields[i].raw = r.rawOf(i, path)
		}
		if i, ok := r.index[c]; ok && len(r.byRaw) < MaxResponseFields*4 {
			if r.byRaw == nil {
				r.byRaw = make(map[string]int, 16)
			}
			r.byRaw[c] = i // keyed by an interned string: no allocation
			if string(path) != c {
				r.byRaw[string(path)] = i
			}
		}
	}
	switch p {
	case Mask:
		return respfilter.InspectMask
	case Deny:
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}

// predicted is the field expected next if the filter's path is its, else -1.
func (r *Response) predicted(path []byte) int {
	if r.last < 0 {
		return -1
	}
	l := &r.fields[r.last]
	if n := l.next; n >= 0 && r.fields[n].raw == unsafeString(path) {
		return int(n)
	}
	if n := l.alt; n >= 0 && r.fields[n].raw == unsafeString(path) {
		return int(n)
	}
	return -1
}

// rawOf returns the filter's path of field i as a string, reusing the one
// it has when equal (the usual case: no allocation).
func (r *Response) rawOf(i int, path []byte) string {
	if f := &r.fields[i]; f.raw == unsafeString(path) {
		return f.raw
	} else if f.Path == unsafeString(path) {
		return f.Path
	}
	return string(path)
}
