package respfilter

import (
	"unsafe"

	"github.com/tidwall/gjson"
)

// The filter as it was before the single pass of scan.go: a depth check,
// gjson.ValidBytes, then gjson's ForEach over every container. It is the
// reference the single pass is fuzzed and benchmarked against
// (FuzzFilterMatchesReference, BenchmarkFilterReference).

// refFilterDocument is filterDocument's reference: same contract.
func (a *allowlist) refFilterDocument(dst, doc []byte, opts filterOptions, rep *Report) ([]byte, error) {
	// gjson validates recursively, one Go frame per nesting level and with no
	// bound, so the depth is checked first.
	if !depthWithin(doc, opts.maxDepth) {
		return dst, errDepth
	}
	if !gjson.ValidBytes(doc) {
		return dst, errMalformed
	}
	// Zero-copy view: every Raw and key Str gjson returns is a substring of
	// doc, and nothing below retains them past this call.
	s := unsafe.String(unsafe.SliceData(doc), len(doc))
	r := runPool.Get().(*filterRun)
	r.out, r.mask, r.rep = dst, opts.mask, rep
	if cap(r.memo) < a.nodes {
		r.memo = make([][]string, a.nodes)
	}
	r.memo = r.memo[:a.nodes]
	r.refValue(trimSpace(s), a.root, 0)
	out := r.out
	r.finishPaths()
	r.release()
	return out, nil
}

// value writes raw, the JSON text of a value the allowlist n reaches.
func (r *filterRun) refValue(raw string, n *node, at int32) {
	switch {
	case n.keep:
		r.out = append(r.out, raw...)
	case raw[0] == '{':
		r.refObject(raw, n, at)
	case raw[0] == '[':
		r.refArray(raw, n, at)
	default:
		// A scalar where the allowlist only names deeper fields (or the
		// document itself is a scalar): it is not allowed.
		r.drop()
		if r.mask != nil {
			r.out = append(r.out, r.mask...)
		} else {
			r.out = append(r.out, "null"...)
		}
	}
}

func (r *filterRun) refObject(raw string, n *node, at int32) {
	r.out = append(r.out, '{')
	first := true
	parentLen := len(r.path)
	gjson.Result{Type: gjson.JSON, Raw: raw}.ForEach(func(key, val gjson.Result) bool {
		c, cat := n.memberAt(key.Str, at)
		if c != nil && c.keep {
			r.out = r.sep(first)
			r.out = append(r.out, key.Raw...)
			r.out = append(r.out, ':')
			r.out = append(r.out, val.Raw...)
			first = false
			return true
		}
		switch {
		case c == nil || !isContainer(val.Raw):
			r.dropMember(at, parentLen, key.Str)
			if r.mask == nil {
				return true
			}
			r.out = r.sep(first)
			r.out = append(r.out, key.Raw...)
			r.out = append(r.out, ':')
			r.out = append(r.out, r.mask...)
		default:
			r.out = r.sep(first)
			r.out = append(r.out, key.Raw...)
			r.out = append(r.out, ':')
			r.path = r.pushKey(parentLen, key.Str)
			r.refValue(val.Raw, c, cat)
		}
		first = false
		return true
	})
	r.path = r.path[:parentLen]
	r.out = append(r.out, '}')
}

func (r *filterRun) refArray(raw string, n *node, at int32) {
	r.out = append(r.out, '[')
	first := true
	parentLen := len(r.path)
	r.path = r.pushSeg(parentLen, "#")
	c, cat := n.anyElem, n.elemAt(at)
	recorded := false // every element has the same path
	gjson.Result{Type: gjson.JSON, Raw: raw}.ForEach(func(_, val gjson.Result) bool {
		if c == nil || (!c.keep && !isContainer(val.Raw)) {
			if recorded {
				r.count()
			} else {
				r.drop()
				recorded = true
			}
			if r.mask == nil {
				return true
			}
			r.out = r.sep(first)
			r.out = append(r.out, r.mask...)
		} else {
			r.out = r.sep(first)
			r.refValue(val.Raw, c, cat)
		}
		first = false
		return true
	})
	r.path = r.path[:parentLen]
	r.out = append(r.out, ']')
}

func isContainer(raw string) bool {
	return len(raw) > 0 && (raw[0] == '{' || raw[0] == '[')
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}
